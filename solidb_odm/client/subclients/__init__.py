"""Management sub-clients: one small module per group of the SDK reference.

Each module holds a ``...Ops`` class (the operations, written once) and its
two generated facades, ``FooClient`` (blocking) and ``AsyncFooClient``. The
mixins here give ``Client`` and ``AsyncClient`` one attribute per group;
none repeats framing, pooling or error mapping.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar, overload

from ..state import ClientState
from .access import (
    ApiKeysClient,
    ApiKeysOps,
    AsyncApiKeysClient,
    AsyncRolesClient,
    AsyncUsersClient,
    RolesClient,
    RolesOps,
    UsersClient,
    UsersOps,
)
from .cluster import AsyncClusterClient, ClusterClient, ClusterOps
from .collections_mgmt import AsyncCollectionsMgmtClient, CollectionsMgmtClient, CollectionsMgmtOps
from .columnar import AsyncColumnarClient, ColumnarClient, ColumnarOps
from .cron import AsyncCronClient, CronClient, CronOps
from .env import AsyncEnvClient, EnvClient, EnvOps
from .geo import AsyncGeoClient, GeoClient, GeoOps
from .jobs import AsyncJobsClient, JobsClient, JobsOps
from .scripts import AsyncScriptsClient, ScriptsClient, ScriptsOps
from .triggers import AsyncTriggersClient, TriggersClient, TriggersOps
from .ttl import AsyncTTLClient, TTLClient, TTLOps
from .vector import AsyncVectorClient, VectorClient, VectorOps

F = TypeVar("F")


class Sub(Generic[F]):
    """A client attribute that builds its sub-client once, on first use."""

    def __init__(self, ops: Callable[[ClientState], Any], facade: Callable[[Any, Any], F]) -> None:
        self._ops = ops
        self._facade = facade
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Sub[F]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> F: ...

    def __get__(self, obj: object | None, owner: type) -> Sub[F] | F:
        if obj is None:
            return self
        cache: dict[str, Any] = obj._subclients  # type: ignore[attr-defined]
        found = cache.get(self._name)
        if found is None:
            found = cache[self._name] = self._facade(self._ops(obj.state), obj)  # type: ignore[attr-defined]
        return found


class SyncSubclients:
    """The sub-clients of ``Client``."""

    scripts = Sub(ScriptsOps, ScriptsClient)
    jobs = Sub(JobsOps, JobsClient)
    cron = Sub(CronOps, CronClient)
    triggers = Sub(TriggersOps, TriggersClient)
    roles = Sub(RolesOps, RolesClient)
    users = Sub(UsersOps, UsersClient)
    api_keys = Sub(ApiKeysOps, ApiKeysClient)
    vector = Sub(VectorOps, VectorClient)
    geo = Sub(GeoOps, GeoClient)
    ttl = Sub(TTLOps, TTLClient)
    columnar = Sub(ColumnarOps, ColumnarClient)
    cluster = Sub(ClusterOps, ClusterClient)
    collections_mgmt = Sub(CollectionsMgmtOps, CollectionsMgmtClient)
    env = Sub(EnvOps, EnvClient)


class AsyncSubclients:
    """The sub-clients of ``AsyncClient``: the same groups, awaitable."""

    scripts = Sub(ScriptsOps, AsyncScriptsClient)
    jobs = Sub(JobsOps, AsyncJobsClient)
    cron = Sub(CronOps, AsyncCronClient)
    triggers = Sub(TriggersOps, AsyncTriggersClient)
    roles = Sub(RolesOps, AsyncRolesClient)
    users = Sub(UsersOps, AsyncUsersClient)
    api_keys = Sub(ApiKeysOps, AsyncApiKeysClient)
    vector = Sub(VectorOps, AsyncVectorClient)
    geo = Sub(GeoOps, AsyncGeoClient)
    ttl = Sub(TTLOps, AsyncTTLClient)
    columnar = Sub(ColumnarOps, AsyncColumnarClient)
    cluster = Sub(ClusterOps, AsyncClusterClient)
    collections_mgmt = Sub(CollectionsMgmtOps, AsyncCollectionsMgmtClient)
    env = Sub(EnvOps, AsyncEnvClient)
