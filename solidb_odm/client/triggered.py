"""Writes to collections with triggers go where the server fires them.

solidb 2.6.0 fires a collection's triggers only for writes made through its
HTTP document API; a driver ``insert``/``update``/``delete``, a ``bulk_insert``,
an SDBQL ``INSERT``/``UPDATE``/``REMOVE`` and every staged transaction write
are silent. So each client keeps, per database, the set of collections that
have enabled triggers (one ``list_triggers`` call, refreshed every
``refresh_seconds`` and dropped by this client's own trigger changes), and the
document operations in ``commands.py`` ask :func:`watching` before they write:

- no triggers (the usual case): the driver command goes as before; the check
  is two dictionary lookups, no round trip;
- triggers, outside a transaction: the write goes over HTTP, which fires them;
- triggers, inside a transaction (a session commit, ``begin_transaction``) or
  in SDBQL: it cannot fire them without giving up all-or-nothing, so the write
  goes through over the driver and :class:`TriggersNotFiredWarning` names the
  triggers, or, with ``strict``, :class:`TriggersNotFiredError` is raised
  before anything is sent.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from time import monotonic as _monotonic
from typing import Any, Dict, List, Optional, Tuple

from .. import exceptions as exc
from .. import protocol
from ..ops import Command, HttpRequest, Op, call, current_transaction, http
from .http import path as http_path
from .state import ClientState

JSON = Dict[str, Any]

#: Trigger names by watched collection, for one database.
Watched = Dict[str, Tuple[str, ...]]

#: The driver commands that write one document.
DOCUMENT_WRITES = frozenset({"insert", "update", "delete"})


class TriggersNotFiredWarning(UserWarning):
    """A write reached a collection with enabled triggers by a path that does not fire them."""


class TriggersNotFiredError(exc.UnsupportedError):
    """Raised instead of :class:`TriggersNotFiredWarning` when routing is strict; nothing was sent."""


class TriggerRouting:
    """One client's view of which collections have triggers, and its policy about them.

    ``route``: send writes to such collections over HTTP (default True).
    ``strict``: raise :class:`TriggersNotFiredError` for a write that cannot
    fire them (session commits, transactions, SDBQL) instead of warning.
    ``refresh_seconds``: how long a database's trigger list is trusted;
    triggers changed by *another* client are seen after at most this long.
    """

    __slots__ = ("_cache", "refresh_seconds", "route", "strict")

    def __init__(self, *, route: bool = True, strict: bool = False,
                 refresh_seconds: float = 10.0) -> None:
        self.route = route
        self.strict = strict
        self.refresh_seconds = refresh_seconds
        self._cache: Dict[str, Tuple[float, Watched]] = {}

    def known(self, database: str) -> Optional[Watched]:
        """The cached trigger map of ``database``, or None when it must be (re)loaded."""
        entry = self._cache.get(database)
        if entry is None or entry[0] < _monotonic():
            return None
        return entry[1]

    def store(self, database: str, triggers: Sequence[Mapping[str, Any]]) -> Watched:
        """Remember the enabled triggers of ``database`` (as ``list_triggers`` answers them)."""
        watched: Dict[str, List[str]] = {}
        for trigger in triggers:
            if trigger.get("enabled", True) and isinstance(trigger.get("collection"), str):
                watched.setdefault(trigger["collection"], []).append(str(trigger.get("name", "?")))
        frozen = {name: tuple(sorted(names)) for name, names in watched.items()}
        self._cache[database] = (_monotonic() + self.refresh_seconds, frozen)
        return frozen

    def invalidate(self, database: Optional[str] = None) -> None:
        """Forget one database's triggers (all databases with None); the next write reloads them."""
        if database is None:
            self._cache.clear()
        else:
            self._cache.pop(database, None)


def routing_of(state: ClientState) -> TriggerRouting:
    """The routing of the client that owns ``state`` (made on first use)."""
    routing = state.triggers
    if routing is None:
        routing = state.triggers = TriggerRouting()
    assert isinstance(routing, TriggerRouting)
    return routing


def watched_op(state: ClientState, database: str) -> Op[Watched]:
    """The trigger map of ``database``: from the cache, or one ``list_triggers`` call."""
    routing = routing_of(state)
    found = routing.known(database)
    if found is not None:
        return found
    try:
        reply = yield from call(Command.of("list_triggers", retry=True, tx=None, database=database))
    except (exc.NotFoundError, exc.PermissionDeniedError):
        # No such database (the write itself will say so), or a caller who
        # may not list triggers: nothing to route.
        return routing.store(database, [])
    data = reply.data if isinstance(reply.data, dict) else {}
    return routing.store(database, list(data.get("triggers") or []))


def cached(state: ClientState, database: str, collection: str) -> Optional[Tuple[str, ...]]:
    """The trigger names on ``collection`` if the cache knows (the hot path: no I/O), else None.

    A plain function, not an operation, so that a write to a collection
    without triggers pays two dictionary lookups and a clock read, no more.
    """
    routing: Optional[TriggerRouting] = state.triggers
    if routing is None:
        return () if collection.startswith("_") else None
    if not routing.route:
        return ()
    entry = routing._cache.get(database)
    if entry is None or entry[0] < _monotonic():
        return () if collection.startswith("_") else None
    return entry[1].get(collection, ())


