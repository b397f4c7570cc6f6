"""A query log through stdlib ``logging``: one record per request, on ``solidb_odm.queries``.

``enable_query_log()`` turns it on for the whole process, ``query_log()``
for the calling context only (a test, one web request, and the tasks it
starts). Each record's message reads like::

    query mydb 0.9 ms 1 row: FOR d IN users FILTER d.age > @min RETURN d

and its structured fields are one dict in ``record.solidb`` (see
:class:`QueryLog`). Levels:

- an ordinary request is logged at ``level`` (``DEBUG`` unless told otherwise);
- a failed request at ``error_level`` (``INFO``): many failures are answers
  the caller expected and handled (a ``get`` of a missing key, an
  ``AlreadyExistsError`` caught by ``sync()``), and the caller got the error
  anyway, so it is not a warning by itself;
- a request that took ``slow_threshold`` seconds or more at ``WARNING``;

and a record takes the highest level that applies. Bind values never appear
unless ``include_bind_values=True``: the statement keeps its ``@name``
placeholders and the record lists the names.

While neither is on, the only cost is the executors' one boolean test per
request (``events.active``). While it is on but the logger is not enabled for
a record's level, the observer compares the duration with the threshold,
asks the logger and returns: no message, no dict.

The session: the query log sits beside ``events``, below the session layer,
and does not know sessions. A session's writes (its flush, its commit) run
in the session's transaction, so their records carry its transaction id in
``tx_id``; that id is what ties records to one unit of work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import events

__all__ = [
    "LOGGER_NAME",
    "QueryLog",
    "disable_query_log",
    "enable_query_log",
    "query_log",
]

#: the logger the query log writes to unless given another
LOGGER_NAME = "solidb_odm.queries"

#: how much of one bind value's repr a message shows (the record's dict has it all)
_VALUE_REPR_LIMIT = 200


class QueryLog:
    """An observer (see ``solidb_odm.events``) that logs each request it sees.

    ``record.solidb`` holds:

    ``operation``
        the driver command (``query``, ``get``, ``batch``...) or ``HTTP GET``...
    ``database``, ``collection``
        where it ran, when the command names them (a query names no collection)
    ``statement``
        the SDBQL text with its ``@name`` placeholders (the path for HTTP calls)
    ``bind_names``
        the bind variables' names, sorted
    ``bind_vars``
        their values: only with ``include_bind_values=True``, else absent
    ``duration``
        seconds, from sending the request to having its answer or error
    ``rows``
        rows the answer returned, when it says (``None`` otherwise)
    ``node``
        ``"host:port"`` of the server that answered
    ``tx_id``
        the transaction the request ran in, if any
    ``batch``
        for a batch, the operations of its commands
    ``slow``
        whether ``duration`` reached ``slow_threshold``
    ``error_type``, ``error``
        the exception's class name and text for a failed request, else ``None``
    """

    __slots__ = ("error_level", "include_bind_values", "level", "logger", "slow_threshold")

    def __init__(
        self,
        *,
        level: int = logging.DEBUG,
        slow_threshold: float | None = None,
        include_bind_values: bool = False,
        logger: logging.Logger | str | None = None,
        error_level: int = logging.INFO,
    ) -> None:
        if slow_threshold is not None and slow_threshold < 0:
            raise ValueError("slow_threshold is a number of seconds, 0 or more")
        self.level = level
        self.error_level = error_level
        self.slow_threshold = slow_threshold
        self.include_bind_values = include_bind_values
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or LOGGER_NAME)
        self.logger = logger

    def __repr__(self) -> str:
        return (f"QueryLog(logger={self.logger.name!r}, level={logging.getLevelName(self.level)},"
                f" slow_threshold={self.slow_threshold!r},"
                f" include_bind_values={self.include_bind_values!r})")

    def level_of(self, event: events.RequestEvent) -> int:
        """The level ``event`` is logged at."""
        level = self.level
        if event.error is not None and self.error_level > level:
            level = self.error_level
        threshold = self.slow_threshold
        if threshold is not None and event.duration >= threshold and level < logging.WARNING:
            level = logging.WARNING
        return level

    def __call__(self, event: events.RequestEvent) -> None:
        level = self.level_of(event)
        if not self.logger.isEnabledFor(level):
            return  # the lazy path: nothing is built
        fields = self.fields(event)
        logger = self.logger
        # A template and its arguments: the text is formatted only if a handler emits the
        # record. Made here rather than by logger.log(), which would walk the stack for a
        # caller that is always this method.
        logger.handle(logger.makeRecord(
            logger.name, level, "(unknown file)", 0, "%s%s %.1f ms%s%s",
            (event.operation, _namespace(event), event.duration * 1000,
             _outcome(event, fields), _tail(event, fields)),
            None, "(unknown function)", {"solidb": fields}))

    def fields(self, event: events.RequestEvent) -> dict[str, Any]:
        """The structured fields of ``event``'s record (``record.solidb``)."""
        threshold = self.slow_threshold
        error = event.error
        fields: dict[str, Any] = {
            "operation": event.operation,
            "database": event.database,
            "collection": event.collection,
            "statement": event.statement,
            "bind_names": list(event.bind_names),
            "duration": event.duration,
            "rows": event.rows,
            "node": f"{event.host}:{event.port}",
            "tx_id": event.tx_id,
            "batch": list(event.batch),
            "slow": threshold is not None and event.duration >= threshold,
            "error_type": None if error is None else type(error).__name__,
            "error": None if error is None else str(error),
        }
        if self.include_bind_values:
            fields["bind_vars"] = dict(event.bind_vars) if event.bind_vars else {}
        return fields


