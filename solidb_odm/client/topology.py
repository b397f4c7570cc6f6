"""The background half of a multi-host client: probing down nodes, learning new ones.

One daemon thread per client, started when a node first fails (or, with
discovery, when the client first has credentials), serves both executors:
the host set it updates is shared, and a probe is a blocking ``ping`` that
needs no event loop.

- **Probing.** A node marked down gets no traffic while another node is up.
  When its back-off ends the thread pings it (bounded by ``probe_timeout``);
  an answer brings it back, anything else doubles its back-off.
- **Discovery** (``discover=True``). Every ``refresh_interval`` seconds the
  thread reads ``/_api/cluster/status`` from a node that is up and adds the
  peers it lists. The listed address is the peer's replication address,
  which is its driver port in the server's default (multiplexed) mode, the
  only mode in which the driver protocol is served at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .. import exceptions as exc
from .. import protocol
from .connection import Connection
from .hosts import HostSet, Node, parse_host
from .http import HttpTransport

Credentials = Callable[[], Optional[Mapping[str, Any]]]


def ping(node: Node, timeout: Optional[float]) -> None:
    """One ``ping`` on a fresh connection to ``node``; raises when it does not answer."""
    conn = Connection(node.host, node.port, connect_timeout=timeout, request_timeout=timeout)
    try:
        reply = conn.request(protocol.command("ping"))
    finally:
        conn.close()
    if reply.get("status") != "pong":
        raise exc.ProtocolError(f"{node.host}:{node.port} answered a ping with {reply!r:.100}")


def peers_of(status: Any) -> list[tuple[str, int]]:
    """The peer addresses a cluster status lists (unparseable ones left out)."""
    peers = status.get("peers") if isinstance(status, dict) else None
    found: list[tuple[str, int]] = []
    for peer in peers or []:
        address = peer.get("address") if isinstance(peer, dict) else None
        if isinstance(address, str):
            try:
                found.append(parse_host(address))
            except exc.ValidationError:
                continue
    return found


class Monitor:
    """Probes down nodes and, optionally, refreshes the topology, in one daemon thread."""

    def __init__(
        self,
        hosts: HostSet,
        credentials: Credentials,
        *,
        probe_timeout: Optional[float] = 2.0,
        discover: bool = False,
        refresh_interval: float = 30.0,
    ) -> None:
        if refresh_interval <= 0:
            raise exc.ValidationError("refresh_interval must be positive")
        self.hosts = hosts
        self.credentials = credentials
        self.probe_timeout = probe_timeout
        self.discover = discover
        self.refresh_interval = refresh_interval
        self.refreshes = 0
        """How many topology refreshes succeeded."""
        self.last_refresh_error: Optional[str] = None
        self._next_refresh = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # -- the thread ----------------------------------------------------------

    def start(self) -> None:
        """Start the thread if it is not running (cheap to call often)."""
        if self._thread is not None or self._stop.is_set():
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="solidb-odm-monitor", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread (it ends within one probe)."""
        self._stop.set()
        self.hosts.changed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=0.1)

    def reopen(self) -> None:
        """Allow :meth:`start` again after :meth:`stop` (a client reconnecting)."""
        with self._lock:
            if self._thread is not None and not self._thread.is_alive():
                self._thread = None
            self._stop.clear()

    def _run(self) -> None:
        changed = self.hosts.changed
        while not self._stop.is_set():
            changed.clear()
            self.probe_due()
            if self.discover and time.monotonic() >= self._next_refresh:
                self.refresh()
            waits = [self.hosts.next_probe_in()]
            if self.discover:
                waits.append(max(0.0, self._next_refresh - time.monotonic()))
            known = [w for w in waits if w is not None]
            changed.wait(min(known) if known else None)

    # -- the work ------------------------------------------------------------

    def probe_due(self) -> None:
        """Ping each down node whose back-off has ended."""
        for node in self.hosts.due_for_probe():
            if self._stop.is_set():
                return
            try:
                ping(node, self.probe_timeout)
            except exc.SoliDBError as err:
                self.hosts.failed(node, err, moved=False)
            else:
                self.hosts.answered(node, probe=True)

    def refresh(self) -> list[Node]:
        """Read the cluster status from a node that answers; add the peers it lists.

        Returns the nodes added. Needs credentials (the endpoint is for
        cluster admins); without them it does nothing.
        """
        self._next_refresh = time.monotonic() + self.refresh_interval
        credentials = self.credentials()
        if credentials is None:
            return []
        headers = HttpTransport.auth_headers(credentials)
        for node in self.hosts.candidates(read=True):
            transport = HttpTransport(node.host, node.port, timeout=self.probe_timeout)
            try:
                _, status = transport.request("GET", "/_api/cluster/status", headers=headers)
            except exc.ConnectionError as err:
                self.last_refresh_error = f"{node.host}:{node.port}: {err}"
                continue
            except exc.SoliDBError as err:  # refused (not an admin...): try no further
                self.last_refresh_error = f"{node.host}:{node.port}: {err}"
                return []
            added = [n for n in (self.hosts.add(a) for a in peers_of(status)) if n is not None]
            self.refreshes += 1
            self.last_refresh_error = None
            return added
        return []
