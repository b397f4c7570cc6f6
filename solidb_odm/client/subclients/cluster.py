"""``client.cluster``: cluster status and maintenance.

Every cluster command of the pinned server's driver answers "Cluster
operations require HTTP API", so these calls use the HTTP API on the same port
(global admin only). Two of the reference's calls have no client-facing
endpoint at all: ``cleanup`` and ``reshard`` exist only as internal
node-to-node routes authenticated by the cluster keyfile, so they raise
:class:`~solidb_odm.exceptions.UnsupportedError`.
"""

from __future__ import annotations

from typing import Any, Dict

from ... import exceptions as exc
from ._base import SubClient, unsupported

JSON = Dict[str, Any]

_INTERNAL_ONLY = (
    "the server exposes it only as an internal node-to-node endpoint "
    "(/_api/cluster/{op}) authenticated by the cluster keyfile, not to clients"
)


class ClusterClient(SubClient):
    """Cluster-wide status and maintenance; not database-scoped."""

    def status(self) -> JSON:
        """The node's cluster status, with the reference's ``mode`` and ``node_count``.

        ``mode`` is ``"standalone"`` for a node without peers and
        ``"cluster"`` otherwise; ``node_count`` counts this node and its peers.
        The server's own fields are kept as they are: its ``status`` is
        ``"cluster-ready"`` for a node started without peers, because every
        solidb 2.6.0 server runs its cluster manager.
        """
        body = self._http("GET", "/_api/cluster/status")
        if not isinstance(body, dict):
            raise exc.ProtocolError(f"unexpected cluster status from HTTP: {body!r:.200}")
        result = dict(body)
        peers = result.get("peers") or []
        result["mode"] = "cluster" if peers else "standalone"
        result["node_count"] = 1 + len(peers)
        return result

    def info(self) -> JSON:
        """Node and host details, with ``mode`` as in :meth:`status`.

        The server's ``is_cluster_mode`` is true on every node, peers or not;
        ``mode`` says whether this node has peers.
        """
        body = self._http("GET", "/_api/cluster/info")
        if not isinstance(body, dict):
            raise exc.ProtocolError(f"unexpected cluster info from HTTP: {body!r:.200}")
        result = dict(body)
        config = result.get("cluster_config") or {}
        peers = config.get("peers") if isinstance(config, dict) else None
        result["mode"] = "cluster" if peers else "standalone"
        return result

    def remove_node(self, node_id: str) -> JSON:
        """Remove a node and rebalance; the server identifies nodes by ``host:port``.

        The server answers success even for an address that is not a member.
        """
        if not isinstance(node_id, str) or not node_id:
            raise exc.ValidationError("node_id must be the node's address, such as 'host:6745'")
        return dict(self._http("POST", "/_api/cluster/remove-node", {"node_address": node_id}))

    def rebalance(self) -> JSON:
        """Move shards so that every node holds its share; returns the server's answer."""
        return dict(self._http("POST", "/_api/cluster/rebalance"))

    def cleanup(self) -> JSON:
        """Refused: orphaned-shard cleanup is internal to the cluster."""
        raise unsupported("cluster.cleanup", _INTERNAL_ONLY.format(op="cleanup"))

    def reshard(self, num_shards: int) -> JSON:
        """Refused: cluster-wide resharding is internal to the cluster."""
        if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
            raise exc.ValidationError("num_shards must be a positive integer")
        raise unsupported(
            "cluster.reshard",
            _INTERNAL_ONLY.format(op="reshard")
            + "; a collection's shard count is a collection property (numShards), set "
            "through the HTTP collection API",
        )
