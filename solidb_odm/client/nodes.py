"""Per-node pools and failover for the blocking executor of a multi-host client.

``Client(hosts=[...])`` sends its pooled requests through :meth:`NodePools.send`
instead of its single pool: the host set says which node to try first, and
the rules in ``failover.py`` say whether a request may go on to the next one
after its node failed. Transactions begin here too, on one node, and stay on
the connection they began on.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Optional

from .. import exceptions as exc
from .. import protocol
from ..ops import HttpRequest, HttpResponse
from . import failover
from .connection import Connection
from .hosts import HostSet, Node, served_by
from .http import HttpTransport
from .pool import ConnectionPool
from .topology import Monitor

Credentials = Mapping[str, Any]


class NodePools:
    """One ``ConnectionPool`` per node, made on first use, and the failover loop over them."""

    def __init__(self, hosts: HostSet, monitor: Monitor, *, size: int,
                 connect_timeout: Optional[float], request_timeout: Optional[float],
                 pool_timeout: Optional[float]) -> None:
        self.hosts = hosts
        self.monitor = monitor
        self.size = size
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.pool_timeout = pool_timeout
        self.credentials: Credentials | None = None
        self._pools: dict[int, ConnectionPool] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- pools ---------------------------------------------------------------

    def pool(self, node: Node) -> ConnectionPool:
        """The pool of ``node``, with the client's current identity."""
        pool = self._pools.get(node.index)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(node.index)
            if pool is None:
                pool = ConnectionPool(node.host, node.port, size=self.size,
                                      connect_timeout=self.connect_timeout,
                                      request_timeout=self.request_timeout,
                                      pool_timeout=self.pool_timeout)
                if self.credentials is not None:
                    pool.switch_credentials(self.credentials, None)
                self._pools[node.index] = pool
        return pool

    def _check_open(self) -> None:
        if self._closed:
            raise exc.ConnectionError("the client is closed")

    def _failed(self, node: Node, err: BaseException) -> None:
        self.hosts.failed(node, err)
        self.monitor.start()

    # -- requests ------------------------------------------------------------

    def send(self, message: dict[str, Any], *, retry: bool) -> protocol.Reply:
        """Send one pooled request, going on to the next node as ``failover.plan`` allows."""
        self._check_open()
        plan = failover.plan(message, retry)
        verify = False  # a keyed insert was in flight on a node that failed
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(plan == failover.READ):
            pool = self.pool(node)
            served_by.set(node.address)  # for the request event, answered or not
            try:
                conn = pool.acquire()
            except failover.PoolTimeoutError:
                raise
            except exc.ConnectionError as err:  # nothing was sent: any request may move on
                self._check_open()
                self._failed(node, err)
                last = err
                continue
            try:
                response = conn.request(message)
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
                confirmed = self._confirm(node, message, conflict)
                if confirmed is not None:
                    return confirmed
                last = exc.ConnectionError(f"{node.host}:{node.port} failed while the "
                                           "retried insert was checked")
        raise failover.exhausted(self.hosts.describe(), last)

    def _confirm(self, node: Node, message: dict[str, Any],
                 conflict: exc.AlreadyExistsError) -> Optional[protocol.Reply]:
        """After a retried keyed insert met its key: done if the stored document is ours.

        Raises the conflict when another document holds the key; None when
        the node failed while reading it back (try the next node).
        """
        pool = self.pool(node)
        try:
            conn = pool.acquire()
            try:
                stored = protocol.interpret(conn.request(failover.lookup_of(message)))
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

    def begin(self, message: dict[str, Any]) -> tuple[protocol.Reply, Connection, ConnectionPool]:
        """Begin a transaction on the first node that answers; its connection stays pinned.

        A ``begin`` lost in flight is sent again elsewhere: a transaction
        opened on a dead connection dies with it and holds nothing.
        """
        self._check_open()
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(False):
            pool = self.pool(node)
            served_by.set(node.address)  # for the request event, answered or not
            try:
                conn = pool.acquire_pinned()
            except failover.PoolTimeoutError:
                raise
            except exc.ConnectionError as err:
                self._check_open()
                self._failed(node, err)
                last = err
                continue
            try:
                reply = protocol.interpret(conn.request(message))
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

    def lost(self, conn: Connection, err: BaseException) -> None:
        """A pinned connection failed: its node is suspect."""
        node = self.hosts.find((conn.host, conn.port))
        if node is not None:
            self._failed(node, err)

    def http(self, request: HttpRequest) -> HttpResponse:
        """One HTTP API call on the first node that answers (reads move on after a failure)."""
        self._check_open()
        reads = failover.http_plan(request.method) == failover.READ
        headers = HttpTransport.auth_headers(self.credentials)
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(reads):
            transport = HttpTransport(node.host, node.port, timeout=self.request_timeout)
            served_by.set(node.address)
            try:
                status, body = transport.request(
                    request.method, request.path, request.body, query=request.query,
                    raw=request.raw, headers=headers, binary=request.binary,
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

    def authenticate(self, credentials: Credentials) -> None:
        """Check ``credentials`` on the first node that answers; then every pool uses them."""
        self._closed = False
        self.monitor.reopen()
        last: Optional[exc.ConnectionError] = None
        for node in self.hosts.candidates(False):
            pool = self.pool(node)
            pool.open()
            try:
                first = pool.open_connection(credentials)
            except exc.ConnectionError as err:
                self._failed(node, err)
                last = err
                continue
            self.hosts.answered(node)
            self.switch_credentials(credentials, node, first)
            return
        raise failover.exhausted(self.hosts.describe(), last)

    def switch_credentials(self, credentials: Credentials, node: Optional[Node] = None,
                           first: Optional[Connection] = None) -> None:
        """Every pool (and each made later) authenticates with ``credentials``."""
        self._closed = False
        self.monitor.reopen()
        self.credentials = credentials
        for index, pool in list(self._pools.items()):
            pool.open()
            pool.switch_credentials(credentials, first if node and index == node.index else None)
        if self.monitor.discover:
            self.monitor.start()

    def connect(self) -> None:
        """Open one connection to the first node that answers."""
        self._closed = False
        self.monitor.reopen()
        for pool in self._pools.values():
            pool.open()
        message = protocol.command("ping")
        self.send(message, retry=True)

    def close(self) -> None:
        """Close every pool and stop the monitor."""
        self._closed = True
        self.monitor.stop()
        for pool in list(self._pools.values()):
            pool.close()