def _namespace(event: events.RequestEvent) -> str:
    if event.database and event.collection:
        return f" {event.database}.{event.collection}"
    name = event.database or event.collection
    return f" {name}" if name else ""


def _outcome(event: events.RequestEvent, fields: Mapping[str, Any]) -> str:
    parts = []
    if fields["slow"]:
        parts.append(" SLOW")
    if event.error is not None:
        parts.append(f" failed {fields['error_type']}: {fields['error']}")
    elif event.rows is not None:
        parts.append(f" {event.rows} row" if event.rows == 1 else f" {event.rows} rows")
    if event.batch:
        parts.append(f" [{', '.join(event.batch)}]")
    if event.tx_id:
        parts.append(f" tx={event.tx_id}")
    return "".join(parts)


def _tail(event: events.RequestEvent, fields: Mapping[str, Any]) -> str:
    if not event.statement:
        return ""
    tail = ": " + " ".join(event.statement.split())  # one line; the field keeps the text
    values = fields.get("bind_vars")
    if values:
        shown = []
        for name in sorted(values):
            text = repr(values[name])
            if len(text) > _VALUE_REPR_LIMIT:
                text = text[:_VALUE_REPR_LIMIT] + "..."
            shown.append(f"@{name}={text}")
        tail += " with " + ", ".join(shown)
    return tail


_lock = threading.Lock()
_enabled: QueryLog | None = None


def enable_query_log(
    *,
    level: int = logging.DEBUG,
    slow_threshold: float | None = None,
    include_bind_values: bool = False,
    logger: logging.Logger | str | None = None,
    error_level: int = logging.INFO,
) -> QueryLog:
    """Log every request of the process from now on; returns the observer.

    Calling it again replaces the previous process-wide log (one record per
    request, never two). It does not configure handlers or the logger's
    level: that stays with the application's logging setup, e.g.
    ``logging.getLogger("solidb_odm.queries").setLevel(logging.DEBUG)``.
    """
    global _enabled
    log = QueryLog(level=level, slow_threshold=slow_threshold,
                   include_bind_values=include_bind_values, logger=logger,
                   error_level=error_level)
    with _lock:
        if _enabled is not None:
            events.remove_observer(_enabled)
        events.add_observer(log)
        _enabled = log
    return log


def disable_query_log() -> None:
    """Stop the process-wide query log (context-scoped ``query_log()`` blocks go on)."""
    global _enabled
    with _lock:
        if _enabled is not None:
            events.remove_observer(_enabled)
            _enabled = None


@contextmanager
def query_log(
    *,
    level: int = logging.DEBUG,
    slow_threshold: float | None = None,
    include_bind_values: bool = False,
    logger: logging.Logger | str | None = None,
    error_level: int = logging.INFO,
) -> Iterator[QueryLog]:
    """Log the requests made in this context (and tasks started from it) until the block ends.

    Works in ``async def`` code too (``with query_log(): await ...``): the
    scope is the current task's context, so other tasks' requests are not
    logged by it.
    """
    log = QueryLog(level=level, slow_threshold=slow_threshold,
                   include_bind_values=include_bind_values, logger=logger,
                   error_level=error_level)
    with events.observing(log):
        yield log
