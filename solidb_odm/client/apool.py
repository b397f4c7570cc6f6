"""A pool of authenticated asyncio connections for one event loop.

The same rules as the blocking ``ConnectionPool``: one request per
connection at a time, broken connections dropped, and no connection handed
out whose credentials are not the client's current ones. Connections belong
to the event loop that opened them, so ``AsyncClient`` keeps one pool per loop.

Connections pinned to transactions do not count against the size (see the
blocking pool for why). Waiting tasks queue in order, and a released connection is handed straight
to the first of them: with 100 tasks on 4 connections nobody wakes up only to
find the connection taken.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .. import exceptions as exc
from .. import protocol
from .aconnection import AsyncConnection
from .failover import PoolTimeoutError

Credentials = Mapping[str, Any]


class AsyncConnectionPool:
    """At most ``size`` connections to one server, on one event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        credentials: Callable[[], Credentials | None],
        *,
        size: int = 4,
        connect_timeout: float | None = 5.0,
        request_timeout: float | None = 30.0,
        pool_timeout: float | None = 30.0,
    ) -> None:
        if size < 1:
            raise exc.ValidationError("pool size must be at least 1")
        self.host = host
        self.port = port
        self.size = size
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.pool_timeout = pool_timeout
        self._credentials = credentials
        self._idle: list[AsyncConnection] = []
        self._busy: set[AsyncConnection] = set()
        #: pinned to open transactions: outside the size limit
        self._pinned: set[AsyncConnection] = set()
        self._opening = 0
        #: tasks waiting for a connection, first come first served; each gets
        #: a connection, or None for "a slot is free: open one"
        self._waiters: deque[asyncio.Future[AsyncConnection | None]] = deque()
        self._closed = False

    @property
    def _open(self) -> int:
        return len(self._idle) + len(self._busy) + self._opening

    async def open_connection(self, credentials: Credentials | None) -> AsyncConnection:
        conn = await AsyncConnection.open(self.host, self.port,
                                          connect_timeout=self.connect_timeout,
                                          request_timeout=self.request_timeout)
        if credentials is not None:
            try:
                await self.authenticate(conn, credentials)
            except BaseException:
                conn.close()
                raise
        return conn

    @staticmethod
    async def authenticate(conn: AsyncConnection, credentials: Credentials) -> None:
        reply = await conn.request(protocol.command("auth", **credentials))
        protocol.interpret(reply)
        conn.authenticated = True
        conn.credentials = credentials

    def _fits(self, conn: AsyncConnection) -> bool:
        return conn.credentials is self._credentials() and conn.usable()

    async def acquire_pinned(self) -> AsyncConnection:
        """A connection for a transaction: an idle one, or a new one beyond the size limit."""
        if self._closed:
            raise exc.ConnectionError("the client is closed")
        idle = self._idle
        while idle:
            conn = idle.pop()
            if self._fits(conn):
                conn.pinned = True
                self._pinned.add(conn)
                self._wake_one()  # its slot in the pool is free again
                return conn
            conn.close()
        credentials = self._credentials()
        conn = await self.open_connection(credentials)
        if self._closed or conn.credentials is not self._credentials():
            conn.close()
            raise exc.ConnectionError("the client's identity changed while connecting")
        conn.pinned = True
        self._pinned.add(conn)
        return conn

    def try_acquire(self) -> AsyncConnection | None:
        """An idle connection at once, without awaiting (None: call :meth:`acquire`)."""
        idle = self._idle
        while idle and not self._closed:
            conn = idle.pop()
            if self._fits(conn):
                self._busy.add(conn)
                return conn
            conn.close()
        return None

    async def acquire(self) -> AsyncConnection:
        """A connection for one request, waiting first come first served up to ``pool_timeout``."""
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        # True once a free slot is this task's (handed over, or freed by closing
        # a handed connection that no longer fits): it opens a connection then,
        # even with others queued, or the slot would be lost to everyone.
        slot = False
        while True:
            if self._closed:
                raise exc.ConnectionError("the client is closed")
            idle = self._idle
            while idle:
                conn = idle.pop()
                if self._fits(conn):
                    self._busy.add(conn)
                    return conn
                conn.close()
            if self._open < self.size and (slot or not self._waiters):
                slot = False
                opened = await self._open_one()
                if opened is not None:
                    return opened
                continue
            handed = await self._wait(deadline)
            slot = True  # a slot freed up, or the handed connection's, once closed
            if handed is None:
                continue  # go round and open one
            if self._fits(handed):
                return handed  # already counted as busy by release()
            self._busy.discard(handed)
            handed.close()  # e.g. the identity changed since it was handed over

    async def _open_one(self) -> AsyncConnection | None:
        self._opening += 1
        try:
            conn = await self.open_connection(self._credentials())
        except BaseException:
            self._opening -= 1
            self._wake_one()
            raise
        self._opening -= 1
        if conn.credentials is not self._credentials() or self._closed:
            conn.close()  # the identity changed while it was opening: never use it
            self._wake_one()
            return None
        self._busy.add(conn)
        return conn

    async def _wait(self, deadline: float | None) -> AsyncConnection | None:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise PoolTimeoutError(
                f"no connection free in the pool of {self.size} after {self.pool_timeout}s"
            )
        waiter: asyncio.Future[AsyncConnection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, remaining)
        except BaseException as err:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()  # handed over just as we gave up: pass it on
                if handed is not None:
                    self.release(handed)
                else:
                    self._wake_one()
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(err, TimeoutError):
                raise PoolTimeoutError(
                    f"no connection free in the pool of {self.size} after {self.pool_timeout}s"
                ) from None
            raise

    def _wake_one(self, conn: AsyncConnection | None = None) -> bool:
        """Give ``conn`` (or a free slot) to the first task still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    def release(self, conn: AsyncConnection) -> None:
        """Give back a connection: handed to the next waiting task, kept idle, or closed."""
        was_pinned = conn in self._pinned
        self._pinned.discard(conn)
        conn.pinned = False
        if (conn.broken or conn.closed or self._closed
                or conn.credentials is not self._credentials()):
            self._busy.discard(conn)
            conn.close()
            self._wake_one()
            return
        if was_pinned:
            if self._open >= self.size:
                conn.close()  # the pool is full without it
                return
            self._busy.add(conn)  # counted again, then handed on or kept idle
        if self._wake_one(conn):
            return  # stays busy: it now belongs to the task that waited
        self._busy.discard(conn)
        self._idle.append(conn)

    async def retire_stale(self, credentials: Credentials, first: AsyncConnection | None) -> None:
        """Close connections of other identities; wait for busy ones (not pinned) to finish."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        if first is not None:
            if not self._closed and self._open < self.size:
                first.pinned = False
                self._busy.add(first)
                self.release(first)
            else:
                first.close()
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        while any(c.credentials is not credentials for c in self._busy):
            if deadline is not None and time.monotonic() > deadline:
                raise exc.TimeoutError(
                    "requests on connections of the previous identity did not finish "
                    f"within {self.pool_timeout}s"
                )
            await asyncio.sleep(0.005)

    def close(self) -> None:
        """Close the idle connections and refuse new requests; waiting tasks raise."""
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # they see the pool closed and raise