def watching(state: ClientState, database: str, collection: str) -> Op[Tuple[str, ...]]:
    """The names of the enabled triggers on ``collection`` (empty: write as usual)."""
    found = cached(state, database, collection)
    if found is not None:
        return found
    return (yield from watched_op(state, database)).get(collection, ())


def not_fired(state: ClientState, collection: str, triggers: Sequence[str], path: str) -> None:
    """Warn (or, when strict, raise) that a write to ``collection`` will not fire ``triggers``."""
    names = ", ".join(repr(t) for t in triggers)
    message = (
        f"{path} to collection {collection!r} does not fire its triggers ({names}): "
        "solidb 2.6.0 fires triggers only for writes made outside transactions through its "
        "HTTP document API"
    )
    if routing_of(state).strict:
        raise TriggersNotFiredError(message + "; nothing was sent (trigger routing is strict)")
    warnings.warn(message + "; the write goes through without them", TriggersNotFiredWarning,
                  stacklevel=4)


def in_transaction_op(state: ClientState, database: str, collection: str,
                      triggers: Sequence[str]) -> Op[bool]:
    """True (after warning) when the caller's transaction holds this write; False: route it."""
    if (yield from current_transaction()) is None:
        return False
    not_fired(state, collection, triggers, "a write inside a transaction")
    return True


# -- the HTTP document API (fires triggers) ---------------------------------------


def _doc_path(database: str, collection: str, *key: str) -> str:
    return http_path("_api", "database", database, "document", collection, *key)


def http_insert(database: str, collection: str, document: JSON, key: Optional[str]) -> Op[JSON]:
    """Insert over HTTP; the stored document."""
    body = dict(document) if key is None else {**document, "_key": key}
    response = yield from http(HttpRequest("POST", _doc_path(database, collection), body))
    return dict(response.body or {})


def http_update(database: str, collection: str, key: str, document: JSON, *,
                replace: bool = False) -> Op[JSON]:
    """Merge into (or, with ``replace``, replace) a document over HTTP; the stored document."""
    query = {"replace": "true"} if replace else None
    response = yield from http(HttpRequest("PUT", _doc_path(database, collection, key),
                                           dict(document), query))
    return dict(response.body or {})


def http_delete(database: str, collection: str, key: str) -> Op[None]:
    """Delete a document over HTTP."""
    yield from http(HttpRequest("DELETE", _doc_path(database, collection, key)))


def http_write(message: Mapping[str, Any]) -> Op[protocol.Reply]:
    """One driver-shaped document write (``insert``/``update``/``delete``) over HTTP, as a Reply."""
    cmd, db, coll = message["cmd"], message["database"], message["collection"]
    if cmd == "insert":
        stored = yield from http_insert(db, coll, dict(message.get("document") or {}),
                                        message.get("key"))
    elif cmd == "update":
        stored = yield from http_update(db, coll, message["key"], dict(message["document"]))
    else:
        yield from http_delete(db, coll, message["key"])
        return protocol.Reply(status="ok")
    return protocol.Reply(status="ok", data=stored)


# -- batches and SDBQL --------------------------------------------------------------


def batch_plan(state: ClientState, commands: Sequence[Mapping[str, Any]]
               ) -> Op[List[Tuple[str, ...]]]:
    """For each command of a batch, the triggers its write would have to fire (or ())."""
    plan: List[Tuple[str, ...]] = []
    for command in commands:
        if command.get("cmd") in DOCUMENT_WRITES or command.get("cmd") == "bulk_insert":
            db, coll = command.get("database"), command.get("collection")
            if isinstance(db, str) and isinstance(coll, str):
                found = cached(state, db, coll)
                plan.append(found if found is not None else (yield from watching(state, db, coll)))
                continue
        plan.append(())
    return plan


_WRITE_WORD = re.compile(r"\b(?:INSERT|UPDATE|REPLACE|REMOVE|UPSERT)\b", re.IGNORECASE)
_TARGET = re.compile(r"\b(?:IN|INTO)\s+`?([A-Za-z][A-Za-z0-9_\-]*)`?", re.IGNORECASE)
#: SDBQL text -> the collections it may write (texts repeat: the ODM compiles the same ones)
_targets_cache: Dict[str, Tuple[str, ...]] = {}


def sdbql_targets(sdbql: str) -> Tuple[str, ...]:
    """Collections an SDBQL text may write: those after ``IN``/``INTO`` past its first write word.

    A cheap reading, not a parse: it can name a collection the query only
    reads, never miss one it writes.
    """
    found = _targets_cache.get(sdbql)
    if found is None:
        first = _WRITE_WORD.search(sdbql)
        found = () if first is None else tuple(
            dict.fromkeys(m.group(1) for m in _TARGET.finditer(sdbql, first.end()))
        )
        if len(_targets_cache) > 1024:
            _targets_cache.clear()
        _targets_cache[sdbql] = found
    return found


def check_sdbql(state: ClientState, database: str, sdbql: str) -> Op[None]:
    """Warn (or raise, when strict) if an SDBQL write reaches a collection with triggers."""
    targets = sdbql_targets(sdbql)
    if not targets:
        return
    for collection in targets:
        triggers = yield from watching(state, database, collection)
        if triggers:
            not_fired(state, collection, triggers, "an SDBQL write")
