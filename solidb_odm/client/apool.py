"""A pool of authenticated asyncio connections for one event loop.

The same rules as the blocking ``ConnectionPool``: one request per
connection at a time, broken connections dropped, and no connection handed
out whose credentials are not the client's current ones. Connections belong
to the event loop that opened them, so ``AsyncClient`` keeps one pool per loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import exceptions as exc
from .. import protocol
from .aconnection import AsyncConnection

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
        self._opening = 0
        self._changed = asyncio.Condition()
        self._waiting = 0
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

    async def acquire(self) -> AsyncConnection:
        # The common case needs no lock: the event loop runs one task at a time.
        current = self._credentials()
        idle = self._idle
        while idle and not self._closed:
            conn = idle.pop()
            if conn.credentials is current and conn.usable():
                self._busy.add(conn)
                return conn
            conn.close()
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        while True:
            if self._closed:
                raise exc.ConnectionError("the client is closed")
            current = self._credentials()
            while idle:
                conn = idle.pop()
                if conn.credentials is current and conn.usable():
                    self._busy.add(conn)
                    return conn
                conn.close()
            if self._open < self.size:
                self._opening += 1
                try:
                    conn = await self.open_connection(current)
                finally:
                    self._opening -= 1
                if conn.credentials is self._credentials() and not self._closed:
                    self._busy.add(conn)
                    return conn
                conn.close()  # the identity changed while it was opening
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise exc.TimeoutError(
                    f"no connection free in the pool of {self.size} after {self.pool_timeout}s"
                )
            self._waiting += 1
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiting -= 1

    def release(self, conn: AsyncConnection) -> None:
        self._busy.discard(conn)
        conn.pinned = False
        if (conn.broken or conn.closed or self._closed
                or conn.credentials is not self._credentials()):
            conn.close()
        else:
            self._idle.append(conn)
        self._notify()

    def _notify(self) -> None:
        changed = self._changed

        async def wake() -> None:
            async with changed:
                changed.notify_all()

        if self._waiting:  # nobody waits in the common case: skip the task
            asyncio.get_running_loop().create_task(wake())

    async def retire_stale(self, credentials: Credentials, first: AsyncConnection | None) -> None:
        """Close connections of other identities; wait for busy ones (not pinned) to finish."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        if first is not None:
            if not self._closed and self._open < self.size:
                self._idle.append(first)
            else:
                first.close()
        self._notify()
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        while any(c.credentials is not credentials and not c.pinned for c in self._busy):
            if deadline is not None and time.monotonic() > deadline:
                raise exc.TimeoutError(
                    "requests on connections of the previous identity did not finish "
                    f"within {self.pool_timeout}s"
                )
            await asyncio.sleep(0.005)

    def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._notify()
