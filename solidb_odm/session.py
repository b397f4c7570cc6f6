"""The unit of work: ``with db.session() as session:`` and ``atomic()``.

A session keeps one Python object per stored document (the identity map),
notices what changed on each (field by field, including in-place changes to
lists, dicts and nested models), and writes all of it inside one server
transaction:

- ``with`` begins a server transaction; leaving the block commits it, and
  an exception anywhere in the block rolls it back: none of its writes land;
- ``flush()`` stages the pending inserts, updates and deletes in the
  transaction in ONE round trip (documents before the edges pointing at them,
  deletes last); commit applies everything as one atomic batch on the server;
- another connection never sees staged writes (read committed);
- optimistic concurrency: a document the session updates or deletes must
  still have the revision (``_rev``) it was loaded with; otherwise the flush
  or the commit raises ``ConflictError`` and nothing is written.

The server's reads see committed data only, so a session overlays its own
pending changes on query results (``session.query(Model)``) in Python.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
    cast,
    overload,
)

from . import _context, events, protocol
from . import exceptions as exc
from ._state import state_of
from .models import Document
from .ops import Op
from .query.evaluator import matcher, order_documents
from .query.queryset import QuerySet

if TYPE_CHECKING:
    from types import TracebackType

    from .database import Database

D = TypeVar("D", bound=Document)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
Identity = Tuple[str, str]
"""``(collection, key)``: how the identity map names a stored document."""

FLUSH_CHUNK_BYTES = 8 * 1024 * 1024
"""A flush splits its writes into frames of about this size, well under the 16 MiB protocol limit."""


class ObjectState(str, enum.Enum):
    """Where an object stands relative to a session (see ``Session.state``)."""

    TRANSIENT = "transient"
    """Not in any session, never saved."""
    PENDING = "pending"
    """Added; it will be inserted at the next flush."""
    PERSISTENT = "persistent"
    """In the identity map, with no unsaved changes."""
    DIRTY = "dirty"
    """In the identity map, with changes not flushed yet."""
    DELETED = "deleted"
    """Marked for deletion (or deleted in this transaction)."""
    DETACHED = "detached"
    """Saved, but this session does not track it."""


def current_session(db: Optional[Database] = None) -> Optional[Session]:
    """The innermost session open in the caller's context (on ``db``, if given).

    The context is the request's: asyncio tasks and thread-pool context copies
    see the sessions open where they were started; another thread does not.
    """
    return cast(Optional[Session], _context.current_session_for(db))


class Session:
    """A unit of work over one database, made by ``db.session()`` and used as a ``with`` block.

    It keeps one object per stored document, notices what changed, and writes
    all of it in one server transaction when the block ends, or none of it if
    the block raises. With ``optimistic`` (the default) each flush also checks
    that what it updates or deletes still has the revision it was loaded with.

        with db.session() as session:
            ann = session.get(User, key)
            ann.age += 1
            session.add(User(name="Bob"))
        # committed here: both writes, or neither
    """

    def __init__(self, db: Database, *, optimistic: bool = True) -> None:
        self.db = db
        self.optimistic = optimistic
        self._identity: Dict[Identity, Document] = {}
        self._new: Dict[int, Document] = {}
        self._deleted: Dict[Identity, Document] = {}
        #: committed revision each tracked document was loaded with
        self._base_rev: Dict[Identity, Optional[str]] = {}
        #: inserted in the open transaction, not committed yet
        self._staged_inserts: Dict[Identity, Document] = {}
        self._staged_deletes: Dict[Identity, Document] = {}
        self._tx_id: Optional[str] = None
        self._failed = False
        self._savepoints: List[Dict[str, Any]] = []
        #: ids of the objects a flush in progress is sending
        self._claimed: set[int] = set()
        self._sync_lock = threading.RLock()
        self._closed = False
        #: "sync" or "async": which executor runs this session's transaction
        self._mode: Optional[str] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # -- running operations ---------------------------------------------------
    #
    # A session's transaction is pinned to one connection of one executor,
    # chosen by the first call that talks to the server (blocking or async).
    # A call from the other mode is carried over to it rather than refused:
    # blocking code on another thread joins an async session through its
    # event loop, and async code runs a blocking session's work in a thread.

    def run(self, op: Op[T]) -> T:
        """Run an operation for this session, blocking."""
        if self._mode is None:
            self._mode = "sync"
        if self._mode == "sync":
            return self._run_serialised(op)
        loop = self._loop
        assert loop is not None
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise exc.SessionError(
                "this session was opened in async code: use the awaitable methods "
                "(asave(), acount(), acommit() ...) on its event loop"
            )
        return asyncio.run_coroutine_threadsafe(self.db.arun(op), loop).result()

    async def arun(self, op: Op[T]) -> T:
        """Run an operation for this session, awaitable."""
        if self._mode is None:
            self._mode = "async"
            self._loop = asyncio.get_running_loop()
        if self._mode == "async":
            if asyncio.get_running_loop() is not self._loop:
                raise exc.SessionError("this session belongs to another event loop")
            return await self.db.arun(op)
        return await asyncio.to_thread(self._run_serialised, op)

    def _run_serialised(self, op: Op[T]) -> T:
        """Blocking runs of one session take turns: threads sharing a session (a sync
        dependency's session used by tasks gathered in the endpoint) must not plan
        and flush at the same time."""
        with self._sync_lock:
            return self.db.run(op)

    # -- context management --------------------------------------------------

    def __enter__(self) -> Session:
        self.begin()
        _context.push_session(self)
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        # A framework may leave the block in another context than it entered
        # it (FastAPI's sync dependencies): removal by value is a no-op there.
        _context.remove_session(self)
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    async def __aenter__(self) -> Session:
        await self.abegin()
        _context.push_session(self)
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        _context.remove_session(self)
        try:
            if exc_type is None:
                await self.acommit()
            else:
                await self.arollback()
        finally:
            await self.aclose()

    def begin(self) -> Session:
        """Open the server transaction (``with`` does this for you)."""
        self._check_open()
        self.run(self._begin_op())
        return self

    async def abegin(self) -> Session:
        """:meth:`begin`, awaitable (``async with`` does this for you)."""
        self._check_open()
        await self.arun(self._begin_op())
        return self

    def _begin_op(self) -> Op[None]:
        if self._tx_id is None:
            # AUTO: the transaction also joins the caller's context, so raw
            # client calls inside the block run in it too.
            tx_id = yield from self.db.ops.begin_transaction(self.db.name)
            if self._tx_id is not None:  # another task of this session began one meanwhile
                yield from self.db.ops.rollback_transaction(tx_id)
                return
            self._tx_id = tx_id
            self._failed = False

    @property
    def in_transaction(self) -> bool:
        """Whether the session's server transaction is open (``with`` and ``begin()`` open it)."""
        return self._tx_id is not None

    @property
    def closed(self) -> bool:
        """Whether the session has ended; a closed session refuses further work."""
        return self._closed

    def close(self) -> None:
        """Roll back anything uncommitted and detach every object."""
        if self._tx_id is not None:
            self.rollback()
        self._forget_all()
        self._closed = True

    async def aclose(self) -> None:
        """:meth:`close`, awaitable."""
        if self._tx_id is not None:
            await self.arollback()
        self._forget_all()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise exc.SessionError("this session is closed")

    def _all_tracked(self) -> Iterator[Document]:
        yield from self._identity.values()
        yield from self._new.values()
        yield from self._deleted.values()

    # -- identity map ------------------------------------------------------------

    @staticmethod
    def _identity_of(obj: Document) -> Optional[Identity]:
        if obj.key is None:
            return None
        return (type(obj).collection_name(), obj.key)

    def adopt(self, obj: D) -> D:
        """Register a freshly loaded object; an object already tracked wins."""
        ident = self._identity_of(obj)
        if ident is None:
            return obj
        if ident in self._deleted or ident in self._staged_deletes:
            return obj  # the caller filters these out
        existing = self._identity.get(ident)
        if existing is not None:
            return cast(D, existing)
        self._identity[ident] = obj
        self._base_rev.setdefault(ident, obj.rev)
        state_of(obj).session = self
        return obj

    def get(self, model: Type[D], key: str) -> Optional[D]:
        """The document with this key (one object per key in this session), or None."""
        self._check_open()
        return self.run(self.get_op(model, key))

    async def aget(self, model: Type[D], key: str) -> Optional[D]:
        """:meth:`get`, awaitable."""
        self._check_open()
        return await self.arun(self.get_op(model, key))

    def get_op(self, model: Type[D], key: str) -> Op[Optional[D]]:
        """The operation behind ``get()`` and ``aget()``."""
        ident = (model.collection_name(), key)
        if ident in self._deleted or ident in self._staged_deletes:
            return None
        tracked = self._identity.get(ident)
        if tracked is not None:
            return cast(D, tracked)
        for obj in self._new.values():
            if isinstance(obj, model) and obj.key == key:
                return obj
        try:
            row = yield from self.db.ops.get(self.db.name, model.collection_name(), key)
        except exc.NotFoundError:
            return None
        return self.adopt(model.from_wire(row, self.db))

    def add(self, obj: Document) -> None:
        """Track ``obj``: a new one is inserted at the next flush."""
        self._check_open()
        state = state_of(obj)
        owner = state.session
        if owner is not None and owner is not self:
            raise exc.SessionError("this object belongs to another session; expunge it first")
        ident = self._identity_of(obj)
        if ident is not None and state.snapshot is not None and not state.deleted:  # persistent
            if ident in self._identity and self._identity[ident] is not obj:
                raise exc.SessionError(
                    f"another object for {ident[0]}/{ident[1]} is already in this session"
                )
            self._identity[ident] = obj
            self._base_rev.setdefault(ident, obj.rev)
        else:
            self._new[id(obj)] = obj
        state.session = self

    def add_all(self, objs: List[Document]) -> None:
        """``add()`` each of ``objs``."""
        for obj in objs:
            self.add(obj)

    def delete(self, obj: Document) -> None:
        """Delete ``obj`` at the next flush (deletes go last)."""
        self._check_open()
        if id(obj) in self._new:
            del self._new[id(obj)]
            state_of(obj).session = None
            return
        ident = self._identity_of(obj)
        if ident is None or not obj.is_persistent:
            raise exc.SessionError("only a saved document can be deleted")
        self._identity.pop(ident, None)
        self._base_rev.setdefault(ident, obj.rev)
        self._deleted[ident] = obj
        state_of(obj).session = self

    def expunge(self, obj: Document) -> None:
        """Stop tracking ``obj`` (its unflushed changes are forgotten by the session)."""
        self._new.pop(id(obj), None)
        ident = self._identity_of(obj)
        if ident is not None:
            if self._identity.get(ident) is obj:
                del self._identity[ident]
            if self._deleted.get(ident) is obj:
                del self._deleted[ident]
            self._base_rev.pop(ident, None)
        state_of(obj).session = None

    def refresh(self, obj: Document) -> None:
        """Reload ``obj`` from committed data, dropping its unflushed changes."""
        self.run(self._refresh_op(obj))

    async def arefresh(self, obj: Document) -> None:
        """:meth:`refresh`, awaitable."""
        await self.arun(self._refresh_op(obj))

    def _refresh_op(self, obj: Document) -> Op[None]:
        yield from obj.refresh_op(self.db)
        ident = self._identity_of(obj)
        if ident is not None:
            self._base_rev[ident] = obj.rev

    def state(self, obj: Document) -> ObjectState:
        """TRANSIENT, PENDING, PERSISTENT, DIRTY, DELETED or DETACHED."""
        if id(obj) in self._new:
            return ObjectState.PENDING
        ident = self._identity_of(obj)
        if ident is not None:
            if self._deleted.get(ident) is obj or self._staged_deletes.get(ident) is obj:
                return ObjectState.DELETED
            if self._identity.get(ident) is obj:
                return ObjectState.DIRTY if obj.changed_fields() else ObjectState.PERSISTENT
        if state_of(obj).deleted:
            return ObjectState.DELETED
        return ObjectState.DETACHED if obj.is_persistent else ObjectState.TRANSIENT

    @property
    def dirty(self) -> List[Document]:
        """Tracked documents with changes the next flush will write."""
        return [o for o in self._identity.values() if o.changed_fields()]

    @property
    def new(self) -> List[Document]:
        """Documents added and not inserted yet."""
        return list(self._new.values())

    @property
    def deleted(self) -> List[Document]:
        """Documents marked for deletion at the next flush."""
        return list(self._deleted.values())

    # -- queries -------------------------------------------------------------------

    def query(self, model: Type[D]) -> QuerySet[D]:
        """A QuerySet whose results come through this session (and see its changes)."""
        self._check_open()
        return model.objects.using(self.db).with_session(self)

    def touches(self, model: Type[Document]) -> bool:
        """Does the session hold changes the server's reads cannot see yet?"""
        name = model.collection_name()
        if any(isinstance(o, model) for o in self._new.values()):
            return True
        for ident in (*self._deleted, *self._staged_deletes, *self._staged_inserts):
            if ident[0] == name:
                return True
        return any(
            ident[0] == name and (obj.changed_fields() or obj.rev != self._base_rev.get(ident))
            for ident, obj in self._identity.items()
        )

    def overlay_op(self, qs: QuerySet[Any]) -> Op[List[Any]]:
        """Run ``qs`` on committed data, then apply this session's changes in Python."""
        model = qs.model
        server_objs = yield from qs.committed_documents_op(self)
        where = qs.where
        matches = (matcher(list(where), model.wire_path, model.field_spec) if where
                   else (lambda _d: True))
        seen: Dict[int, Document] = {}
        for obj in server_objs:
            ident = self._identity_of(obj)
            if ident is not None and (ident in self._deleted or ident in self._staged_deletes):
                continue
            obj = self.adopt(obj)
            seen[id(obj)] = obj
        candidates: List[Document] = list(seen.values())
        for obj in [*self._identity.values(), *self._new.values(),
                    *self._staged_inserts.values()]:
            if isinstance(obj, model) and id(obj) not in seen:
                ident = self._identity_of(obj)
                if ident is not None and (ident in self._deleted or ident in self._staged_deletes):
                    continue
                seen[id(obj)] = obj
                candidates.append(obj)
        kept = [o for o in candidates if matches(o.stored_view())]
        if qs.ordering:
            kept = order_documents(kept, list(qs.ordering), model.wire_path, Document.stored_view,
                                   model.field_spec)
        offset, limit = qs.window
        start = offset or 0
        stop = None if limit is None else start + limit
        return kept[start:stop]

    # -- writing ---------------------------------------------------------------------

    def flush(self) -> None:
        """Stage every pending change in the server transaction, in one round trip."""
        self._check_open()
        with events.unit("flush", database=self.db.name):
            self.run(self._flush_op())

    async def aflush(self) -> None:
        """:meth:`flush`, awaitable."""
        self._check_open()
        with events.unit("flush", database=self.db.name):
            await self.arun(self._flush_op())

    def _flush_op(self) -> Op[None]:
        if self._savepoints:
            raise exc.SessionError(
                "cannot flush inside begin_nested(): the server has no savepoints, so "
                "staged writes could not be undone by the nested block"
            )
        if self._failed:
            raise exc.SessionError("a flush failed in this transaction: roll it back first")
        yield from self._begin_op()
        # Claim what this flush sends: a flush running meanwhile on the same
        # session (tasks gathered over saves) plans only what is left.
        plan = [item for item in self._plan() if id(item[2]) not in self._claimed]
        if not plan:
            return
        claimed = {id(obj) for _, _, obj in plan}
        self._claimed |= claimed
        try:
            yield from self._send_plan_op(plan)
        finally:
            self._claimed -= claimed

    def _send_plan_op(self, plan: List[Tuple[Dict[str, Any], str, Document]]) -> Op[None]:
        commands = [command for command, _, _ in plan]
        check = self._revision_check(plan)
        if check is not None:
            commands.append(check)
        try:
            results = yield from self._send_op(commands)
        except BaseException:
            self._failed = True
            raise
        errors = [r for r in results[: len(plan)] if isinstance(r, exc.SoliDBError)]
        if errors:
            self._failed = True
            raise errors[0]
        if check is not None:
            self._verify_revisions(plan, results[-1])
        for (_, action, obj), reply in zip(plan, results, strict=False):
            assert isinstance(reply, protocol.Reply)
            self._after_flush(action, obj, reply)

    def autoflush(self) -> Op[None]:
        """``obj.save()`` in a session writes at once, except inside a savepoint."""
        self._check_open()
        if not self._savepoints:
            yield from self._flush_op()

    def _plan(self) -> List[Tuple[Dict[str, Any], str, Document]]:
        """(command, action, object) in flush order: documents, edges, updates, deletes."""
        db = self.db.name
        inserts = sorted(self._new.values(), key=lambda o: type(o).is_edge())
        plan: List[Tuple[Dict[str, Any], str, Document]] = []
        for obj in inserts:
            plan.append((protocol.command("insert", database=db,
                                          collection=type(obj).collection_name(),
                                          document=obj.to_wire()), "insert", obj))
        for ident, obj in self._identity.items():
            changes = obj.changed_fields()
            if changes:
                plan.append((protocol.command("update", database=db, collection=ident[0],
                                              key=ident[1], document=changes, merge=True),
                             "update", obj))
        deletes = sorted(self._deleted.items(), key=lambda item: not type(item[1]).is_edge())
        for ident, obj in deletes:
            plan.append((protocol.command("delete", database=db, collection=ident[0],
                                          key=ident[1]), "delete", obj))
        return plan

    def _revision_check(self, plan: List[Tuple[Dict[str, Any], str, Document]]
                        ) -> Optional[Dict[str, Any]]:
        """A read of the committed revisions of what this flush updates or deletes.

        It runs after the staged writes in the same frame; together with the
        server's own check at commit it covers the whole time since loading.
        """
        if not self.optimistic:
            return None
        ids = sorted({f"{c['collection']}/{c['key']}" for c, action, _ in plan
                      if action in ("update", "delete")})
        if not ids:
            return None
        return protocol.command(
            "query", database=self.db.name,
            sdbql="FOR i IN @ids LET x = DOCUMENT(i) RETURN [i, x == null ? null : x._rev]",
            bind_vars={"ids": ids}, cache=False,
        )

    def _verify_revisions(self, plan: List[Tuple[Dict[str, Any], str, Document]],
                          reply: Any) -> None:
        if isinstance(reply, exc.SoliDBError):
            self._failed = True
            raise reply
        current = {row[0]: row[1] for row in (reply.data or [])}
        for command, action, _obj in plan:
            if action not in ("update", "delete"):
                continue
            ident = (command["collection"], command["key"])
            expected = self._base_rev.get(ident)
            found = current.get(f"{ident[0]}/{ident[1]}")
            if expected is not None and found != expected:
                self._failed = True
                what = "was deleted" if found is None else "was changed"
                raise exc.ConflictError(
                    f"{ident[0]}/{ident[1]} {what} by someone else since this session loaded it "
                    f"(revision {expected!r}, now {found!r}); nothing was written"
                )

    def _send_op(self, commands: List[Dict[str, Any]]) -> Op[List[Any]]:
        assert self._tx_id is not None
        results: List[Any] = []
        for chunk in protocol.chunks_by_size(commands, FLUSH_CHUNK_BYTES):
            results.extend((yield from self.db.ops.batch(chunk, tx_id=self._tx_id)))
        return results

    def _after_flush(self, action: str, obj: Document, reply: protocol.Reply) -> None:
        if action == "delete":
            ident = self._identity_of(obj)
            assert ident is not None
            self._deleted.pop(ident, None)
            self._staged_deletes[ident] = obj
            state_of(obj).deleted = True
            return
        stored = reply.data if isinstance(reply.data, dict) else {}
        obj.remember_stored(stored, self.db)
        ident = self._identity_of(obj)
        assert ident is not None
        if action == "insert":
            self._new.pop(id(obj), None)
            self._identity[ident] = obj
            self._staged_inserts[ident] = obj
            self._base_rev[ident] = None  # nobody else has seen it: nothing to check

    def commit(self) -> None:
        """Flush, then commit the transaction: all of it lands, or none of it."""
        self._check_open()
        with events.unit("commit", database=self.db.name):
            self.run(self._commit_op())

    async def acommit(self) -> None:
        """:meth:`commit`, awaitable."""
        self._check_open()
        with events.unit("commit", database=self.db.name):
            await self.arun(self._commit_op())

    def _commit_op(self) -> Op[None]:
        if self._tx_id is None and not (self._new or self._deleted or self.dirty):
            return
        try:
            yield from self._flush_op()
        except exc.SoliDBError:
            yield from self._rollback_op()
            raise
        tx_id, self._tx_id = self._tx_id, None
        assert tx_id is not None
        try:
            yield from self.db.ops.commit_transaction(tx_id)
        except BaseException:
            self._reset_after_rollback()
            raise
        for ident, obj in list(self._staged_deletes.items()):
            state_of(obj).session = None
            self._base_rev.pop(ident, None)
        self._staged_deletes.clear()
        self._staged_inserts.clear()
        for ident, obj in self._identity.items():
            self._base_rev[ident] = obj.rev

    def rollback(self) -> None:
        """Discard the transaction; every object of the session is detached."""
        self.run(self._rollback_op())

    async def arollback(self) -> None:
        """:meth:`rollback`, awaitable."""
        await self.arun(self._rollback_op())

    def _rollback_op(self) -> Op[None]:
        tx_id, self._tx_id = self._tx_id, None
        try:
            if tx_id is not None:
                try:
                    yield from self.db.ops.rollback_transaction(tx_id)
                except (exc.TransactionError, exc.ConnectionError):
                    pass  # already gone on the server (its connection broke or closed)
        finally:
            self._reset_after_rollback()

    def _reset_after_rollback(self) -> None:
        for obj in self._staged_inserts.values():
            object.__setattr__(obj, "key", None)
            object.__setattr__(obj, "id", None)
            object.__setattr__(obj, "rev", None)
            state_of(obj).snapshot = None
        for obj in self._staged_deletes.values():
            state_of(obj).deleted = False
        self._forget_all()
        self._savepoints.clear()
        self._failed = False

    def _forget_all(self) -> None:
        """Detach every object the session knows and empty its bookkeeping."""
        for obj in [*self._all_tracked(), *self._staged_inserts.values(),
                    *self._staged_deletes.values()]:
            state_of(obj).session = None
        for table in (self._identity, self._new, self._deleted, self._staged_inserts,
                      self._staged_deletes, self._base_rev):
            table.clear()

    # -- savepoints --------------------------------------------------------------------

    def begin_nested(self) -> _Savepoint:
        """A savepoint: ``with session.begin_nested():`` undoes its block's changes on error.

        The server has no savepoints, so the block's changes stay in the
        session (unflushed) until it ends; ``flush()`` inside it is refused.
        Writes sent through the raw client inside it are not undone.
        """
        self._check_open()
        return _Savepoint(self)

    def _capture(self) -> Dict[str, Any]:
        return {
            "identity": dict(self._identity),
            "new": dict(self._new),
            "deleted": dict(self._deleted),
            "values": {id(o): (o, o.model_dump(round_trip=True)) for o in self._all_tracked()},
        }

    def _restore(self, saved: Dict[str, Any]) -> None:
        for obj in self._all_tracked():
            if id(obj) not in saved["values"]:
                state_of(obj).session = None
        self._identity = saved["identity"]
        self._new = saved["new"]
        self._deleted = saved["deleted"]
        for obj, values in saved["values"].values():
            fresh = type(obj).model_validate(values)
            for name in type(obj).model_fields:
                object.__setattr__(obj, name, getattr(fresh, name))
            state_of(obj).session = self


class _Savepoint:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._saved: Optional[Dict[str, Any]] = None

    def __enter__(self) -> Session:
        self._saved = self.session._capture()
        self.session._savepoints.append(self._saved)
        return self.session

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.session._savepoints.remove(self._saved)  # type: ignore[arg-type]
        if exc_type is not None and self._saved is not None:
            self.session._restore(self._saved)


class Atomic:
    """What ``atomic(db)`` returns: a context manager (``with``/``async with``) and a decorator."""

    def __init__(self, db: Optional[Database], options: Dict[str, Any]) -> None:
        self._db = db
        self._options = options
        self._contexts: List[Any] = []

    def _database(self) -> Database:
        if self._db is not None:
            return self._db
        return cast("Database", _context.default_database())

    def _open(self) -> Any:
        """The nested savepoint of an open session on the database, or a new session."""
        db = self._database()
        outer = current_session(db)
        context: Any = outer.begin_nested() if outer is not None else Session(db, **self._options)
        self._contexts.append(context)
        return context

    def __enter__(self) -> Session:
        return cast(Session, self._open().__enter__())

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self._contexts.pop().__exit__(exc_type, exc_value, traceback)

    async def __aenter__(self) -> Session:
        context = self._open()
        if isinstance(context, Session):
            return await context.__aenter__()
        return cast(Session, context.__enter__())

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        context = self._contexts.pop()
        if isinstance(context, Session):
            await context.__aexit__(exc_type, exc_value, traceback)
        else:
            context.__exit__(exc_type, exc_value, traceback)

    def __call__(self, func: F) -> F:
        """As a decorator: each call of ``func`` runs in its own ``atomic()`` block."""
        return _decorate(func, self._db, self._options)


def _decorate(func: F, db: Optional[Database], options: Dict[str, Any]) -> F:
    """Run ``func`` (blocking or a coroutine function) inside its own ``atomic()`` block."""
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            async with Atomic(db, options):
                return await func(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with Atomic(db, options):
            return func(*args, **kwargs)

    return cast(F, wrapper)


@overload
def atomic(db: F) -> F: ...


@overload
def atomic(db: Optional[Database] = None, **options: Any) -> Atomic: ...


def atomic(db: Any = None, **options: Any) -> Any:
    """Django's ``transaction.atomic`` for solidb: a context manager and a decorator.

    ``with atomic():`` (default database), ``async with atomic(db):``,
    ``@atomic`` or ``@atomic(db)`` on a function or a coroutine function (its
    name and docstring are kept, so routing decorators stack on it). Inside
    it, ``Model.save()``, ``delete()`` and ``Model.objects`` go through the
    block's session. A nested ``atomic()`` is a savepoint.
    """
    if callable(db) and not hasattr(db, "run"):
        return _decorate(db, None, options)
    return Atomic(db, options)
