"""What is open in the caller's context: sessions and client transactions.

Both live in ``contextvars``, never in thread-locals, so they follow the
request: an asyncio task sees what the code that created it had open, and so
does work handed to a thread pool through a context copy
(``asyncio.to_thread``, Starlette's ``run_in_threadpool``). A plain new thread
starts with nothing open.

Entries are immutable tuples replaced on change, never tokens reset: a
framework may leave a ``with`` block in a different context than it entered
it (FastAPI runs a sync dependency's enter and exit in separate context
copies), and removal by value works there too. Kept apart from the session
and client modules so that models and QuerySets can ask "is a session open?"
cheaply.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from . import exceptions as exc


class OpenSession(Protocol):
    """What this module needs of a session: whether it is closed, and its database."""

    @property
    def closed(self) -> bool: ...

    @property
    def db(self) -> object: ...


_sessions: ContextVar[tuple[OpenSession, ...]] = ContextVar("solidb_odm_sessions", default=())
_transactions: ContextVar[tuple[tuple[object, str], ...]] = ContextVar(
    "solidb_odm_transactions", default=()
)


# -- the default database ----------------------------------------------------------
#
# Process-wide, not per context: ``connect()`` at start-up makes the database
# that every request's models use unless a query says ``using(db)``.

_default_database: object | None = None


def default_database() -> object:
    """The database ``connect()`` made the default; a clear error when there is none."""
    if _default_database is None:
        raise exc.SoliDBError(
            "no default database: call solidb_odm.connect(...) first, or use .using(db)"
        )
    return _default_database


def set_default_database(db: object | None) -> None:
    global _default_database
    _default_database = db


# -- sessions -----------------------------------------------------------------


def open_sessions() -> tuple[OpenSession, ...]:
    """The sessions open in this context, innermost last (closed ones left out)."""
    stack = _sessions.get()
    if not stack:
        return stack
    return tuple(s for s in stack if not s.closed)


def current_session_for(db: object | None) -> OpenSession | None:
    """The innermost open session on ``db`` (on any database when None) in this context."""
    for session in reversed(_sessions.get()):
        if not session.closed and (db is None or session.db is db):
            return session
    return None


def push_session(session: OpenSession) -> None:
    _sessions.set((*_sessions.get(), session))


def remove_session(session: OpenSession) -> None:
    """Forget ``session`` in this context (a no-op where it was never pushed)."""
    stack = _sessions.get()
    if session in stack:
        _sessions.set(tuple(s for s in stack if s is not session))


# -- client transactions -------------------------------------------------------


def current_transaction(owner: object) -> str | None:
    """The innermost transaction ``owner`` (a client) began in this context, if any."""
    stack = _transactions.get()
    for who, tx_id in reversed(stack):
        if who is owner:
            return tx_id
    return None


def transactions_of(owner: object) -> tuple[str, ...]:
    return tuple(tx_id for who, tx_id in _transactions.get() if who is owner)


def push_transaction(owner: object, tx_id: str) -> None:
    _transactions.set((*_transactions.get(), (owner, tx_id)))


def remove_transaction(owner: object, tx_id: str) -> None:
    stack = _transactions.get()
    if any(who is owner and tid == tx_id for who, tid in stack):
        _transactions.set(tuple(e for e in stack if not (e[0] is owner and e[1] == tx_id)))
