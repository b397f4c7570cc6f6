"""The server's HTTP API on the driver's port, for what the driver cannot do.

Some management operations are missing or broken on the native protocol of
the pinned server (see docs/server-behaviour.md); the sub-clients reach the
same outcome over HTTP. The standard library's ``http.client`` is enough for
a handful of JSON calls, so this adds no dependency. Responses map to the same
exception tree as driver errors.
"""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import quote, urlencode

import msgpack

from .. import exceptions as exc
from .failover import ConnectTimeoutError, NotSentError

_STATUS_ERRORS = {
    400: exc.ServerError,
    401: exc.AuthenticationError,
    403: exc.PermissionDeniedError,
    404: exc.NotFoundError,
    409: exc.AlreadyExistsError,
    429: exc.RateLimitedError,
    501: exc.InvalidCommandError,
}


def path(*segments: str) -> str:
    """Join URL path segments, percent-encoding each one."""
    return "/" + "/".join(quote(str(s), safe="") for s in segments)


class HttpTransport:
    """One JSON request per call over a short-lived HTTP/1.1 connection."""

    def __init__(self, host: str, port: int, *, timeout: Optional[float] = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    @staticmethod
    def auth_headers(credentials: Optional[Mapping[str, Any]]) -> Dict[str, str]:
        """Headers that carry the client's driver credentials over HTTP."""
        if not credentials:
            return {}
        if credentials.get("api_key"):
            return {"X-API-Key": str(credentials["api_key"])}
        pair = f"{credentials['username']}:{credentials['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def request(
        self,
        method: str,
        url_path: str,
        body: Any = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        query: Optional[Mapping[str, Any]] = None,
        raw: bool = False,
        binary: bool = False,
    ) -> Tuple[int, Any]:
        """Send one request; return (status, decoded JSON body) or raise the typed error.

        With ``raw=True`` no error is raised for 4xx/5xx and the body is
        returned as text when it is not JSON. With ``binary=True`` the server
        is asked for MessagePack (the body is decoded from whichever it sent).
        """
        if query:
            url_path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        payload = None if body is None else json.dumps(body).encode("utf-8")
        send_headers = {"Accept": "application/msgpack" if binary else "application/json"}
        if payload is not None:
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.connect()
        except TimeoutError as err:
            conn.close()  # nothing was sent: a multi-host client may go elsewhere
            raise ConnectTimeoutError(f"HTTP {method} {url_path}: connecting to "
                                      f"{self.host}:{self.port} timed out") from err
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise NotSentError(f"HTTP {method} {url_path}: cannot connect to "
                               f"{self.host}:{self.port}: {err}") from err
        try:
            conn.request(method, url_path, body=payload, headers=send_headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            content_type = response.getheader("Content-Type") or ""
        except TimeoutError as err:
            raise exc.TimeoutError(f"HTTP {method} {url_path} timed out") from err
        except (OSError, http.client.HTTPException) as err:
            raise exc.ConnectionError(f"HTTP {method} {url_path} failed: {err}") from err
        finally:
            conn.close()
        decoded: Any
        if content_type.startswith("application/msgpack") and data:
            try:
                decoded = msgpack.unpackb(data, raw=False, strict_map_key=False)
            except Exception as err:  # msgpack raises several unrelated types
                raise exc.ProtocolError(f"HTTP {method} {url_path}: malformed MessagePack: "
                                        f"{err}") from err
            text = ""
        else:
            text = data.decode("utf-8", "replace")
            try:
                decoded = json.loads(text) if text else None
            except ValueError:
                decoded = text
        if raw or status < 400:
            return status, decoded
        message = decoded.get("error") if isinstance(decoded, dict) else None
        message = str(message or text or f"HTTP {status}")
        cls = _STATUS_ERRORS.get(status, exc.ServerError)
        if status in (400, 409, 500):
            # The body's message is the server's own error text: classify it the
            # same way driver errors are.
            from ..protocol import error_from_server

            mapped = error_from_server({"DatabaseError": message})
            if type(mapped) is not exc.ServerError:
                raise mapped
        raise cls(f"HTTP {status}: {message}", kind=f"HTTP {status}")
