"""A real three-node cluster for the tests in this folder, and a fresh database on it."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBCluster

#: How long replication may take in these tests (the server pulls every second).
REPLICATION_TIMEOUT = 15.0


@pytest.fixture
def cluster(solidb_cluster: SoliDBCluster) -> Iterator[SoliDBCluster]:
    """The session's cluster; whatever a test broke runs again after it."""
    yield solidb_cluster
    solidb_cluster.recover()  # one broken test never leaves the next with a broken cluster


def wait_for(check: Callable[[], Any], timeout: float = REPLICATION_TIMEOUT,
             what: str = "the condition") -> Any:
    """Poll ``check`` until it returns something truthy (NotFoundError counts as not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except exc.NotFoundError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)


def everywhere(cluster: SoliDBCluster, check: Callable[[Any], Any],
               timeout: float = REPLICATION_TIMEOUT, what: str = "replication") -> None:
    """Wait until ``check(client)`` holds on every running node."""
    for index in range(len(cluster)):
        if not cluster.running(index):
            continue
        with cluster.client(index) as client:
            wait_for(lambda: check(client), timeout, f"{what} on node {index}")


@pytest.fixture
def cluster_db(cluster: SoliDBCluster) -> Iterator[str]:
    """A fresh database with a collection ``docs``, present on every node; dropped after."""
    name = f"cl_{uuid.uuid4().hex[:10]}"
    with cluster.client(0) as admin:
        admin.create_database(name)
        everywhere(cluster, lambda c: name in c.list_databases(), what="the database")
        admin.create_collection(name, "docs")
        everywhere(cluster, lambda c: any(x["name"] == "docs" for x in c.list_collections(name)),
                   what="the collection")
    yield name
    for index in range(len(cluster)):
        if cluster.running(index):
            try:
                with cluster.client(index) as client:
                    client.delete_database(name)
            except exc.SoliDBError:
                pass  # replicated away already


async def call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``client.method(...)``, awaited for an AsyncClient (both have the same method names)."""
    result = getattr(client, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def open_client(mode: Any, cluster: SoliDBCluster, database: str = "_system",
                      **options: Any) -> Any:
    """A ``Client`` (sync mode) or ``AsyncClient`` (async mode) for every node, as admin."""
    from solidb_odm import AsyncClient, Client

    kind = AsyncClient if mode.is_async else Client
    client = kind(hosts=cluster.hosts, **options)
    await call(client, "auth", database, cluster.username, cluster.password)
    return client
