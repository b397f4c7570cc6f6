"""What every sub-client shares: the parent client's command path and database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from ... import exceptions as exc
from ... import protocol

if TYPE_CHECKING:
    from ..client import Client


class SubClient:
    """A namespace of management calls over the parent client's single command path."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _db(self) -> str:
        """The database chosen with ``use_database``; a clear error when there is none."""
        return self._client._require_database()

    def _call(self, cmd: str, **fields: Any) -> protocol.Reply:
        return self._client._call(cmd, **fields)

    def _data(self, cmd: str, **fields: Any) -> Any:
        return self._client._call(cmd, **fields).data

    def _http(
        self,
        method: str,
        url_path: str,
        body: Any = None,
        *,
        query: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Call the server's HTTP API with the client's credentials; returns the JSON body."""
        return self._client._http(method, url_path, body, query=query)[1]


#: The server version these sub-clients were verified against, for error
#: messages (the client layer does not import the testing package).
SERVER_VERSION = "solidb 2.6.0"


def unsupported(operation: str, reason: str) -> exc.UnsupportedError:
    """The error for an operation that neither the driver nor HTTP can perform."""
    return exc.UnsupportedError(f"{operation} is not supported on {SERVER_VERSION}: {reason}")
