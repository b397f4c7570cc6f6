"""One TCP connection speaking the driver protocol: one request at a time.

The protocol has no request ids, so a connection whose request timed out or
broke mid-frame can no longer tell which answer belongs to which request. Such
a connection marks itself broken and closes; the pool never hands it out again.

The socket stays in blocking mode and the request deadline is the kernel's
(``SO_RCVTIMEO``/``SO_SNDTIMEO``): a Python socket with a timeout runs
``poll()`` before every ``send()`` and ``recv()``, a system call per step of
every request. A blocked call that reaches the kernel's timeout fails with
``EAGAIN``; it becomes our ``TimeoutError`` and the connection goes. The
timeouts are re-armed with the time left only when a request needs more than
one ``send()`` or ``recv()``, so the deadline holds for the whole request even
against a peer that drips bytes.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from .. import exceptions as exc
from .. import protocol

#: Whether the kernel's socket timeouts take a ``struct timeval`` (Linux, the
#: BSDs, macOS). Elsewhere (Windows) the socket's own timeout is used.
KERNEL_TIMEOUTS = sys.platform != "win32" and hasattr(socket, "SO_RCVTIMEO")
_TIMEVAL = struct.Struct("@ll")
_HEADER_SIZE = protocol.HEADER.size
_whole_frame = protocol.whole_frame
_decode = protocol.decode_payload
#: the first read's size: small answers arrive in one read
_FIRST_READ = 1 << 16
_POLLIN = getattr(select, "POLLIN", 1)


def _timeval(seconds: float) -> bytes:
    # 0 would mean "no timeout" to the kernel: the shortest wait instead
    micros = max(int(seconds * 1e6), 1)
    return _TIMEVAL.pack(micros // 1_000_000, micros % 1_000_000)


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
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except TimeoutError as err:
            raise exc.TimeoutError(f"connecting to {host}:{port} timed out") from err
        except OSError as err:
            raise exc.ConnectionError(f"cannot connect to {host}:{port}: {err}") from err
        self._sock: Optional[socket.socket] = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if KERNEL_TIMEOUTS:
            sock.settimeout(None)  # blocking: no poll() before each call
        self._arm(sock, request_timeout)
        # What is readable on an idle socket (a list: empty while nothing is)
        poll = getattr(select, "poll", None)
        self._readable: Callable[[int], List[Any]]
        if poll is not None:
            poller = poll()
            poller.register(sock, _POLLIN)
            self._readable = poller.poll
        else:  # pragma: no cover - no poll() on this platform
            self._readable = lambda timeout: select.select([sock], [], [], timeout)[0]

    @staticmethod
    def _arm(sock: socket.socket, seconds: Optional[float]) -> None:
        """Make ``seconds`` the longest any one send or receive may block (None: forever)."""
        if not KERNEL_TIMEOUTS:  # pragma: no cover - Windows
            sock.settimeout(seconds)
            return
        value = _TIMEVAL.pack(0, 0) if seconds is None else _timeval(seconds)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (by ``close()``, or after a failure)."""
        return self._sock is None

    def usable(self) -> bool:
        """False when closed, broken, or the server hung up while it sat idle."""
        if self._sock is None or self.broken:
            return False
        if not self._readable(0):
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
        if isinstance(err, (TimeoutError, BlockingIOError)):  # EAGAIN: the kernel's timeout
            return exc.TimeoutError(f"{what} on {where} timed out after {self.request_timeout}s")
        return exc.ConnectionError(f"{what} on {where} failed: {err}")

    def request(self, message: Mapping[str, Any]) -> Dict[str, Any]:
        """Send one request and return the decoded response map.

        Encoding errors (too large, unencodable) are raised before a byte is
        sent and leave the connection usable.
        """
        limit = protocol.MAX_MESSAGE_SIZE if self.authenticated else protocol.MAX_PREAUTH_MESSAGE_SIZE
        return self.request_frame(protocol.encode_frame(message, limit=limit))

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
        started = time.monotonic()
        rearmed = False
        payload: bytes | bytearray
        try:
            try:
                sent = sock.send(frame)
                if sent != len(frame):
                    rearmed = True
                    self._send_rest(sock, frame, sent, started)
            except OSError as err:
                raise self._fail(err, "sending a request") from err
            try:
                if timeout is not None and not rearmed:
                    spent = time.monotonic() - started
                    if spent > 0.001:  # sending used some of the deadline
                        rearmed = True
                        self._arm_remaining(sock, started, "while sending")
                chunk = sock.recv(_FIRST_READ)
                whole = _whole_frame(chunk)  # the common case: one read, one frame
                if whole is None:
                    rearmed = True
                    payload = self._read_rest(sock, chunk, started)
                else:
                    payload = whole
            except exc.ProtocolError:
                self.broken = True
                self.close()
                raise
            except OSError as err:
                raise self._fail(err, "reading a response") from err
        finally:
            if rearmed and self._sock is not None:
                self._arm(sock, timeout)
        try:
            return _decode(payload)
        except exc.ProtocolError:
            # The frame boundary is intact, but a peer that sends garbage
            # is not one to keep talking to.
            self.broken = True
            self.close()
            raise

    def _arm_remaining(self, sock: socket.socket, started: float, when: str) -> None:
        """Before a further send or receive: the time left of the request's deadline."""
        timeout = self.request_timeout
        if timeout is None:
            return
        remaining = started + timeout - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the request's deadline passed {when}")
        self._arm(sock, remaining)

    def _send_rest(self, sock: socket.socket, frame: bytes, sent: int, started: float) -> None:
        """A frame the kernel took in parts: the rest, each part within the time left."""
        view = memoryview(frame)
        total = len(frame)
        while sent < total:
            self._arm_remaining(sock, started, "while sending")
            sent += sock.send(view[sent:])

    def _read_rest(self, sock: socket.socket, first: bytes, started: float) -> bytearray:
        """Receive until the frame begun by ``first`` is whole, within the time left.

        Anything beyond the frame is a protocol error: the protocol has one
        answer per request.
        """
        if not first:
            raise OSError("server closed the connection (0 bytes of a frame received)")
        buffer = bytearray(first)
        while len(buffer) < _HEADER_SIZE:
            self._arm_remaining(sock, started, "while reading")
            chunk = sock.recv(_HEADER_SIZE)
            if not chunk:
                raise OSError(
                    f"server closed the connection ({len(buffer)} bytes of a frame received)")
            buffer += chunk
        length = protocol.frame_length(bytes(buffer[:_HEADER_SIZE]))
        end = _HEADER_SIZE + length
        if len(buffer) > end:
            raise exc.ProtocolError("the server sent more than one answer to one request")
        received = len(buffer)
        buffer.extend(bytes(end - received))
        view = memoryview(buffer)
        while received < end:
            self._arm_remaining(sock, started, "while reading")
            # recv_into: no allocation per read, however large the frame
            count = sock.recv_into(view[received:], min(end - received, 1 << 22))
            if not count:
                raise OSError(
                    f"server closed the connection ({received} bytes of a frame received)")
            received += count
        view.release()
        del buffer[:_HEADER_SIZE]  # cheap: a bytearray drops its head without a copy
        return buffer
