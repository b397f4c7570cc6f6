"""Management sub-clients: one small module per group of the SDK reference.

Each is a thin layer over the parent client's single command path
(``Client._call``) or, where the pinned server's driver falls short, over its
HTTP API (``Client._http``); none repeats framing, pooling or error mapping.
"""

from __future__ import annotations

from typing import Dict, Tuple

#: client attribute -> (module in this package, class name)
SUBCLIENTS: Dict[str, Tuple[str, str]] = {
    "scripts": ("scripts", "ScriptsClient"),
    "jobs": ("jobs", "JobsClient"),
    "cron": ("jobs", "CronClient"),
    "triggers": ("triggers", "TriggersClient"),
    "roles": ("access", "RolesClient"),
    "users": ("access", "UsersClient"),
    "api_keys": ("access", "ApiKeysClient"),
    "vector": ("vector", "VectorClient"),
    "geo": ("geo", "GeoClient"),
    "ttl": ("ttl", "TTLClient"),
    "columnar": ("columnar", "ColumnarClient"),
    "cluster": ("cluster", "ClusterClient"),
    "collections_mgmt": ("collections_mgmt", "CollectionsMgmtClient"),
    "env": ("env", "EnvClient"),
}
