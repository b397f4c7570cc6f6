"""client.cluster against a real, standalone server."""

from __future__ import annotations

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer
from solidb_odm.testing.server import PINNED_SOLIDB_VERSION


def test_status_reports_a_standalone_node(solidb_client: Client) -> None:
    status = solidb_client.cluster.status()
    assert status["mode"] == "standalone"
    # Every 2.6.0 server runs its cluster manager; alone, it is "cluster-ready".
    assert status["status"] == "cluster-ready"
    assert status["node_count"] == 1
    assert status["peers"] == []
    assert status["node_id"]
    assert status["stats"]["database_count"] >= 1


def test_info_reports_a_standalone_node(solidb_client: Client) -> None:
    info = solidb_client.cluster.info()
    assert info["mode"] == "standalone"
    assert info["cluster_config"]["peers"] == []
    assert info["node_id"] == solidb_client.cluster.status()["node_id"]
    assert info["num_cpus"] >= 1


def test_cluster_calls_need_no_database(solidb_client: Client) -> None:
    assert solidb_client.database is None
    assert solidb_client.cluster.status()["mode"] == "standalone"


def test_the_driver_cannot_answer_cluster_commands(solidb_client: Client) -> None:
    """Why the cluster client uses HTTP: every driver cluster command is a placeholder."""
    with pytest.raises(exc.ServerError, match="require HTTP API"):
        solidb_client.run(ops.data("cluster_status"))


def test_rebalance_returns_the_servers_answer(solidb_client: Client) -> None:
    answer = solidb_client.cluster.rebalance()
    assert answer == {"success": True, "message": "Rebalancing complete"}


def test_remove_node_returns_the_servers_answer(
    solidb_client: Client, solidb_server: SoliDBServer
) -> None:
    answer = solidb_client.cluster.remove_node("127.0.0.1:1")
    # The server reports success even for an address that was never a member.
    assert answer["success"] is True
    assert answer["removed_node"] == "127.0.0.1:1"
    assert len(answer["remaining_nodes"]) == 1
    assert solidb_client.cluster.status()["node_count"] == 1
    assert solidb_client.cluster.status()["mode"] == "standalone"
    with pytest.raises(exc.ValidationError):
        solidb_client.cluster.remove_node("")


@pytest.mark.parametrize("operation", ["cleanup", "reshard"])
def test_internal_operations_raise_a_clear_unsupported_error(
    solidb_client: Client, operation: str
) -> None:
    with pytest.raises(exc.UnsupportedError, match=rf"cluster\.{operation}") as info:
        if operation == "cleanup":
            solidb_client.cluster.cleanup()
        else:
            solidb_client.cluster.reshard(num_shards=16)
    assert f"solidb {PINNED_SOLIDB_VERSION}" in str(info.value)


def test_reshard_checks_its_argument_first(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        solidb_client.cluster.reshard(num_shards=0)
