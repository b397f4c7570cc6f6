"""What solidb 2.6.0 does in a cluster, measured on three real nodes (docs/clusters.md).

Each node applies a peer's write by merging the peer's whole document into
its own copy, in the order the writes reach it; nothing resolves conflicts.
Writes committed in a driver transaction never leave their node.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.client.http import HttpTransport
from solidb_odm.testing import SoliDBCluster

from .conftest import everywhere, wait_for

pytestmark = pytest.mark.solidb_cluster

#: three pull rounds of the server's sync worker (it pulls every second)
SETTLE = 3.5


def _lag(cluster: SoliDBCluster, write: Any, key: str, database: str) -> float:
    with cluster.client(1) as reader:
        started = time.monotonic()
        write(key)
        wait_for(lambda: reader.get(database, "docs", key), what=f"{key} on node 1")
        return time.monotonic() - started


def test_replication_lag_by_write_path(cluster: SoliDBCluster, cluster_db: str) -> None:
    server = cluster.servers[0]
    http = HttpTransport(server.host, server.port)
    headers = HttpTransport.auth_headers({"username": cluster.username,
                                          "password": cluster.password})
    with cluster.client(0) as node0:
        paths = {
            "driver insert": lambda k: node0.insert(cluster_db, "docs", {"via": "driver"}, key=k),
            "SDBQL INSERT": lambda k: node0.query(
                cluster_db, "INSERT {_key: @k, via: 'sdbql'} INTO docs", {"k": k}),
            "HTTP POST": lambda k: http.request(
                "POST", f"/_api/database/{cluster_db}/document/docs",
                {"_key": k, "via": "http"}, headers=headers),
        }
        lags: dict[str, list[float]] = {}
        for name, write in paths.items():
            lags[name] = [_lag(cluster, write, f"{name.split()[0].lower()}{i}", cluster_db)
                          for i in range(3)]
    for name, samples in lags.items():
        print(f"\n[cluster] replication lag, {name}: median {statistics.median(samples):.2f}s, "
              f"max {max(samples):.2f}s over {len(samples)}")
        assert max(samples) < 5.0


def test_concurrent_updates_through_two_nodes_diverge(
    cluster: SoliDBCluster, cluster_db: str
) -> None:
    """Two nodes update one document within one sync round: each ends with the other's value.

    A write that lands just as a pull round starts is applied in the other
    order, so each attempt uses a fresh document, up to three.
    """
    with cluster.client(0) as node0, cluster.client(1) as node1, cluster.client(2) as node2:
        outcomes = []
        for attempt in range(3):
            key = f"doc{attempt}"
            node0.insert(cluster_db, "docs", {"v": "start"}, key=key)
            everywhere(cluster, lambda c, k=key: c.get(cluster_db, "docs", k))
            node0.update(cluster_db, "docs", key, {"v": "from-0", "only0": True})
            node1.update(cluster_db, "docs", key, {"v": "from-1", "only1": True})
            time.sleep(SETTLE)
            seen = [n.get(cluster_db, "docs", key) for n in (node0, node1, node2)]
            outcomes.append([s["v"] for s in seen])
            # fields written on one side only are merged in everywhere
            assert all(s["only0"] and s["only1"] for s in seen)
            if seen[0]["v"] == "from-1" and seen[1]["v"] == "from-0":
                break
        print(f"\n[cluster] concurrent updates, value on nodes 0/1/2 per attempt: {outcomes}")
        assert outcomes[-1][:2] == ["from-1", "from-0"], outcomes
        time.sleep(SETTLE)  # and it stays that way: nothing reconciles them later
        assert node0.get(cluster_db, "docs", key)["v"] == "from-1"
        assert node1.get(cluster_db, "docs", key)["v"] == "from-0"
        revs = {n.get(cluster_db, "docs", key)["_rev"] for n in (node0, node1, node2)}
        assert len(revs) == 3  # every node sets its own revision


def test_one_key_inserted_on_two_nodes_is_accepted_by_both(
    cluster: SoliDBCluster, cluster_db: str
) -> None:
    """No node refuses the second insert; as with updates, each keeps the other's document."""
    with cluster.client(0) as node0, cluster.client(1) as node1:
        outcomes = []
        for attempt in range(3):
            key = f"same{attempt}"
            node0.insert(cluster_db, "docs", {"who": 0}, key=key)
            node1.insert(cluster_db, "docs", {"who": 1}, key=key)  # no conflict reported
            time.sleep(SETTLE)
            outcomes.append([node0.get(cluster_db, "docs", key)["who"],
                             node1.get(cluster_db, "docs", key)["who"]])
            if outcomes[-1] == [1, 0]:
                break
        print(f"\n[cluster] one key inserted on nodes 0 and 1: nodes hold {outcomes}")
        assert outcomes[-1] == [1, 0]


def test_transaction_writes_never_leave_their_node(cluster: SoliDBCluster, cluster_db: str) -> None:
    with cluster.client(0) as node0, cluster.client(1) as node1:
        tx = node0.begin_transaction(cluster_db)
        node0.insert(cluster_db, "docs", {"in": "tx"}, key="txdoc")
        node0.commit_transaction(tx)
        assert node0.get(cluster_db, "docs", "txdoc")["in"] == "tx"
        replaced = node0.insert(cluster_db, "docs", {"a": 1, "b": 1}, key="rep")
        assert replaced["a"] == 1
        everywhere(cluster, lambda c: c.get(cluster_db, "docs", "rep"))
        node0.replace(cluster_db, "docs", "rep", {"a": 2})  # a transaction (delete + insert)
        time.sleep(SETTLE)
        with pytest.raises(exc.NotFoundError):
            node1.get(cluster_db, "docs", "txdoc")
        assert node1.get(cluster_db, "docs", "rep")["a"] == 1  # the replace stayed on node 0
        # A later plain write of the same document carries the whole of it over.
        node0.update(cluster_db, "docs", "txdoc", {"touched": True})
        stored = wait_for(lambda: node1.get(cluster_db, "docs", "txdoc"),
                          what="the document after a plain update")
        assert stored["in"] == "tx" and stored["touched"] is True
