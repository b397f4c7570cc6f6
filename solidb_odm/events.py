"""What happened on the wire: one event per request, for logs, tracing and test assertions.

Both executors report every request they send (driver commands, batches,
HTTP calls, begin/commit/rollback) to the observers registered here, after
the answer came back or the request failed. The query log, OpenTelemetry
tracing and ``solidb_odm.testing.capture_queries`` are such observers.

While no observer is registered, an executor does not even read the clock:
the cost of instrumentation that is off is one truthiness test per request.

Observers are process-wide or, through :func:`observing`, limited to the
calling context (a test, a request): an observer added with ``observing``
sees the requests made in that context and in the tasks and thread-pool
copies started from it, and nobody else's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote


@dataclass(slots=True)
class RequestEvent:
    """One request and its outcome.

    ``operation`` is the driver command (``query``, ``get``, ``insert``,
    ``batch``, ``begin_transaction``...) or ``"HTTP GET"`` and the like.
    ``statement`` is the SDBQL text with its ``@name`` placeholders, never
    the values; ``bind_names`` are those names. ``bind_vars`` holds the
    values, for observers that were asked to show them.
    """

    operation: str
    database: str | None
    collection: str | None
    statement: str | None
    bind_names: tuple[str, ...]
    bind_vars: Mapping[str, Any] | None
    duration: float
    rows: int | None
    host: str
    port: int
    tx_id: str | None
    error: BaseException | None = None
    #: commands carried by a batch (their operations), empty otherwise
    batch: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        return self.error is not None


class Observer(Protocol):
    """Anything called with one ``RequestEvent``: a function is enough.

    It runs on the thread or task that sent the request, right after the
    answer (or the failure), so it should be quick; an exception it raises
    is logged on the ``solidb_odm`` logger and the request goes on.

        def slow(event: RequestEvent) -> None:
            if event.duration > 0.1:
                print(f"{event.operation} took {event.duration:.3f}s: {event.statement}")

        add_observer(slow)
    """

    def __call__(self, event: RequestEvent) -> None: ...


_global: list[Observer] = []
_scoped: ContextVar[tuple[Observer, ...]] = ContextVar("solidb_odm_observers", default=())
_scoped_count = 0
_count_lock = threading.Lock()
active = False
"""True while any observer is registered anywhere: the executors' one test per request."""


def _refresh() -> None:
    global active
    active = bool(_global) or _scoped_count > 0


def add_observer(observer: Observer) -> None:
    """Report every request of the process to ``observer`` from now on."""
    _global.append(observer)
    _refresh()


def remove_observer(observer: Observer) -> None:
    """Stop reporting to ``observer`` (added by ``add_observer``); unknown ones are ignored."""
    if observer in _global:
        _global.remove(observer)
    _refresh()


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Report to ``observer`` the requests made in this context until the block ends."""
    global _scoped_count
    token = _scoped.set((*_scoped.get(), observer))
    with _count_lock:
        _scoped_count += 1
        _refresh()
    try:
        yield observer
    finally:
        with _count_lock:
            _scoped_count -= 1
            _refresh()
        try:
            _scoped.reset(token)
        except ValueError:  # left in another context: remove by value
            _scoped.set(tuple(o for o in _scoped.get() if o is not observer))
        _refresh()


def observers() -> tuple[Observer, ...]:
    """The observers that see a request made now, in this context."""
    scoped = _scoped.get()
    return (*_global, *scoped) if scoped else tuple(_global)


def describe(message: Mapping[str, Any], tx_id: str | None) -> dict[str, Any]:
    """The event fields a driver command carries (a transaction's wrapper is looked through)."""
    inner = message
    if message.get("cmd") == "transaction_command" and isinstance(message.get("command"), Mapping):
        inner = message["command"]
        tx_id = tx_id or message.get("tx_id")
    bind_vars = inner.get("bind_vars")
    if not isinstance(bind_vars, Mapping):
        bind_vars = None
    batch: tuple[str, ...] = ()
    database = inner.get("database")
    if inner.get("cmd") == "batch":
        commands = inner.get("commands") or []
        for command in commands:  # a batch names no database: its commands do
            if database is None and isinstance(command, Mapping):
                target = command.get("command") if command.get("cmd") == "transaction_command" \
                    else command
                if isinstance(target, Mapping):
                    database = target.get("database")
        batch = tuple(
            str((c.get("command") or c).get("cmd") if c.get("cmd") == "transaction_command"
                else c.get("cmd"))
            for c in commands if isinstance(c, Mapping)
        )
    return {
        "operation": str(inner.get("cmd")),
        "database": database,
        "collection": inner.get("collection") or (
            inner.get("name") if "collection" in str(inner.get("cmd")) else None),
        "statement": inner.get("sdbql"),
        "bind_names": tuple(sorted(bind_vars)) if bind_vars else (),
        "bind_vars": bind_vars,
        "tx_id": tx_id or message.get("tx_id"),
        "batch": batch,
    }


def describe_http(method: str, path: str, body: Any, database: str | None) -> dict[str, Any]:
    """The event fields of an HTTP request; opening a query cursor is reported as its query."""
    parts = path.split("/")
    if (method == "POST" and len(parts) == 5 and parts[1:3] == ["_api", "database"]
            and parts[4] == "cursor" and isinstance(body, Mapping)):
        bind_vars = body.get("bindVars")
        if not isinstance(bind_vars, Mapping):
            bind_vars = None
        return {"operation": "query", "database": unquote(parts[3]), "statement": body.get("query"),
                "bind_names": tuple(sorted(bind_vars)) if bind_vars else (),
                "bind_vars": bind_vars}
    return {"operation": f"HTTP {method}", "database": database, "statement": path,
            "bind_names": (), "bind_vars": None}


def rows_of(data: Any, count: int | None) -> int | None:
    """Rows an answer returned: the length of a list, 1 for a document, else the server's count."""
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict) and count is None:
        return 1
    return count


