"""The nodes a multi-host client knows, their health, and which one a request goes to.

No I/O here: the executors report what happened (a node failed, a probe
answered) and ask where to send the next request. A failed node is *down*
for a back-off that doubles with each consecutive failure; the monitor
(``topology.py``) probes it when the back-off ends and brings it back.

Strategies:

- ``"fallback"`` (the default): every request goes to one node, the first
  that works in the order given. The choice is sticky: when that node fails
  the next one takes over and keeps the traffic after the first comes back,
  so a client never moves to a node that may still be catching up.
- ``"round_robin"``: reads rotate over every node that is up; writes go to
  the fallback node, as above.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Optional, Union

from .. import exceptions as exc

Address = tuple[str, int]
HostSpec = Union[str, Address, Sequence[object]]

STRATEGIES = ("fallback", "round_robin")

UP = "up"
DOWN = "down"

#: The node that answered the caller's last request on a multi-host client
#: (a transaction's requests go to the node it began on), for request events.
served_by: ContextVar[Optional[Address]] = ContextVar("solidb_odm_served_by", default=None)


def parse_host(spec: HostSpec, default_port: int = 6745) -> Address:
    """``"h:p"``, ``"h"``, ``"[::1]:p"`` or ``("h", p)`` -> ``(host, port)``."""
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise exc.ValidationError("empty host in the host list")
        if text.startswith("["):  # [IPv6]:port
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        else:
            host, port_text = text, ""
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise exc.ValidationError(f"bad port in host {spec!r}") from None
        return _checked(host, port, spec)
    if isinstance(spec, Sequence) and len(spec) == 2:
        name, number = spec[0], spec[1]
        if isinstance(name, str) and isinstance(number, int) and not isinstance(number, bool):
            return _checked(name, number, spec)
    raise exc.ValidationError(f"a host is 'host:port' or (host, port), got {spec!r}")


def _checked(host: str, port: int, spec: object) -> Address:
    if not host or not 0 < port < 65536:
        raise exc.ValidationError(f"bad host {spec!r}")
    return host, port


def parse_hosts(specs: Iterable[HostSpec], default_port: int = 6745) -> list[Address]:
    """A list of distinct addresses, in the order given."""
    seen: list[Address] = []
    for spec in specs:
        address = parse_host(spec, default_port)
        if address not in seen:
            seen.append(address)
    if not seen:
        raise exc.ValidationError("the host list is empty")
    return seen


@dataclass(frozen=True)
class NodeHealth:
    """What a client knows of one node, at the moment it was asked (``client.nodes``)."""

    host: str
    port: int
    state: str
    """``"up"`` or ``"down"``."""
    failures: int
    """Consecutive failures (0 once it answers again)."""
    total_failures: int
    """Failures since the client was made."""
    failovers: int
    """Requests that left this node for another one."""
    answered: int
    """Requests this node answered."""
    last_error: Optional[str]
    down_for: Optional[float]
    """Seconds since it was marked down (None while up)."""
    discovered: bool
    """Learnt from a node's cluster status rather than given to the client."""


class Node:
    """One server of the cluster and its health (changed under the host set's lock)."""

    __slots__ = ("address", "answers", "discovered", "down_since", "failovers", "failures", "host",
                 "index", "last_error", "port", "ready_at", "retry_at", "total_failures")

    def __init__(self, address: Address, index: int, *, discovered: bool = False) -> None:
        self.address = address
        self.host, self.port = address
        self.index = index
        self.discovered = discovered
        self.failures = 0
        self.total_failures = 0
        self.failovers = 0
        self.answers = 0
        self.last_error: Optional[str] = None
        self.down_since: Optional[float] = None
        self.retry_at = 0.0
        #: back up since a probe, but maybe still catching up: round-robin
        #: reads leave it out until then
        self.ready_at = 0.0

    @property
    def up(self) -> bool:
        return self.down_since is None

    def __repr__(self) -> str:
        return f"<Node {self.host}:{self.port} {'up' if self.up else 'down'}>"


