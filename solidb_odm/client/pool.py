"""A thread-safe pool of authenticated connections.

Each request checks a connection out, uses it alone, and checks it back in.
A broken connection is dropped instead of returned, and the next checkout
opens (and authenticates) a fresh one, so a restarted server is picked up on
its own.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from .. import exceptions as exc
from .. import protocol
from .connection import Connection

Credentials = Dict[str, Any]


class ConnectionPool:
    """At most ``size`` connections to one server, handed out one per request."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        size: int = 4,
        connect_timeout: Optional[float] = 5.0,
        request_timeout: Optional[float] = 30.0,
        pool_timeout: Optional[float] = 30.0,
    ) -> None:
        if size < 1:
            raise exc.ValidationError("pool size must be at least 1")
        self.host = host
        self.port = port
        self.size = size
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.pool_timeout = pool_timeout
        self.credentials: Optional[Credentials] = None
        self._idle: List[Connection] = []
        self._open = 0
        self._generation = 0
        self._lock = threading.Condition()
        self._closed = False

    # -- opening -----------------------------------------------------------

    def _new_connection(self) -> Connection:
        conn = Connection(
            self.host,
            self.port,
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
        )
        if self.credentials is not None:
            try:
                self.authenticate(conn, self.credentials)
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

    # -- checkout ----------------------------------------------------------

    def acquire(self) -> Connection:
        deadline = None if self.pool_timeout is None else time.monotonic() + self.pool_timeout
        with self._lock:
            while True:
                if self._closed:
                    raise exc.ConnectionError("the client is closed")
                while self._idle:
                    conn = self._idle.pop()
                    if conn.usable():
                        conn.generation = self._generation
                        return conn
                    conn.close()
                    self._open -= 1
                if self._open < self.size:
                    self._open += 1
                    generation = self._generation
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise exc.TimeoutError(
                        f"no connection free in the pool of {self.size} "
                        f"after {self.pool_timeout}s"
                    )
                self._lock.wait(remaining)
        try:
            conn = self._new_connection()
            conn.generation = generation
            return conn
        except BaseException:
            with self._lock:
                self._open -= 1
                self._lock.notify()
            raise

    def release(self, conn: Connection) -> None:
        with self._lock:
            if conn.broken or conn.closed or self._closed or conn.generation != self._generation:
                conn.close()
                self._open -= 1
            else:
                self._idle.append(conn)
            self._lock.notify()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    # -- lifecycle ---------------------------------------------------------

    def reset(self) -> None:
        """Close idle connections and retire checked-out ones when they return.

        Used when the credentials change, so no connection keeps the old identity.
        """
        with self._lock:
            self._generation += 1
            for conn in self._idle:
                conn.close()
            self._open -= len(self._idle)
            self._idle.clear()
            self._lock.notify_all()

    def open(self) -> None:
        with self._lock:
            self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._idle:
                conn.close()
            self._open -= len(self._idle)
            self._idle.clear()
            self._lock.notify_all()