def emit(event: RequestEvent) -> None:
    """Hand ``event`` to every observer that sees it; an observer's failure is not the caller's."""
    for observer in observers():
        try:
            observer(event)
        except Exception:  # instrumentation must never break a request
            logging.getLogger("solidb_odm").exception("a request observer failed")


# -- units of work ---------------------------------------------------------------
#
# A unit is a span of work above the requests, such as a session's commit:
# the layer doing it wraps it in ``with events.unit("commit", database=...)``
# and the requests sent inside are its frames. A unit observer (the
# OpenTelemetry one opens a parent span) gets ``enter(name, attributes)``, whose
# return value comes back to its ``exit(token, error)``. Unit observers are
# process-wide; while none is registered, ``unit()`` hands back one shared
# no-op context manager.


class UnitObserver(Protocol):
    """Told when a unit of work (a session's ``commit`` or ``flush``) starts and ends.

    The requests sent in between are the unit's frames, which is how a tracer
    opens one parent span around them. ``enter(name, attributes)`` is called
    as the unit starts, and what it returns comes back to ``exit(token,
    error)`` as it ends, with the exception that ended it, if any.
    """

    def enter(self, name: str, attributes: Mapping[str, Any]) -> Any: ...

    def exit(self, token: Any, error: BaseException | None) -> None: ...


_units: list[UnitObserver] = []
_no_unit = nullcontext()


def add_unit_observer(observer: UnitObserver) -> None:
    """Report every unit of work of the process to ``observer`` from now on."""
    _units.append(observer)


def remove_unit_observer(observer: UnitObserver) -> None:
    """Stop reporting units to ``observer``; unknown ones are ignored."""
    if observer in _units:
        _units.remove(observer)


class _Unit:
    __slots__ = ("_attributes", "_entered", "_name")

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self._name = name
        self._attributes = attributes
        self._entered: list[tuple[UnitObserver, Any]] = []

    def __enter__(self) -> None:
        for observer in tuple(_units):
            try:
                self._entered.append((observer, observer.enter(self._name, self._attributes)))
            except Exception:
                logging.getLogger("solidb_odm").exception("a unit observer failed")

    def __exit__(self, exc_type: type[BaseException] | None, error: BaseException | None,
                 traceback: Any) -> None:
        while self._entered:
            observer, token = self._entered.pop()
            try:
                observer.exit(token, error)
            except Exception:
                logging.getLogger("solidb_odm").exception("a unit observer failed")


def unit(name: str, **attributes: Any) -> AbstractContextManager[None]:
    """A context manager around a unit of work, reported to the unit observers."""
    if not _units:
        return _no_unit
    return _Unit(name, attributes)
