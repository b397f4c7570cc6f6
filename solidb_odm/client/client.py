"""The low-level blocking client: the SDK reference's ``Client``, method for method.

``Client`` is the blocking executor: :meth:`Client.run` runs an operation
(see :mod:`solidb_odm.ops`) over a thread-safe connection pool. Every public
method is one line over the operation of the same name in ``commands.py``.
Transactions follow the caller's context (``contextvars``), not the thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeVar

from .. import _context, events, protocol
from .. import exceptions as exc
from ..ops import Command, CurrentTransaction, HttpRequest, HttpResponse, Op, TransactionInfo
from . import routing
from .base import ExecutorBase
from .commands import ClientOps, SyncClientMethods
from .connection import Connection
from .facade import SyncFacade
from .failover import lost_transaction_error
from .hosts import HostSpec
from .http import HttpTransport
from .nodes import NodePools
from .pool import ConnectionPool
from .subclients import SyncSubclients

T = TypeVar("T")


class _Transaction:
    """An open server transaction and the connection it is pinned to (and that one's pool)."""

    __slots__ = ("conn", "lock", "pool", "tx_id")

    def __init__(self, tx_id: str, conn: Connection, pool: ConnectionPool) -> None:
        self.tx_id = tx_id
        self.conn = conn
        self.pool = pool
        self.lock = threading.Lock()  # one request at a time on the pinned socket


class Client(ExecutorBase["_Transaction"], SyncClientMethods, SyncSubclients):
    """A thread-safe client for one SoliDB server: the SDK reference's API.

    Connections are pooled (``pool_size``); each request uses one connection
    alone, so threads can share one client. After :meth:`auth`, every pooled
    connection in use has the same credentials. ``connect_timeout`` bounds
    opening a connection, ``timeout`` each request and ``pool_timeout`` the
    wait for a free connection, in seconds (None: no limit); past one, the
    call raises ``TimeoutError``.

        with Client("127.0.0.1", 6745) as client:
            client.auth("_system", "admin", "password")
            doc = client.insert("mydb", "users", {"name": "Ann"})

    With ``hosts=["h1:6745", "h2:6745", ...]`` it talks to a cluster: one pool
    per node, failed nodes marked down and probed again after ``backoff``
    seconds (doubling up to ``max_backoff``), reads and the writes that are
    safe to repeat sent on to the next node, and ``strategy="round_robin"`` to
    spread reads; ``discover=True`` adds the peers the nodes report, every
    ``refresh_interval`` seconds. See docs/clusters.md for what is retried.
    ``host`` and ``port`` are ignored then.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6745,
        pool_size: int = 4,
        *,
        connect_timeout: float | None = 5.0,
        timeout: float | None = 30.0,
        pool_timeout: float | None = 30.0,
        hosts: Iterable[HostSpec] | None = None,
        strategy: str = "fallback",
        discover: bool = False,
        refresh_interval: float = 30.0,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        rejoin_delay: float = 5.0,
        probe_timeout: float | None = 2.0,
    ) -> None:
        self._nodes: NodePools | None = None
        if hosts is not None:
            host_set, monitor = self._init_hosts(
                hosts, lambda: self.credentials, strategy=strategy, discover=discover,
                refresh_interval=refresh_interval, backoff=backoff, max_backoff=max_backoff,
                rejoin_delay=rejoin_delay, probe_timeout=probe_timeout,
            )
            host, port = host_set.nodes[0].address
        SyncFacade.__init__(self, ClientOps(self._init_base(host, port)), self)
        self._pool = ConnectionPool(
            host,
            port,
            size=pool_size,
            connect_timeout=connect_timeout,
            request_timeout=timeout,
            pool_timeout=pool_timeout,
        )
        self._tx_lock = threading.Lock()
        if hosts is not None:
            self._hosts, self._monitor = host_set, monitor
            self._nodes = NodePools(host_set, monitor, size=pool_size,
                                    connect_timeout=connect_timeout, request_timeout=timeout,
                                    pool_timeout=pool_timeout)
            self._pool = self._nodes.pool(host_set.nodes[0])
            # The plain path stays as it is; only this client's pooled sends
            # go through the failover loop.
            self._send_pooled = self._nodes.send  # type: ignore[method-assign]

    @property
    def credentials(self) -> dict[str, Any] | None:
        """The credentials of the last successful :meth:`auth` (None before it)."""
        current = self._pool.credentials if self._nodes is None else self._nodes.credentials
        return dict(current) if current is not None else None

    # ------------------------------------------------------------------
    # The executor
    # ------------------------------------------------------------------

    def run(self, op: Op[T]) -> T:
        """Run an operation to its end, sending each request it yields."""
        scoped: list[str] = []  # transactions the operation opened for itself
        try:
            request = next(op)
            while True:
                try:
                    if type(request) is Command:
                        if events.active:
                            response: Any = self._observed_command(request, scoped)
                        elif self._plainly_pooled(request):  # straight to the pool
                            response = self._send_pooled(request.message, retry=request.retry)
                        else:
                            response = self._command(request, scoped)
                    elif type(request) is HttpRequest:
                        if events.active:
                            response = self._observed_http(request)
                        else:
                            response = self._http_request(request)
                    elif type(request) is CurrentTransaction:
                        response = TransactionInfo(self.in_transaction())
                    else:  # pragma: no cover - an operation bug
                        raise TypeError(f"cannot run a request of type {type(request).__name__}")
                except exc.SoliDBError as err:
                    request = op.throw(err)
                else:
                    request = op.send(response)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            for tx_id in scoped:
                if tx_id in self._transactions:  # abandoned: closing rolls it back
                    self._forget_transaction(tx_id, close=True)

    def _observed_command(self, command: Command, scoped: list[str]) -> protocol.Reply:
        started = time.perf_counter()
        try:
            reply = self._command(command, scoped)
        except BaseException as err:
            self._command_event(command, started, None, err)
            raise
        self._command_event(command, started, reply, None)
        return reply

    def _observed_http(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        try:
            response = self._http_request(request)
        except BaseException as err:
            self._http_event(request, started, None, err)
            raise
        self._http_event(request, started, response.status, None)
        return response

    def _command(self, command: Command, scoped: list[str]) -> protocol.Reply:
        route, tx = self._route(command)
        if route is None:
            return self._send_pooled(command.message, retry=command.retry)
        if route.kind is routing.Route.POOLED:
            return self._send_pooled(route.message, retry=route.retry)
        if route.kind is routing.Route.BEGIN:
            reply = self._begin(route.message)
            assert reply.tx_id is not None
            self._begun(command, reply.tx_id, scoped)
            return reply
        assert tx is not None
        return self._send_pinned(tx, route.message, finishes=route.finishes)

    def _send_pooled(self, message: dict[str, Any], *, retry: bool) -> protocol.Reply:
        pool = self._pool
        conn = pool.acquire()
        try:
            response = conn.request(message)
        except exc.ConnectionError as err:
            pool.release(conn)
            # A read may go again on a new connection; a write that was in
            # flight is never repeated behind the caller's back, nor is a
            # request that used up its deadline.
            if not retry or isinstance(err, exc.TimeoutError):
                raise
            conn = pool.acquire()
            try:
                response = conn.request(message)
            finally:
                pool.release(conn)
            return protocol.interpret(response)
        except BaseException:
            pool.release(conn)
            raise
        pool.release(conn)
        return protocol.interpret(response)

    def _begin(self, message: dict[str, Any]) -> protocol.Reply:
        if self._nodes is not None:
            reply, conn, pool = self._nodes.begin(message)
        else:
            pool = self._pool
            conn = pool.acquire_pinned()
            try:
                reply = protocol.interpret(conn.request(message))
                if not reply.tx_id:
                    raise exc.ProtocolError("begin_transaction answered without a tx_id")
            except BaseException:
                pool.release(conn)
                raise
        assert reply.tx_id is not None
        with self._tx_lock:
            self._transactions[reply.tx_id] = _Transaction(reply.tx_id, conn, pool)
        return reply

    def _send_pinned(self, tx: _Transaction, message: dict[str, Any], *,
                     finishes: bool) -> protocol.Reply:
        try:
            with tx.lock:
                response = tx.conn.request(message)
        except exc.ConnectionError as err:
            self._forget_transaction(tx.tx_id)
            if self._nodes is not None:
                self._nodes.lost(tx.conn, err)
            raise lost_transaction_error(tx.tx_id, message, err) from err
        except BaseException:
            if finishes:
                self._forget_transaction(tx.tx_id)
            raise
        if finishes:
            self._forget_transaction(tx.tx_id)
        return protocol.interpret(response)

    def _forget_transaction(self, tx_id: str, *, close: bool = False) -> None:
        with self._tx_lock:
            tx = self._transactions.pop(tx_id, None)
        _context.remove_transaction(self, tx_id)
        if tx is not None:
            if close:
                tx.conn.close()
            tx.pool.release(tx.conn)

    def _http_request(self, request: HttpRequest) -> HttpResponse:
        if self._nodes is not None:
            return self._nodes.http(request)
        transport = HttpTransport(self.host, self.port, timeout=self._pool.request_timeout)
        status, body = transport.request(
            request.method, request.path, request.body, query=request.query, raw=request.raw,
            headers=HttpTransport.auth_headers(self._pool.credentials), binary=request.binary,
        )
        return HttpResponse(status, body)

    # ------------------------------------------------------------------
    # Connection management
    # ------------------------------------------------------------------

    def connect(self) -> None:
        """Open (and check) a connection now instead of on the first request."""
        if self._nodes is not None:
            self._nodes.connect()
            return
        self._pool.open()
        with self._pool.connection():
            pass

    def close(self) -> None:
        """Roll back open transactions and close every connection."""
        with self._tx_lock:
            pending = list(self._transactions.values())
            self._transactions.clear()
        for tx in pending:
            tx.conn.close()  # closing rolls the transaction back on the server
            tx.pool.release(tx.conn)
        if self._nodes is not None:
            self._nodes.close()
        self._pool.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()




    # ------------------------------------------------------------------
    # Authentication
    # ------------------------------------------------------------------

    def auth(self, database: str, username: str, password: str) -> None:
        """Authenticate; every request from now on uses these credentials.

        When it returns, no request runs on a connection of the previous
        identity (except in transactions begun before, until they end).
        """
        self._authenticate({"database": database, "username": username, "password": password})

    def auth_with_api_key(self, database: str, api_key: str) -> None:
        """Authenticate with an API key instead of a password."""
        self._authenticate(
            {"database": database, "username": "", "password": "", "api_key": api_key}
        )

    def assume_credentials(self, credentials: dict[str, Any]) -> None:
        """Authenticate new connections with ``credentials`` (checked on first use, not now).

        For a client that shares another's identity (a Database's blocking
        and asyncio clients).
        """
        if self._nodes is not None:
            self._nodes.switch_credentials(dict(credentials))
            return
        self._pool.open()
        self._pool.switch_credentials(dict(credentials), None)

    def _authenticate(self, credentials: dict[str, Any]) -> None:
        if self._nodes is not None:
            self._nodes.authenticate(credentials)
            return
        self._pool.open()
        first = self._pool.open_connection(credentials)
        self._pool.switch_credentials(credentials, first)

    def refresh_topology(self) -> list[tuple[str, int]]:
        """Read the cluster status now and add the peers it lists; the addresses added.

        Only for a multi-host client (a single-host one returns ``[]``); with
        ``discover=True`` this also happens every ``refresh_interval`` seconds.
        """
        if self._monitor is None:
            return []
        return [node.address for node in self._monitor.refresh()]

