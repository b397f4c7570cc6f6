"""A thread-safe pool of authenticated connections, for the blocking executor.

Each request checks a connection out, uses it alone, and checks it back in.
A broken connection is dropped instead of returned, and the next checkout
opens (and authenticates) a fresh one, so a restarted server is picked up on
its own.

Every connection remembers the credentials it authenticated with. A
connection whose credentials are not the pool's current ones is never handed
out, and :meth:`ConnectionPool.switch_credentials` returns only once no
request runs on a connection of the old identity.

Connections pinned to transactions do not count against the pool's size: a
unit of work that holds one for a whole web request must never leave the
plain requests (or its own plain calls) waiting for a connection that only
its end would free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import exceptions as exc
from .. import protocol
from .connection import Connection
from .failover import PoolTimeoutError

Credentials = Mapping[str, Any]


class ConnectionPool:
    """At most ``size`` connections to one server, handed out one per request."""

    def __init__(
        self,
        host: str,
        port: int,
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
        self.credentials: Credentials | None = None
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()
        #: pinned to open transactions: outside the size limit
        self._pinned: set[Connection] = set()
        self._opening = 0
        # A plain Lock (never taken twice by one thread here) is cheaper than
        # the RLock a Condition makes by default.
        self._mutex = threading.Lock()
        #: the same lock as ``_mutex``: the hot paths take ``_mutex`` directly
        #: (C-level ``with``), those that wait go through the condition
        self._lock = threading.Condition(self._mutex)
        #: threads waiting on the condition: with none, nothing to notify
        self._waiting = 0
        self._closed = False

    @property
    def _open(self) -> int:
        return len(self._idle) + len(self._busy) + self._opening

    # -- opening -----------------------------------------------------------

    def open_connection(self, credentials: Credentials | None) -> Connection:
        """A new connection outside the pool, authenticated with ``credentials``."""
        conn = Connection(
            self.host,
            self.port,
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
        )
        if credentials is not None:
            try:
                self.authenticate(conn, credentials)
            except BaseException:
                conn.close()
                raise
        return conn

    @staticmethod
    def authenticate(conn: Connection, credentials: Credentials) -> None:
        """Run the ``auth`` command on ``conn``; raise its typed error on refusal."""
        reply = conn.request(protocol.command("auth", **credentials))
        protocol.interpret(reply)
        conn.authenticated = True
        conn.credentials = credentials

    # -- checkout ----------------------------------------------------------

    def acquire_pinned(self) -> Connection:
        """A connection for a transaction: an idle one, or a new one beyond the size limit."""
        with self._lock:
            if self._closed:
                raise exc.ConnectionError("the client is closed")
            credentials = self.credentials
            while self._idle:
                conn = self._idle.pop()
                if conn.credentials is credentials and conn.usable():
                    conn.pinned = True
                    self._pinned.add(conn)
                    self._notify()  # its slot in the pool is free again
                    return conn
                conn.close()
        conn = self.open_connection(credentials)
        with self._lock:
            if self._closed or conn.credentials is not self.credentials:
                conn.close()
                raise exc.ConnectionError("the client's identity changed while connecting")
            conn.pinned = True
            self._pinned.add(conn)
        return conn

    def acquire(self) -> Connection:
        """A connection of the pool's current identity, for one request; give it back with ``release``.

        Reuses an idle one, opens one while fewer than ``size`` are open, else
        waits for one up to ``pool_timeout`` (then ``TimeoutError``).
        """
        with self._mutex:  # the common case: an idle connection of the current identity
            idle = self._idle
            while idle and not self._closed:
                conn = idle.pop()
                if conn.credentials is self.credentials and conn.usable():
                    self._busy.add(conn)
                    return conn
                conn.close()
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        while True:
            with self._lock:
                credentials = self._reserve(deadline)
                if isinstance(credentials, Connection):
                    return credentials
            try:
                conn = self.open_connection(credentials)
            except BaseException:
                with self._lock:
                    self._opening -= 1
                    self._notify()
                raise
            with self._lock:
                self._opening -= 1
                if conn.credentials is self.credentials and not self._closed:
                    self._busy.add(conn)
                    return conn
                # the identity changed while this one was opening: never use it
                conn.close()
                self._notify()

    def _reserve(self, deadline: float | None) -> Connection | Credentials | None:
        """Under the lock: an idle connection, or a slot to open one (its credentials)."""
        while True:
            if self._closed:
                raise exc.ConnectionError("the client is closed")
            while self._idle:
                conn = self._idle.pop()
                if conn.credentials is self.credentials and conn.usable():
                    self._busy.add(conn)
                    return conn
                conn.close()
            if self._open < self.size:
                self._opening += 1
                return self.credentials
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise PoolTimeoutError(
                    f"no connection free in the pool of {self.size} after {self.pool_timeout}s"
                )
            self._wait(remaining)

    def release(self, conn: Connection) -> None:
        """Give back a connection: kept idle, or closed when broken, stale or over the size."""
        with self._mutex:
            self._busy.discard(conn)
            if conn.pinned:
                self._pinned.discard(conn)
                conn.pinned = False
            stale = conn.credentials is not self.credentials
            if conn.broken or conn.closed or self._closed or stale or self._open >= self.size:
                conn.close()
            else:
                self._idle.append(conn)
            if self._waiting:
                if stale:
                    self._lock.notify_all()  # switch_credentials() may wait for this one
                else:
                    self._lock.notify()

    def _notify(self) -> None:
        """Under the lock: wake one waiting thread, if any."""
        if self._waiting:
            self._lock.notify()

    def _wait(self, timeout: float | None) -> None:
        """Under the lock: wait to be notified (counted, so that notifying can be skipped)."""
        self._waiting += 1
        try:
            self._lock.wait(timeout)
        finally:
            self._waiting -= 1

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """``with pool.connection() as conn:``: ``acquire`` and ``release`` around a block."""
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    # -- identity ----------------------------------------------------------

    def switch_credentials(self, credentials: Credentials, first: Connection | None) -> None:
        """Make ``credentials`` the pool's identity; ``first`` is already authenticated with them.

        Idle connections of other identities close at once. Requests running
        on them finish, and this waits for them (up to the pool timeout), so
        that when it returns no connection of another identity is in use,
        except those pinned to open transactions, which close when they end.
        """
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        with self._lock:
            self.credentials = credentials
            for conn in self._idle:
                conn.close()
            self._idle.clear()
            if first is not None:
                if not self._closed and self._open < self.size:
                    self._idle.append(first)
                else:
                    first.close()
            self._lock.notify_all()
            while any(c.credentials is not credentials for c in self._busy):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise exc.TimeoutError(
                        "requests on connections of the previous identity did not finish "
                        f"within {self.pool_timeout}s"
                    )
                self._wait(remaining)

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> None:
        """Accept requests again after ``close()``."""
        with self._lock:
            self._closed = False

    def close(self) -> None:
        """Close the idle connections and refuse new requests; busy ones close when released."""
        with self._lock:
            self._closed = True
            for conn in self._idle:
                conn.close()
            self._idle.clear()
            self._lock.notify_all()
