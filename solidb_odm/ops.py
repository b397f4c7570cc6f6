"""Operations: every exchange with the server, written once, run by an executor.

An operation is a generator. It yields requests (:class:`Command` for the
driver protocol, :class:`HttpRequest` for the server's HTTP API), receives
each answer, and returns the result. It never touches a socket: the blocking
executor (``Client``) and the asyncio executor (``AsyncClient``) run the same
operation, so command fields, reply parsing and error handling exist once::

    def count_op(db: str, sdbql: str) -> Op[int]:
        reply = yield from call(Command.of("query", database=db, sdbql=sdbql))
        return int(reply.data[0])

    client.run(count_op("shop", "RETURN 1"))          # blocking
    await aclient.run(count_op("shop", "RETURN 1"))   # asyncio

A request that fails is thrown into the operation at its ``yield``, as the
typed error from :mod:`solidb_odm.exceptions`; an operation may catch it (to
try something else) or let it propagate to the caller.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar, Union

from . import protocol

T = TypeVar("T")


class _Auto:
    """The marker for "route into the caller's open transaction, if any"."""

    _instance: _Auto | None = None

    def __new__(cls) -> _Auto:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Final = _Auto()
"""``Command.tx`` default: the executor routes the command into the
transaction open in the caller's context (``begin_transaction``), if any."""


class Command:
    """One driver request.

    ``retry``: the command changes nothing, so an executor may send it again
    on a fresh connection when a pooled one turns out to be dead. ``tx``:
    the transaction to run in: :data:`AUTO` (the caller's, if any), an
    explicit id, or None (never in a transaction).

    A plain slotted class rather than a frozen dataclass: one is built per
    request, and a frozen dataclass's ``__init__`` costs several times more.
    """

    __slots__ = ("message", "retry", "tx")

    def __init__(self, message: dict[str, Any], retry: bool = False,
                 tx: str | _Auto | None = AUTO) -> None:
        self.message = message
        self.retry = retry
        self.tx = tx

    @classmethod
    def of(cls, cmd: str, *, retry: bool = False, tx: str | _Auto | None = AUTO,
           **fields: Any) -> Command:
        """A command from its name and fields (fields set to None are left out)."""
        message = {"cmd": cmd}
        for name, value in fields.items():
            if value is not None:
                message[name] = value
        return cls(message, retry, tx)

    @property
    def name(self) -> str:
        """The command's name, the message's ``cmd`` (``"query"``, ``"insert"``...)."""
        return str(self.message["cmd"])

    def __repr__(self) -> str:
        return f"Command({self.message!r}, retry={self.retry}, tx={self.tx!r})"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One call to the server's HTTP API on the driver's port, with the client's credentials.

    With ``raw=True`` a 4xx/5xx answer is returned instead of raised. With
    ``binary=True`` the server is asked to answer in MessagePack, which decodes
    faster than JSON (for large answers such as a cursor's batches).
    """

    method: str
    path: str
    body: Any = None
    query: Mapping[str, Any] | None = None
    raw: bool = False
    binary: bool = False


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What an executor answers an ``HttpRequest`` with: the status and the body (JSON decoded, else text)."""

    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class CurrentTransaction:
    """Asks the executor which transaction the caller's context has open (no I/O)."""


@dataclass(frozen=True, slots=True)
class TransactionInfo:
    """What an executor answers ``CurrentTransaction`` with: the open transaction's id, or None."""

    tx_id: str | None


Request = Union[Command, HttpRequest, CurrentTransaction]
"""What an operation may yield to its executor."""
Response = Union[protocol.Reply, HttpResponse, TransactionInfo]
"""What the executor sends back into the operation, one per request, in the same order."""

Op = Generator[Request, Response, T]
"""An operation that returns ``T``: a generator of requests, run by ``Client.run`` or ``AsyncClient.run``."""


def call(command: Command) -> Op[protocol.Reply]:
    """Send one driver command; the reply (errors are raised at this point)."""
    reply = yield command
    if not isinstance(reply, protocol.Reply):  # pragma: no cover - an executor bug
        raise TypeError(f"executor answered a Command with {type(reply).__name__}")
    return reply


def data(cmd: str, *, retry: bool = False, **fields: Any) -> Op[Any]:
    """Send one driver command and return the ``data`` of its reply."""
    reply = yield Command.of(cmd, retry=retry, **fields)
    if not isinstance(reply, protocol.Reply):  # pragma: no cover - an executor bug
        raise TypeError(f"executor answered a Command with {type(reply).__name__}")
    return reply.data


def http(request: HttpRequest) -> Op[HttpResponse]:
    """Send one HTTP request; the answer (errors are raised at this point)."""
    response = yield request
    if not isinstance(response, HttpResponse):  # pragma: no cover - an executor bug
        raise TypeError(f"executor answered an HttpRequest with {type(response).__name__}")
    return response


def current_transaction() -> Op[str | None]:
    """The id of the transaction the caller's context has open on this executor, if any."""
    info = yield CurrentTransaction()
    if not isinstance(info, TransactionInfo):  # pragma: no cover - an executor bug
        raise TypeError(f"executor answered CurrentTransaction with {type(info).__name__}")
    return info.tx_id


def done(value: T) -> Op[T]:
    """An operation that sends nothing (for results known without asking the server)."""
    return value
    yield  # pragma: no cover - makes this a generator
