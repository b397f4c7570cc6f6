"""The low-level asyncio client: ``Client``'s methods, awaitable.

``AsyncClient`` is the asyncio executor: :meth:`AsyncClient.run` runs the
same operations as ``Client.run`` (see :mod:`solidb_odm.ops`) over asyncio
connections. Every public method has the name, arguments and result of the
blocking one; each is one line over the shared operation. Connections belong
to an event loop, so each loop that uses the client gets its own pool.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeVar

from .. import _context, events, protocol
from .. import exceptions as exc
from ..ops import Command, CurrentTransaction, HttpRequest, HttpResponse, Op, TransactionInfo
from . import routing
from .aconnection import AsyncConnection
from .anodes import AsyncNodePools
from .apool import AsyncConnectionPool, Credentials
from .base import ExecutorBase
from .commands import AsyncClientMethods, ClientOps
from .facade import AsyncFacade
from .failover import lost_transaction_error
from .hosts import HostSpec
from .http import HttpTransport
from .subclients import AsyncSubclients

T = TypeVar("T")


class _AsyncTransaction:
    """An open server transaction and the connection it is pinned to."""

    __slots__ = ("conn", "lock", "pool", "tx_id")

    def __init__(self, tx_id: str, conn: AsyncConnection, pool: AsyncConnectionPool) -> None:
        self.tx_id = tx_id
        self.conn = conn
        self.pool = pool
        self.lock = asyncio.Lock()  # one request at a time on the pinned connection


class AsyncClient(ExecutorBase["_AsyncTransaction"], AsyncClientMethods, AsyncSubclients):
    """An asyncio client for one SoliDB server; safe to share between tasks.

    The same methods as ``Client``, awaitable, with the same arguments,
    results and errors. It keeps one connection pool per event loop, so one
    client also serves code that runs several loops (``asyncio.run`` in
    several threads).

        async with AsyncClient("127.0.0.1", 6745) as client:
            await client.auth("_system", "admin", "password")
            rows = await client.query("mydb", "FOR u IN users RETURN u")

    ``hosts=[...]`` and the cluster options work as for ``Client``; each event
    loop gets one pool per node, and all of them share the nodes' health.
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
        self._nodes: AsyncNodePools | None = None
        if hosts is not None:
            host_set, monitor = self._init_hosts(
                hosts, lambda: self._credentials, strategy=strategy, discover=discover,
                refresh_interval=refresh_interval, backoff=backoff, max_backoff=max_backoff,
                rejoin_delay=rejoin_delay, probe_timeout=probe_timeout,
            )
            host, port = host_set.nodes[0].address
        AsyncFacade.__init__(self, ClientOps(self._init_base(host, port)), self)
        if pool_size < 1:
            raise exc.ValidationError("pool size must be at least 1")
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.pool_timeout = pool_timeout
        self._credentials: Credentials | None = None
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        #: the pool used last, found without a weak-dictionary lookup
        self._last_loop: asyncio.AbstractEventLoop | None = None
        self._last_pool: AsyncConnectionPool | None = None
        if hosts is not None:
            self._hosts, self._monitor = host_set, monitor
            self._nodes = AsyncNodePools(
                host_set, monitor, lambda: self._credentials, size=pool_size,
                connect_timeout=connect_timeout, request_timeout=timeout,
                pool_timeout=pool_timeout,
            )
            # Only this client's pooled sends go through the failover loop.
            self._send_pooled = self._nodes.send  # type: ignore[method-assign]

    @property
    def credentials(self) -> dict[str, Any] | None:
        """The credentials in use: the last successful :meth:`auth`'s, or those
        given to :meth:`assume_credentials` (None before either).
        """
        return dict(self._credentials) if self._credentials is not None else None

    def _pool(self) -> AsyncConnectionPool:
        """The pool of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        if loop is self._last_loop and self._last_pool is not None:
            return self._last_pool
        pool = self._pools.get(loop)
        if pool is None:
            if self._closed:
                raise exc.ConnectionError("the client is closed")
            pool = self._pools[loop] = AsyncConnectionPool(
                self.host, self.port, lambda: self._credentials, size=self.pool_size,
                connect_timeout=self.connect_timeout, request_timeout=self.timeout,
                pool_timeout=self.pool_timeout,
            )
        self._last_loop, self._last_pool = loop, pool
        return pool

    # ------------------------------------------------------------------
    # The executor
    # ------------------------------------------------------------------

    async def run(self, op: Op[T]) -> T:
        """Run an operation to its end, awaiting each request it yields."""
        scoped: list[str] = []
        try:
            request = next(op)
            while True:
                try:
                    if type(request) is Command:
                        if events.active:
                            response: Any = await self._observed_command(request, scoped)
                        else:
                            response = await self._command(request, scoped)
                    elif type(request) is HttpRequest:
                        if events.active:
                            response = await self._observed_http(request)
                        else:
                            response = await self._http_request(request)
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

    async def _observed_command(self, command: Command, scoped: list[str]) -> protocol.Reply:
        started = time.perf_counter()
        try:
            reply = await self._command(command, scoped)
        except BaseException as err:
            self._command_event(command, started, None, err)
            raise
        self._command_event(command, started, reply, None)
        return reply

    async def _observed_http(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        try:
            response = await self._http_request(request)
        except BaseException as err:
            self._http_event(request, started, None, err)
            raise
        self._http_event(request, started, response.status, None)
        return response

    async def _command(self, command: Command, scoped: list[str]) -> protocol.Reply:
        route, tx = self._route(command)
        if route is None:
            return await self._send_pooled(command.message, retry=command.retry)
        if route.kind is routing.Route.POOLED:
            return await self._send_pooled(route.message, retry=route.retry)
        if route.kind is routing.Route.BEGIN:
            reply = await self._begin(route.message)
            assert reply.tx_id is not None
            self._begun(command, reply.tx_id, scoped)
            return reply
        assert tx is not None
        return await self._send_pinned(tx, route.message, finishes=route.finishes)

    async def _send_pooled(self, message: dict[str, Any], *, retry: bool) -> protocol.Reply:
        pool = self._pool()
        # Encoded once, before a connection is taken: an encoding error sends nothing.
        limit = (protocol.MAX_MESSAGE_SIZE if self._credentials is not None
                 else protocol.MAX_PREAUTH_MESSAGE_SIZE)
        frame = protocol.encode_frame(message, limit=limit)
        for attempt in (1, 2):
            conn = pool.try_acquire() or await pool.acquire()
            try:
                response = await conn.request_frame(frame)
            except exc.TimeoutError:
                raise
            except exc.ConnectionError:
                if retry and attempt == 1:
                    continue
                raise
            finally:
                pool.release(conn)
            return protocol.interpret(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _begin(self, message: dict[str, Any]) -> protocol.Reply:
        if self._nodes is not None:
            reply, conn, pool = await self._nodes.begin(message)
        else:
            pool = self._pool()
            conn = await pool.acquire_pinned()
            try:
                reply = protocol.interpret(await conn.request(message))
                if not reply.tx_id:
                    raise exc.ProtocolError("begin_transaction answered without a tx_id")
            except BaseException:
                pool.release(conn)
                raise
        assert reply.tx_id is not None
        self._transactions[reply.tx_id] = _AsyncTransaction(reply.tx_id, conn, pool)
        return reply

    async def _send_pinned(self, tx: _AsyncTransaction, message: dict[str, Any], *,
                           finishes: bool) -> protocol.Reply:
        try:
            async with tx.lock:
                response = await tx.conn.request(message)
        except exc.ConnectionError as err:
            self._forget_transaction(tx.tx_id)
            if self._nodes is not None:
                self._nodes.lost(tx.conn, err)
            raise lost_transaction_error(tx.tx_id, message, err) from err
        except BaseException:
            if finishes or tx.conn.broken:
                self._forget_transaction(tx.tx_id)
            raise
        if finishes:
            self._forget_transaction(tx.tx_id)
        return protocol.interpret(response)

    def _forget_transaction(self, tx_id: str, *, close: bool = False) -> None:
        tx = self._transactions.pop(tx_id, None)
        _context.remove_transaction(self, tx_id)
        if tx is not None:
            if close:
                tx.conn.close()
            tx.pool.release(tx.conn)

    async def _http_request(self, request: HttpRequest) -> HttpResponse:
        """The HTTP API over the blocking transport in a worker thread.

        Only management calls use HTTP; a thread keeps one HTTP implementation
        for both executors. ``to_thread`` copies the context, as everything
        else here does.
        """
        if self._nodes is not None:
            return await self._nodes.http(request)
        transport = HttpTransport(self.host, self.port, timeout=self.timeout)
        status, body = await asyncio.to_thread(
            transport.request, request.method, request.path, request.body,
            query=request.query, raw=request.raw,
            headers=HttpTransport.auth_headers(self._credentials), binary=request.binary,
        )
        return HttpResponse(status, body)

    # ------------------------------------------------------------------
    # Connection management
    # ------------------------------------------------------------------

    async def connect(self) -> None:
        """Open (and check) a connection now instead of on the first request."""
        self._closed = False
        if self._nodes is not None:
            self._nodes.reopen()
            await self._nodes.send(protocol.command("ping"), retry=True)
            return
        pool = self._pool()
        pool.release(await pool.acquire())

    async def close(self) -> None:
        """Roll back open transactions and close every connection (of every loop)."""
        self._closed = True
        for tx in list(self._transactions.values()):
            tx.conn.close()
            tx.pool.release(tx.conn)
        self._transactions.clear()
        for pool in list(self._pools.values()):
            pool.close()
        self._pools.clear()
        if self._nodes is not None:
            self._nodes.close()

    def close_idle(self) -> None:
        """Close idle connections from blocking code (for a shutdown that cannot await)."""
        self._closed = True
        for pool in list(self._pools.values()):
            try:
                pool.close()
            except RuntimeError:  # its event loop is already closed
                pass
        self._pools.clear()
        self._last_loop = self._last_pool = None
        if self._nodes is not None:
            self._nodes.close()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()




    # ------------------------------------------------------------------
    # Authentication
    # ------------------------------------------------------------------

    async def auth(self, database: str, username: str, password: str) -> None:
        """Authenticate; every request from now on uses these credentials."""
        await self._authenticate(
            {"database": database, "username": username, "password": password}
        )

    async def auth_with_api_key(self, database: str, api_key: str) -> None:
        """Authenticate with an API key instead of a password."""
        await self._authenticate(
            {"database": database, "username": "", "password": "", "api_key": api_key}
        )

    def assume_credentials(self, credentials: dict[str, Any]) -> None:
        """Authenticate new connections with ``credentials`` (checked on first use, not now).

        For a client that shares another's identity (a Database's blocking
        and asyncio clients). Idle connections of another identity close on
        their next checkout.
        """
        self._closed = False
        self._credentials = dict(credentials)
        if self._nodes is not None:
            self._nodes.reopen()

    async def _authenticate(self, credentials: dict[str, Any]) -> None:
        self._closed = False
        if self._nodes is not None:
            pool, first = await self._nodes.authenticate(credentials)
        else:
            pool = self._pool()
            first = await pool.open_connection(credentials)
        self._credentials = credentials
        await pool.retire_stale(credentials, first)
        if self._nodes is not None:
            self._nodes.reopen()

    async def refresh_topology(self) -> list[tuple[str, int]]:
        """Read the cluster status now and add the peers it lists (see ``Client``)."""
        monitor = self._monitor
        if monitor is None:
            return []
        added = await asyncio.to_thread(monitor.refresh)
        return [node.address for node in added]
