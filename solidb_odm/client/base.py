"""What the blocking and the asyncio executor share, none of it I/O.

Where the server is, the database chosen with ``use_database``, the
transactions open on the client, and the decision of where a command goes:
each executor only does the I/O that decision asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Optional, Protocol, TypeVar

from typing_extensions import Self

from .. import _context, events, protocol
from .. import exceptions as exc
from ..ops import AUTO, Command, HttpRequest
from . import routing
from .commands import ClientOps
from .hosts import HostSet, HostSpec, NodeHealth, parse_hosts, served_by
from .state import ClientState
from .topology import Monitor


class OpenTransaction(Protocol):
    @property
    def tx_id(self) -> str: ...


Tx = TypeVar("Tx", bound=OpenTransaction)


class ExecutorBase(Generic[Tx]):
    """The non-I/O half of ``Client`` and ``AsyncClient``."""

    _state: ClientState
    _ops: ClientOps
    #: open transactions by id, each with the connection pinned to it
    _transactions: dict[str, Tx]
    _subclients: dict[str, Any]
    #: the nodes of a multi-host client (None: one server, the plain path)
    _hosts: HostSet | None
    _monitor: Monitor | None

    def _init_base(self, host: str, port: int) -> ClientState:
        self._state = ClientState(host, port)
        self._transactions = {}
        self._subclients = {}
        self._hosts = None
        self._monitor = None
        return self._state

    def _init_hosts(
        self,
        hosts: Iterable[HostSpec],
        credentials: Callable[[], Optional[Mapping[str, Any]]],
        *,
        strategy: str,
        discover: bool,
        refresh_interval: float,
        backoff: float,
        max_backoff: float,
        rejoin_delay: float,
        probe_timeout: float | None,
    ) -> tuple[HostSet, Monitor]:
        """The host set and monitor of a multi-host client; the first node is ``host``/``port``."""
        host_set = HostSet(parse_hosts(hosts), strategy=strategy, backoff=backoff,
                           max_backoff=max_backoff, rejoin_delay=rejoin_delay)
        self._hosts = host_set
        self._monitor = Monitor(host_set, credentials, probe_timeout=probe_timeout,
                                discover=discover, refresh_interval=refresh_interval)
        return host_set, self._monitor

    @property
    def nodes(self) -> tuple[NodeHealth, ...]:
        """What the client knows of each node: up or down, failures, failovers.

        A single-host client tracks no health and reports its server as up.
        """
        if self._hosts is None:
            return (NodeHealth(host=self.host, port=self.port, state="up", failures=0,
                               total_failures=0, failovers=0, answered=0, last_error=None,
                               down_for=None,
                               discovered=False),)
        return self._hosts.health()

    @property
    def multi_host(self) -> bool:
        """Whether this client was given a host list (and fails over between nodes)."""
        return self._hosts is not None

    def host_options(self) -> dict[str, Any]:
        """The keyword arguments that make another client for the same nodes, the same way."""
        if self._hosts is None or self._monitor is None:
            return {}
        hosts = self._hosts
        monitor = self._monitor
        return {
            "hosts": [n.address for n in hosts.nodes if not n.discovered],
            "strategy": hosts.strategy, "discover": monitor.discover,
            "refresh_interval": monitor.refresh_interval, "backoff": hosts.backoff,
            "max_backoff": hosts.max_backoff, "rejoin_delay": hosts.rejoin_delay,
            "probe_timeout": monitor.probe_timeout,
        }

    @property
    def host(self) -> str:
        return self._state.host

    @property
    def port(self) -> int:
        return self._state.port

    @property
    def state(self) -> ClientState:
        """Host, port and the selected database (shared with the sub-clients' operations)."""
        return self._state

    @property
    def ops(self) -> ClientOps:
        """The operations behind this client's methods, to run with ``run()`` elsewhere."""
        return self._ops

    def use_database(self, name: str) -> Self:
        """Set the database the sub-clients work on; returns the client."""
        self._state.use_database(name)
        return self

    @property
    def database(self) -> str | None:
        return self._state.database

    def in_transaction(self) -> str | None:
        """The id of the innermost transaction open in the caller's context, if any."""
        for tx_id in reversed(_context.transactions_of(self)):
            if tx_id in self._transactions:
                return tx_id
        return None

    def _plainly_pooled(self, command: Command) -> bool:
        """No transaction is open on this client and ``command`` opens none: it goes to
        the pool as it is (the hot path, which the executors take without routing)."""
        return (command.tx is AUTO and not self._transactions
                and command.message["cmd"] != routing.BEGIN_COMMAND)

    def _route(self, command: Command) -> tuple[routing.Route | None, Tx | None]:
        """Where ``command`` goes: (None, None) means "pooled, as it is" (the hot path).

        ``AUTO`` resolves to the caller's open transaction (one that ended in
        another context is ignored); an explicit id must be open here.
        """
        if self._plainly_pooled(command):
            return None, None
        ref = command.tx
        message = command.message
        tx: Tx | None = None
        if ref is AUTO:
            current = _context.current_transaction(self)
            if current is not None:
                tx = self._transactions.get(current)
        elif isinstance(ref, str):
            tx = self._transactions.get(ref)
            if tx is None:
                raise exc.TransactionError(
                    f"Transaction not found: {ref!r} is not open on this client"
                )
        return routing.route(message, command.retry, tx.tx_id if tx else None), tx

    def _begun(self, command: Command, tx_id: str, scoped: list[str]) -> None:
        """A transaction began: the caller's context joins it (AUTO), or the operation owns it."""
        if command.tx is AUTO:
            _context.push_transaction(self, tx_id)
        else:
            scoped.append(tx_id)

    # -- instrumentation (only while an observer is registered: see events.py) ------

    def _command_event(self, command: Command, started: float,
                       reply: protocol.Reply | None, error: BaseException | None) -> None:
        tx = command.tx
        tx_id = tx if isinstance(tx, str) else (self.in_transaction() if tx is AUTO else None)
        fields = events.describe(command.message, tx_id)
        host, port = self._where()
        if reply is not None and reply.tx_id and fields["operation"] == routing.BEGIN_COMMAND:
            fields["tx_id"] = reply.tx_id
        events.emit(events.RequestEvent(
            duration=time.perf_counter() - started,
            rows=None if reply is None else events.rows_of(reply.data, reply.count),
            host=host, port=port, error=error, **fields,
        ))

    def _http_event(self, request: HttpRequest, started: float, status: int | None,
                    error: BaseException | None) -> None:
        host, port = self._where()
        fields = events.describe_http(request.method, request.path, request.body,
                                      self._state.database)
        events.emit(events.RequestEvent(
            collection=None, duration=time.perf_counter() - started, rows=None, host=host,
            port=port, tx_id=None, error=error, **fields,
        ))

    def _where(self) -> tuple[str, int]:
        """The node that served the caller's last request (the one server, without hosts)."""
        if self._hosts is not None:
            address = served_by.get()
            if address is not None:
                return address
        return self.host, self.port
