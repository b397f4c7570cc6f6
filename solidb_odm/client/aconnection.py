"""One asyncio connection speaking the driver protocol: one request at a time.

The rules are the blocking ``Connection``'s: the whole answer must arrive
before the request's deadline, and a connection whose request timed out,
was cancelled, or broke mid-frame is closed and never reused (the protocol
has no request ids, so a late answer could be taken for the next one's).
Bytes go through the same sans-I/O ``FrameDecoder`` as the blocking path.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any, cast

from .. import exceptions as exc
from .. import protocol


class _FrameProtocol(asyncio.Protocol):
    """Feeds received bytes to a FrameDecoder and hands out whole payloads."""

    def __init__(self) -> None:
        self.decoder = protocol.FrameDecoder()
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        #: why the connection cannot be used any more (None while it can)
        self.failure: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any loop's transport (uvloop's is not an asyncio.Transport subclass).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        payload = None if self.decoder.pending else protocol.whole_frame(data)
        if payload is None:
            self.decoder.feed(data)
            try:
                payload = self.decoder.next_payload()
            except exc.ProtocolError as err:
                self._fail(err)
                return
            if payload is None:
                return
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done() or self.decoder.pending:
            self._fail(exc.ProtocolError("the server sent an answer nobody asked for"))
            if waiter is not None and not waiter.done():
                waiter.set_exception(self.failure or exc.ProtocolError("unexpected data"))
            return
        waiter.set_result(payload)

    def connection_lost(self, error: Exception | None) -> None:
        pending = self.decoder.pending
        self._fail(OSError(
            f"server closed the connection ({pending} bytes of a frame received)"
            if error is None else str(error)
        ))

    def _fail(self, err: BaseException) -> None:
        if self.failure is None:
            self.failure = err
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)


def _expire(waiter: asyncio.Future[bytes]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("the request's deadline passed"))


class AsyncConnection:
    """An asyncio transport that has sent the magic header and carries whole frames."""

    def __init__(self, host: str, port: int, transport: asyncio.Transport,
                 proto: _FrameProtocol, request_timeout: float | None) -> None:
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self.authenticated = False
        self.credentials: Mapping[str, Any] | None = None
        """The credentials this connection authenticated with (None: not yet)."""
        self.pinned = False
        self.broken = False
        self._transport: asyncio.Transport | None = transport
        self._proto = proto
        self._magic_sent = False
        #: when the request in flight must have its answer (loop time)
        self._deadline = 0.0
        #: the connection's one watchdog timer (None: none scheduled)
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    async def open(cls, host: str, port: int, *, connect_timeout: float | None = 5.0,
                   request_timeout: float | None = 30.0) -> AsyncConnection:
        """Connect to ``host:port`` within ``connect_timeout`` (else ``TimeoutError``)."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                transport, proto = await loop.create_connection(_FrameProtocol, host, port)
        except TimeoutError as err:
            raise exc.TimeoutError(f"connecting to {host}:{port} timed out") from err
        except OSError as err:
            raise exc.ConnectionError(f"cannot connect to {host}:{port}: {err}") from err
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(host, port, transport, proto, request_timeout)

    @property
    def closed(self) -> bool:
        """Whether the transport is closed (by ``close()``, or after a failure)."""
        return self._transport is None

    def usable(self) -> bool:
        """False when closed, broken, or the server hung up or spoke while it sat idle."""
        if self._transport is None or self.broken:
            return False
        if self._proto.failure is not None or self._transport.is_closing():
            self.broken = True
            self.close()
            return False
        return True

    def close(self) -> None:
        """Close the transport; closing twice is harmless."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """The watchdog: expire the request in flight at its deadline, else wait for it.

        Deadlines only grow (one timeout per connection, a clock that only
        goes forward), so the watchdog never fires after the deadline of the
        request in flight; it fires early when that request began after the
        one it was scheduled for, and then waits for the rest.
        """
        self._timer = None
        waiter = self._proto.waiter
        if waiter is None or waiter.done() or self._transport is None:
            return  # nothing in flight: the next request schedules it again
        if loop.time() >= self._deadline:
            _expire(waiter)
        else:
            self._timer = loop.call_at(self._deadline, self._watch, loop)

    def _fail(self, err: BaseException, what: str) -> exc.ConnectionError:
        self.broken = True
        self.close()
        where = f"{self.host}:{self.port}"
        if isinstance(err, TimeoutError):
            return exc.TimeoutError(f"{what} on {where} timed out after {self.request_timeout}s")
        return exc.ConnectionError(f"{what} on {where} failed: {err}")

    async def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request and return the decoded response map (see ``Connection.request``)."""
        limit = protocol.MAX_MESSAGE_SIZE if self.authenticated else protocol.MAX_PREAUTH_MESSAGE_SIZE
        frame = protocol.encode_frame(message, limit=limit)
        return await self.request_frame(frame)

    async def request_frame(self, frame: bytes) -> dict[str, Any]:
        transport = self._transport
        proto = self._proto
        if transport is None:
            raise exc.ConnectionError("connection is closed")
        if proto.failure is not None:
            raise self._fail(proto.failure, "sending a request")
        if not self._magic_sent:
            frame = protocol.MAGIC + frame
            self._magic_sent = True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        proto.waiter = waiter
        # At the deadline the waiter fails with TimeoutError, whatever arrived.
        # One watchdog timer per connection, not one per request: scheduling
        # and cancelling a timer per request costs more than the rest of the
        # request's event-loop work; the watchdog moves itself on instead.
        if self.request_timeout is not None:
            self._deadline = loop.time() + self.request_timeout
            if self._timer is None:
                self._timer = loop.call_at(self._deadline, self._watch, loop)
        try:
            transport.write(frame)
            payload = await waiter
        except exc.ProtocolError:
            self.broken = True
            self.close()
            raise
        except (OSError, TimeoutError) as err:
            raise self._fail(err, "exchanging a request") from err
        except BaseException:
            # cancelled mid-request: the answer may still come, so never reuse it
            self.broken = True
            self.close()
            raise
        try:
            return protocol.decode_payload(payload)
        except exc.ProtocolError:
            self.broken = True
            self.close()
            raise