class HostSet:
    """The nodes, their health, and the order in which to try them for a request."""

    def __init__(
        self,
        addresses: Sequence[Address],
        *,
        strategy: str = "fallback",
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        rejoin_delay: float = 5.0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise exc.ValidationError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")
        if backoff <= 0 or max_backoff < backoff:
            raise exc.ValidationError("backoff must be positive and at most max_backoff")
        self.strategy = strategy
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rejoin_delay = rejoin_delay
        self.nodes: list[Node] = [Node(a, i) for i, a in enumerate(addresses)]
        self._lock = threading.Lock()
        self._primary = 0
        self._turn = itertools.count()
        self._round_robin = strategy == "round_robin"
        self._rotations: tuple[tuple[Node, ...], ...] = ()
        self._reorder()
        #: every node up and caught up: candidates() takes the fast path
        self._healthy = True
        #: bumped on every change of health, so the monitor knows when to look
        self.changed = threading.Event()

    # -- choosing ------------------------------------------------------------

    @property
    def primary(self) -> Node:
        """The node fallback traffic goes to now."""
        return self.nodes[self._primary]

    def candidates(self, read: bool) -> Sequence[Node]:
        """The nodes to try for one request, best first; never empty.

        Nodes that are up come first (for a read with round-robin, starting
        at the next one in turn; otherwise at the fallback node); down nodes
        follow, soonest due for a retry first, as a last resort rather than
        no answer at all. While every node is up this is a lookup in orders
        made in advance: the cost a multi-host client adds to each request.
        """
        if self._healthy:
            if read and self._round_robin:
                rotations = self._rotations
                return rotations[next(self._turn) % len(rotations)]
            return self._rotations[self._primary]
        return self._degraded_candidates(read)

    def _degraded_candidates(self, read: bool) -> list[Node]:
        nodes = self.nodes
        count = len(nodes)
        if self._round_robin and read:
            start = next(self._turn) % count
        else:
            start = self._primary
        order = nodes[start:] + nodes[:start] if start else list(nodes)
        up = [n for n in order if n.down_since is None]
        if any(n.ready_at for n in up):
            now = time.monotonic()
            for node in up:
                if node.ready_at and node.ready_at <= now:
                    node.ready_at = 0.0  # caught up by now, as far as anyone can tell
            if self._round_robin and read:
                up = [n for n in up if n.ready_at <= now] + [n for n in up if n.ready_at > now]
        if len(up) == count:
            if not any(n.ready_at for n in up):
                with self._lock:  # checked again: a failure may have come in meanwhile
                    self._healthy = all(n.down_since is None and not n.ready_at
                                        for n in self.nodes)
            return up
        down = sorted((n for n in order if n.down_since is not None), key=lambda n: n.retry_at)
        return up + down

    def _reorder(self) -> None:
        """Under the lock (or alone): the rotations of the node list, one per start."""
        nodes = tuple(self.nodes)
        self._rotations = tuple(nodes[i:] + nodes[:i] for i in range(len(nodes)))

    # -- reporting -----------------------------------------------------------

    def failed(self, node: Node, error: BaseException, *, moved: bool = True) -> None:
        """``node`` did not answer: down now, retried after a back-off that doubles."""
        now = time.monotonic()
        with self._lock:
            node.failures += 1
            node.total_failures += 1
            if moved:
                node.failovers += 1
            node.last_error = f"{type(error).__name__}: {error}"
            self._healthy = False
            if node.down_since is None:
                node.down_since = now
            delay = min(self.backoff * (2 ** (node.failures - 1)), self.max_backoff)
            node.retry_at = now + delay
            if node.index == self._primary:
                self._move_primary()
        self.changed.set()

    def answered(self, node: Node, *, probe: bool = False) -> None:
        """``node`` answered a request (or, with ``probe``, a health check): up again.

        A node a probe brings back may still be pulling the writes it missed:
        round-robin reads leave it out for ``rejoin_delay`` seconds (the
        server reports no "caught up" state to wait for instead).
        """
        if not probe:
            node.answers += 1  # not under the lock: a statistic, not a decision
        if node.down_since is None and not node.failures:
            return
        with self._lock:
            node.failures = 0
            if probe and node.down_since is not None:
                node.ready_at = time.monotonic() + self.rejoin_delay
                self._healthy = False  # until the node has had time to catch up
            node.down_since = None
            node.retry_at = 0.0
            if self.nodes[self._primary].down_since is not None:
                self._primary = node.index
        self.changed.set()

    def _move_primary(self) -> None:
        """Under the lock: the next node that is up, in the order given, takes over."""
        count = len(self.nodes)
        for step in range(1, count + 1):
            candidate = self.nodes[(self._primary + step) % count]
            if candidate.down_since is None:
                self._primary = candidate.index
                return

    def due_for_probe(self, now: Optional[float] = None) -> list[Node]:
        """Down nodes whose back-off has ended."""
        moment = time.monotonic() if now is None else now
        return [n for n in self.nodes if n.down_since is not None and n.retry_at <= moment]

    def next_probe_in(self) -> Optional[float]:
        """Seconds until the next down node is due for a probe (None: all are up)."""
        times = [n.retry_at for n in self.nodes if n.down_since is not None]
        return None if not times else max(0.0, min(times) - time.monotonic())

    def add(self, address: Address) -> Optional[Node]:
        """Learn a node from the cluster's topology (None: it was known)."""
        with self._lock:
            if any(n.address == address for n in self.nodes):
                return None
            node = Node(address, len(self.nodes), discovered=True)
            self.nodes = [*self.nodes, node]  # replaced, never changed: readers need no lock
            self._reorder()
        self.changed.set()
        return node

    def describe(self) -> str:
        """``"h1:p1, h2:p2"``, for error messages."""
        return ", ".join(f"{n.host}:{n.port}" for n in self.nodes)

    def find(self, address: Address) -> Optional[Node]:
        for node in self.nodes:
            if node.address == address:
                return node
        return None

    def health(self) -> tuple[NodeHealth, ...]:
        now = time.monotonic()
        return tuple(
            NodeHealth(
                host=n.host, port=n.port, state=UP if n.up else DOWN, failures=n.failures,
                total_failures=n.total_failures, failovers=n.failovers, answered=n.answers,
                last_error=n.last_error,
                down_for=None if n.down_since is None else now - n.down_since,
                discovered=n.discovered,
            )
            for n in self.nodes
        )
