"""A multi-host client when a node dies or freezes: what moves on, what raises, how fast.

Every test runs in both modes (``Client`` and ``AsyncClient``) against the
real three-node cluster. A killed node refuses connections at once; a frozen
one (SIGSTOP) is only found out by the request timeout.
"""

from __future__ import annotations

import time

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.client.failover import CommitUnknownError
from solidb_odm.testing import SoliDBCluster

from ..modes import Mode
from .conftest import call, everywhere, open_client, wait_for

pytestmark = pytest.mark.solidb_cluster


def _seed(cluster: SoliDBCluster, db: str, key: str, document: dict[str, object]) -> None:
    with cluster.client(1) as node1:
        node1.insert(db, "docs", document, key=key)
    everywhere(cluster, lambda c: c.get(db, "docs", key), what=f"seeding {key}")


async def test_reads_writes_and_http_move_on_when_the_first_node_is_killed(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    _seed(cluster, cluster_db, "k", {"v": 1})
    client = await open_client(mode, cluster, timeout=2.0, connect_timeout=1.0)
    try:
        assert (await call(client, "get", cluster_db, "docs", "k"))["v"] == 1
        assert client.nodes[0].answered >= 1
        cluster.kill(0)
        started = time.perf_counter()
        assert (await call(client, "get", cluster_db, "docs", "k"))["v"] == 1
        failover = time.perf_counter() - started
        print(f"\n[cluster] {mode}: first read after SIGKILL of its node took {failover * 1000:.1f} ms")
        assert failover < 2.0  # refused at once: well inside the timeouts
        health = client.nodes
        assert health[0].state == "down" and health[0].failovers >= 1
        assert health[1].state == "up"
        # a write that was never sent to the dead node goes to the next one
        stored = await call(client, "insert", cluster_db, "docs", {"after": "kill"})
        assert stored["after"] == "kill"
        # the HTTP API (cluster status here) moves on too
        status = await call(client.cluster, "status")
        assert status["node_id"] != "node0"
        assert client.nodes[0].total_failures >= 1
    finally:
        await call(client, "close")


async def test_a_restarted_node_is_probed_and_comes_back(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    client = await open_client(mode, cluster, timeout=2.0, backoff=0.2, max_backoff=0.5)
    try:
        cluster.kill(0)
        await call(client, "list_databases")
        assert client.nodes[0].state == "down"
        cluster.restart(0)
        wait_for(lambda: client.nodes[0].state == "up", timeout=10.0, what="the probe")
        # fallback is sticky: the node that took over keeps the traffic
        before = client.nodes[1].answered
        await call(client, "list_databases")
        assert client.nodes[1].answered == before + 1
    finally:
        await call(client, "close")


async def test_a_frozen_node_costs_one_timeout_then_reads_move_on(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    _seed(cluster, cluster_db, "k", {"v": 1})
    client = await open_client(mode, cluster, timeout=1.0, connect_timeout=1.0)
    try:
        await call(client, "get", cluster_db, "docs", "k")
        assert client.nodes[0].answered == 2  # auth and the get
        cluster.partition(0)
        started = time.perf_counter()
        assert (await call(client, "get", cluster_db, "docs", "k"))["v"] == 1
        failover = time.perf_counter() - started
        print(f"\n[cluster] {mode}: first read after SIGSTOP of its node took {failover:.2f} s "
              "(timeout=1.0)")
        assert 0.9 < failover < 3.0  # bounded by the request timeout
        started = time.perf_counter()
        for _ in range(20):  # detected: no more waiting
            await call(client, "get", cluster_db, "docs", "k")
        assert time.perf_counter() - started < 1.0
    finally:
        cluster.heal(0)
        await call(client, "close")


async def test_a_keyed_insert_in_flight_is_retried_and_checked(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    _seed(cluster, cluster_db, "ours", {"n": 1, "tags": ["a"]})
    _seed(cluster, cluster_db, "theirs", {"n": 99})
    client = await open_client(mode, cluster, timeout=1.0, backoff=30.0, max_backoff=30.0)
    try:
        await call(client, "insert", cluster_db, "docs", {"warm": "up"})
        cluster.partition(0)
        # sent to the frozen node, then again to node 1, where nobody has the key
        stored = await call(client, "insert", cluster_db, "docs", {"n": 0}, key="fresh")
        assert stored["_key"] == "fresh" and stored["n"] == 0
        cluster.heal(0)
        cluster.partition(1)  # node 1 took over; freeze it with a keyed insert in flight
        # the key is present on node 2 with the same document: counts as done
        stored = await call(client, "insert", cluster_db, "docs",
                            {"n": 1, "tags": ("a",)}, key="ours")
        assert stored["n"] == 1 and stored["tags"] == ["a"]
        assert client.nodes[1].state == "down"
    finally:
        cluster.heal(0)
        cluster.heal(1)
        await call(client, "close")
    client = await open_client(mode, cluster, timeout=1.0, backoff=30.0, max_backoff=30.0)
    try:
        await call(client, "ping")
        cluster.partition(0)
        # present with another document: the conflict is raised, not hidden
        with pytest.raises(exc.AlreadyExistsError):
            await call(client, "insert", cluster_db, "docs", {"n": 1}, key="theirs")
    finally:
        cluster.heal(0)
        await call(client, "close")


async def test_other_writes_in_flight_raise(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    _seed(cluster, cluster_db, "k", {"v": 1})
    client = await open_client(mode, cluster, timeout=1.0, backoff=30.0, max_backoff=30.0)
    try:
        # a first write, so that anything a write looks up first is already known
        await call(client, "insert", cluster_db, "docs", {"warm": "up"})
        cluster.partition(0)
        with pytest.raises(exc.TimeoutError):  # the server makes the key: a retry would duplicate
            await call(client, "insert", cluster_db, "docs", {"no": "key"})
        cluster.heal(0)
        await call(client, "ping")  # node 1 now
        cluster.partition(1)
        with pytest.raises(exc.TimeoutError):
            await call(client, "update", cluster_db, "docs", "k", {"v": 2})
        assert [n.state for n in client.nodes] == ["down", "down", "up"]
        await call(client, "ping")  # a connection to node 2 (a new one's auth is not the query)
        cluster.partition(2)
        with pytest.raises(exc.TimeoutError):  # SDBQL that writes is never repeated either
            await call(client, "query", cluster_db,
                       "FOR d IN docs FILTER d._key == @k UPDATE d WITH {v: d.v + 1} IN docs",
                       {"k": "k"})
        cluster.heal(1)
        cluster.heal(2)
        # every node is marked down now: they are still tried, soonest due first
        stored = await call(client, "insert", cluster_db, "docs", {"after": "detection"})
        assert stored["after"] == "detection"
        assert client.nodes[0].total_failures == 1
    finally:
        for index in range(3):
            cluster.heal(index)
        await call(client, "close")


async def test_a_commit_whose_answer_is_lost_is_reported_as_unknown(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    client = await open_client(mode, cluster, timeout=1.0, backoff=30.0, max_backoff=30.0)
    try:
        tx = await call(client, "begin_transaction", cluster_db)
        await call(client, "insert", cluster_db, "docs", {"in": "tx"}, key="unknown")
        cluster.partition(0)
        with pytest.raises(CommitUnknownError, match="may or may not"):
            await call(client, "commit_transaction", tx)
    finally:
        cluster.heal(0)
        await call(client, "close")
    # The frozen node read the commit once it ran again: it was applied after all.
    with cluster.client(0) as node0:
        found = wait_for(lambda: node0.get(cluster_db, "docs", "unknown"), timeout=5.0,
                         what="the commit on node 0")
        assert found["in"] == "tx"


async def test_round_robin_spreads_reads_and_fallback_does_not(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    _seed(cluster, cluster_db, "k", {"v": 1})
    for strategy, spread in (("round_robin", True), ("fallback", False)):
        client = await open_client(mode, cluster, strategy=strategy)
        try:
            for _ in range(30):
                await call(client, "get", cluster_db, "docs", "k")
            answered = [n.answered for n in client.nodes]
            if spread:
                assert all(count >= 9 for count in answered), answered
            else:
                assert answered[1] == answered[2] == 0, answered
            stored = await call(client, "insert", cluster_db, "docs", {"w": strategy})
            assert stored["w"] == strategy
            assert client.nodes[0].answered > answered[0]  # writes: the fallback node
        finally:
            await call(client, "close")


async def test_discovery_learns_the_peers_of_one_seed(
    mode: Mode, cluster: SoliDBCluster
) -> None:
    from solidb_odm import AsyncClient, Client

    kind = AsyncClient if mode.is_async else Client
    client = kind(hosts=[cluster.hosts[1]], discover=True, refresh_interval=60.0)
    try:
        await call(client, "auth", "_system", cluster.username, cluster.password)
        wait_for(lambda: len(client.nodes) == 3, timeout=10.0, what="discovery")
        assert {(n.host, n.port) for n in client.nodes} == set(cluster.hosts)
        assert [n.discovered for n in client.nodes] == [False, True, True]
        assert await call(client, "refresh_topology") == []  # nothing new on a second look
        cluster.kill(1)  # the seed dies: a discovered node answers
        assert "_system" in await call(client, "list_databases")
    finally:
        await call(client, "close")


async def test_request_events_name_the_node_that_served_them(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    from solidb_odm import events

    _seed(cluster, cluster_db, "k", {"v": 1})
    seen: list[tuple[str, int, bool]] = []
    client = await open_client(mode, cluster, strategy="round_robin")
    try:
        with events.observing(lambda e: seen.append((e.operation, e.port, e.error is None))):
            for _ in range(3):
                await call(client, "get", cluster_db, "docs", "k")
        ports = [port for operation, port, ok in seen if operation == "get"]
        assert sorted(ports) == sorted(p for _, p in cluster.hosts), seen
    finally:
        await call(client, "close")
