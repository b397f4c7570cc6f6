"""Per-node pools and failover for the asyncio executor of a multi-host client.

The same loop as ``nodes.py`` (the blocking one), awaiting: the host set
picks the node, ``failover.py`` says whether a request may move on after its
node failed. Connections belong to an event loop, so each loop gets its own
pool per node; the host set and its health are shared by all of them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .. import exceptions as exc
from .. import protocol
from ..ops import HttpRequest, HttpResponse
from . import failover
from .aconnection import AsyncConnection
from .apool import AsyncConnectionPool
from .hosts import HostSet, Node, served_by
from .http import HttpTransport
from .topology import Monitor

Credentials = Mapping[str, Any]


class AsyncNodePools:
    """One ``AsyncConnectionPool`` per node and event loop, and the failover loop over them."""

    def __init__(self, hosts: HostSet, monitor: Monitor,
                 credentials: Callable[[], Credentials | None], *, size: int,
                 connect_timeout: Optional[float], request_timeout: Optional[float],
                 pool_timeout: Optional[float]) -> None:
        self.hosts = hosts
        self.monitor = monitor
        self.credentials = credentials
        self.size = size
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.pool_timeout = pool_timeout
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[int, AsyncConnectionPool]
        ] = weakref.WeakKeyDictionary()
        self.closed = False

    # -- pools ---------------------------------------------------------------

    def pool(self, node: Node) -> AsyncConnectionPool:
        """The running loop's pool of ``node`` (made on first use)."""
        loop = asyncio.get_running_loop()
        pools = self._pools.get(loop)
        if pools is None:
            if self.closed:
                raise exc.ConnectionError("the client is closed")
            pools = self._pools[loop] = {}
        pool = pools.get(node.index)
        if pool is None:
            pool = pools[node.index] = AsyncConnectionPool(
                node.host, node.port, self.credentials, size=self.size,
                connect_timeout=self.connect_timeout, request_timeout=self.request_timeout,
                pool_timeout=self.pool_timeout,
            )
        return pool

    def _check_open(self) -> None:
        if self.closed:
            raise exc.ConnectionError("the client is closed")

    def _failed(self, node: Node, err: BaseException) -> None:
        self.hosts.failed(node, err)
        self.monitor.start()

    # -- requests ------------------------------------------------------------

    async def send(self, message: dict[str, Any], *, retry: bool) -> protocol.Reply:
        """Send one pooled request, going on to the next node as ``failover.plan`` allows."""
        self._check_open()
        plan = failover.plan(message, retry)
        limit = (protocol.MAX_MESSAGE_SIZE if self.credentials() is not None
                 else protocol.MAX_PREAUTH_MESSAGE_SIZE)
        frame = protocol.encode_frame(message, limit=limit)  # an encoding error sends nothing
        verify = False
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(plan == failover.READ):
            pool = self.pool(node)
            served_by.set(node.address)  # for the request event, answered or not
            try:
                conn = pool.try_acquire() or await pool.acquire()
            except failover.PoolTimeoutError:
                raise
            except exc.ConnectionError as err:  # nothing was sent
                self._check_open()
                self._failed(node, err)
                last = err
                continue
            try:
                response = await conn.request_frame(frame)
            except exc.ConnectionError as err:
                self._failed(node, err)
                if plan == failover.NEVER:
                    raise
                verify = verify or plan == failover.KEYED_INSERT
                last = err
                continue
            finally:
                pool.release(conn)
            self.hosts.answered(node)
            if not verify:
                return protocol.interpret(response)
            try:
                return protocol.interpret(response)
            except exc.AlreadyExistsError as conflict:
                if not failover.key_taken(conflict):  # a unique index: not our question
                    raise
                confirmed = await self._confirm(node, message, conflict)
                if confirmed is not None:
                    return confirmed
                last = exc.ConnectionError(f"{node.host}:{node.port} failed while the "
                                           "retried insert was checked")
        raise failover.exhausted(self.hosts.describe(), last)

    async def _confirm(self, node: Node, message: dict[str, Any],
                       conflict: exc.AlreadyExistsError) -> Optional[protocol.Reply]:
        """See ``NodePools._confirm``: done if the stored document is the one sent."""
        pool = self.pool(node)
        try:
            conn = pool.try_acquire() or await pool.acquire()
            try:
                stored = protocol.interpret(await conn.request(failover.lookup_of(message)))
            finally:
                pool.release(conn)
        except failover.PoolTimeoutError:
            raise
        except exc.ConnectionError as err:
            self._failed(node, err)
            return None
        key = failover.chosen_key(message)
        assert key is not None
        if failover.same_document(message.get("document") or {}, key, stored.data):
            return stored
        raise conflict

    async def begin(self, message: dict[str, Any]
                    ) -> tuple[protocol.Reply, AsyncConnection, AsyncConnectionPool]:
        """Begin a transaction on the first node that answers (see ``NodePools.begin``)."""
        self._check_open()
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(False):
            pool = self.pool(node)
            served_by.set(node.address)  # for the request event, answered or not
            try:
                conn = await pool.acquire_pinned()
            except failover.PoolTimeoutError:
                raise
            except exc.ConnectionError as err:
                self._check_open()
                self._failed(node, err)
                last = err
                continue
            try:
                reply = protocol.interpret(await conn.request(message))
                if not reply.tx_id:
                    raise exc.ProtocolError("begin_transaction answered without a tx_id")
            except exc.ConnectionError as err:
                pool.release(conn)
                self._failed(node, err)
                last = err
                continue
            except BaseException:
                pool.release(conn)
                raise
            self.hosts.answered(node)
            return reply, conn, pool
        raise failover.exhausted(self.hosts.describe(), last)

    def lost(self, conn: AsyncConnection, err: BaseException) -> None:
        """A pinned connection failed: its node is suspect."""
        node = self.hosts.find((conn.host, conn.port))
        if node is not None:
            self._failed(node, err)

    async def http(self, request: HttpRequest) -> HttpResponse:
        """One HTTP API call on the first node that answers, in a worker thread."""
        self._check_open()
        reads = failover.http_plan(request.method) == failover.READ
        headers = HttpTransport.auth_headers(self.credentials())
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(reads):
            transport = HttpTransport(node.host, node.port, timeout=self.request_timeout)
            served_by.set(node.address)
            try:
                status, body = await asyncio.to_thread(
                    transport.request, request.method, request.path, request.body,
                    query=request.query, raw=request.raw, headers=headers,
                    binary=request.binary,
                )
            except failover.NotSentError as err:
                self._failed(node, err)
                last = err
                continue
            except exc.ConnectionError as err:
                self._failed(node, err)
                if not reads:
                    raise
                last = err
                continue
            self.hosts.answered(node)
            return HttpResponse(status, body)
        raise failover.exhausted(self.hosts.describe(), last)

    # -- identity and lifecycle ------------------------------------------------

    async def authenticate(self, credentials: Credentials) -> tuple[AsyncConnectionPool,
                                                                    AsyncConnection]:
        """Check ``credentials`` on the first node that answers; its pool and connection."""
        self.closed = False
        self.monitor.reopen()
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(False):
            pool = self.pool(node)
            served_by.set(node.address)  # for the request event, answered or not
            try:
                first = await pool.open_connection(credentials)
            except exc.ConnectionError as err:
                self._failed(node, err)
                last = err
                continue
            self.hosts.answered(node)
            return pool, first
        raise failover.exhausted(self.hosts.describe(), last)

    def reopen(self) -> None:
        self.closed = False
        self.monitor.reopen()
        if self.monitor.discover and self.credentials() is not None:
            self.monitor.start()

    def pools(self) -> list[AsyncConnectionPool]:
        """Every pool of every loop."""
        return [pool for pools in list(self._pools.values()) for pool in pools.values()]

    def close(self) -> None:
        """Close every pool (of every loop) and stop the monitor."""
        self.closed = True
        self.monitor.stop()
        for pool in self.pools():
            try:
                pool.close()
            except RuntimeError:  # its event loop is already closed
                pass
        self._pools.clear()

