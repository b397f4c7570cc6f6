"""What every sub-client's operations share: the command helpers and the selected database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, List

from ... import exceptions as exc
from ... import protocol
from ...ops import Command, HttpRequest, Op, call, http
from ..commands import ClientOps
from ..state import ClientState


class SubOps:
    """Operations of one group of the SDK reference, over the client's state.

    Methods that talk to the server return ``Op[T]`` and use the helpers
    below with ``yield from``; ``Client`` and ``AsyncClient`` run them through
    the generated facades (see ``client/facade.py``).
    """

    def __init__(self, state: ClientState) -> None:
        self._state = state

    @property
    def _db(self) -> str:
        """The database chosen with ``use_database``; a clear error when there is none."""
        return self._state.require_database()

    def _call(self, cmd: str, *, retry: bool = False, **fields: Any) -> Op[protocol.Reply]:
        """Send one driver command; its reply."""
        return call(Command.of(cmd, retry=retry, **fields))

    def _data(self, cmd: str, *, retry: bool = False, **fields: Any) -> Op[Any]:
        """Send one driver command; the ``data`` of its reply."""
        reply = yield from call(Command.of(cmd, retry=retry, **fields))
        return reply.data

    def _http(
        self,
        method: str,
        url_path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
    ) -> Op[Any]:
        """Call the server's HTTP API with the client's credentials; the JSON body."""
        response = yield from http(HttpRequest(method, url_path, body, query))
        return response.body

    def _batch(
        self, commands: Sequence[Mapping[str, Any]]
    ) -> Op[List[protocol.Reply | exc.SoliDBError]]:
        """``Client.batch``: one round trip; each command's reply or the error it raised."""
        return ClientOps(self._state).batch(commands)

    def _sdbql(
        self, database: str, sdbql: str, bind_vars: Mapping[str, Any] | None = None
    ) -> Op[List[Any]]:
        """``Client.query``: run SDBQL with bind variables; the result rows."""
        return ClientOps(self._state).query(database, sdbql, bind_vars)


#: The server version these sub-clients were verified against, for error
#: messages (the client layer does not import the testing package).
SERVER_VERSION = "solidb 2.6.0"


def unsupported(operation: str, reason: str) -> exc.UnsupportedError:
    """The error for an operation that neither the driver nor HTTP can perform."""
    return exc.UnsupportedError(f"{operation} is not supported on {SERVER_VERSION}: {reason}")
