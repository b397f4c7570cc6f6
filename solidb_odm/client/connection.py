"""One TCP connection speaking the driver protocol: one request at a time.

The protocol has no request ids, so a connection whose request timed out or
broke mid-frame can no longer tell which answer belongs to which request. Such
a connection marks itself broken and closes; the pool never hands it out again.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any, Dict, Mapping, Optional

from .. import exceptions as exc
from .. import protocol


class Connection:
    """A socket that has sent the magic header and carries whole frames."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: Optional[float] = 5.0,
        request_timeout: Optional[float] = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self.authenticated = False
        self.credentials: Optional[Mapping[str, Any]] = None
        """The credentials this connection authenticated with (None: not yet)."""
        self.pinned = False
        """Pinned to an open transaction (not idle, not shared)."""
        self.broken = False
        self.generation = 0
        self._magic_sent = False
        try:
            self._sock: Optional[socket.socket] = socket.create_connection(
                (host, port), timeout=connect_timeout
            )
        except TimeoutError as err:
            raise exc.TimeoutError(f"connecting to {host}:{port} timed out") from err
        except OSError as err:
            raise exc.ConnectionError(f"cannot connect to {host}:{port}: {err}") from err
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(request_timeout)

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (by ``close()``, or after a failure)."""
        return self._sock is None

    def usable(self) -> bool:
        """False when closed, broken, or the server hung up while it sat idle."""
        sock = self._sock
        if sock is None or self.broken:
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        # An idle connection has nothing to read unless the peer closed it
        # (EOF) or sent something unasked: either way it cannot be trusted.
        self.broken = True
        self.close()
        return False

    def close(self) -> None:
        """Close the socket; closing twice is harmless."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _fail(self, err: BaseException, what: str) -> exc.ConnectionError:
        """Close for good and build the error the caller sees."""
        self.broken = True
        self.close()
        where = f"{self.host}:{self.port}"
        if isinstance(err, (socket.timeout, TimeoutError)):
            return exc.TimeoutError(f"{what} on {where} timed out after {self.request_timeout}s")
        return exc.ConnectionError(f"{what} on {where} failed: {err}")

    def request(self, message: Mapping[str, Any]) -> Dict[str, Any]:
        """Send one request and return the decoded response map.

        Encoding errors (too large, unencodable) are raised before a byte is
        sent and leave the connection usable.
        """
        limit = protocol.MAX_MESSAGE_SIZE if self.authenticated else protocol.MAX_PREAUTH_MESSAGE_SIZE
        frame = protocol.encode_frame(message, limit=limit)
        return self.request_frame(frame)

    def request_frame(self, frame: bytes) -> Dict[str, Any]:
        """Send an already encoded frame and read exactly one response frame."""
        sock = self._sock
        if sock is None:
            raise exc.ConnectionError("connection is closed")
        if not self._magic_sent:
            # The server sniffs the protocol from its first read: the magic
            # must arrive in one segment, so it travels with the first frame.
            frame = protocol.MAGIC + frame
            self._magic_sent = True
        timeout = self.request_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            sock.sendall(frame)
        except OSError as err:
            raise self._fail(err, "sending a request") from err
        decoder = protocol.FrameDecoder()
        try:
            payload = self._read_frame(sock, decoder, deadline)
        except exc.ProtocolError:
            self.broken = True
            self.close()
            raise
        except OSError as err:
            raise self._fail(err, "reading a response") from err
        try:
            return protocol.decode_payload(payload)
        except exc.ProtocolError:
            # The frame boundary is intact, but a peer that sends garbage
            # is not one to keep talking to.
            self.broken = True
            self.close()
            raise

    def _read_frame(
        self, sock: socket.socket, decoder: protocol.FrameDecoder, deadline: Optional[float]
    ) -> bytes:
        """Receive until one whole frame is in; anything beyond it is a protocol error.

        The request timeout is a deadline for the whole answer, not for each
        ``recv()``: a peer that drips bytes cannot hold the caller longer.
        """
        size = 1 << 16  # small answers arrive in one read
        adjusted = False  # the first recv runs on the socket's own timeout ...
        if deadline is not None and self.request_timeout is not None:
            remaining = deadline - time.monotonic()
            if remaining < self.request_timeout - 0.001:  # ... unless sending used some of it
                if remaining <= 0:
                    raise TimeoutError("the request's deadline passed while sending")
                sock.settimeout(remaining)
                adjusted = True
        try:
            while True:
                chunk = sock.recv(size)
                if not chunk:
                    raise OSError(
                        f"server closed the connection ({decoder.pending} bytes of a frame received)"
                    )
                decoder.feed(chunk)
                payload = decoder.next_payload()
                if payload is not None:
                    if decoder.pending:
                        raise exc.ProtocolError("the server sent more than one answer to one request")
                    return payload
                # recv(n) allocates n bytes up front: ask for what the frame still needs
                size = min(max(decoder.missing(), 1 << 16), 1 << 22)
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError("the request's deadline passed")
                    sock.settimeout(remaining)
                    adjusted = True
        finally:
            if adjusted and self._sock is not None:
                sock.settimeout(self.request_timeout)
