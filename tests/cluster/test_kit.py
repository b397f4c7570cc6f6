"""SoliDBCluster: real nodes that find each other, and the ways it breaks them."""

from __future__ import annotations

import time

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBCluster

from .conftest import everywhere, wait_for

pytestmark = pytest.mark.solidb_cluster


def test_every_node_sees_its_peers(cluster: SoliDBCluster) -> None:
    for index in range(len(cluster)):
        status = cluster.status(index)
        assert status["mode"] == "cluster" and status["node_count"] == 3
        assert status["status"] == "cluster"
        addresses = {p["address"] for p in status["peers"]}
        others = {f"{h}:{p}" for i, (h, p) in enumerate(cluster.hosts) if i != index}
        assert addresses == others
        assert all(p["is_connected"] for p in status["peers"])
        # the status names each peer by its replication address, which is its
        # driver port in the default (multiplexed) mode: what discovery uses
    assert cluster.url.count(",") == 2


def test_a_killed_node_catches_up_after_restart(cluster: SoliDBCluster, cluster_db: str) -> None:
    """The issue's fact: node 0 killed, 100 writes on node 1, node 0 restarted has all 100."""
    cluster.kill(0)
    assert not cluster.running(0)
    with cluster.client(1) as writer:
        for i in range(100):
            writer.insert(cluster_db, "docs", {"i": i}, key=f"k{i}")
    started = time.monotonic()
    cluster.restart(0)
    with cluster.client(0) as node0:
        count = wait_for(lambda: node0.query(
            cluster_db, "FOR d IN docs COLLECT WITH COUNT INTO n RETURN n")[0] == 100 or None,
            what="node 0 catching up")
        assert count
        assert node0.get(cluster_db, "docs", "k99")["i"] == 99
    print(f"\n[cluster] restart + rejoin + catch-up of 100 documents: "
          f"{time.monotonic() - started:.2f}s")


def test_a_partitioned_node_accepts_connections_but_never_answers(
    cluster: SoliDBCluster, cluster_db: str
) -> None:
    with cluster.client(2, timeout=0.5) as node2:
        cluster.partition(2)
        try:
            assert not cluster.running(2)
            started = time.monotonic()
            with pytest.raises(exc.TimeoutError):
                node2.get(cluster_db, "docs", "nothing")
            assert 0.4 < time.monotonic() - started < 2.0
            with cluster.client(1) as node1:  # the others carry on
                node1.insert(cluster_db, "docs", {"during": "partition"}, key="p")
        finally:
            cluster.heal(2)
    everywhere(cluster, lambda c: c.get(cluster_db, "docs", "p")["during"] == "partition",
               what="the write made during the partition")


def test_cluster_kit_refuses_no_nodes() -> None:
    with pytest.raises(exc.ValidationError):
        SoliDBCluster(nodes=0)
