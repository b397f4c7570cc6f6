"""Fixtures for the trigger routing tests: a watched collection, its trigger, and a way to see firings.

A trigger that fires queues a job in ``_jobs`` before the write answers
(solidb 2.6.0), so :func:`fired` can look at once, without waiting for the
worker to run the script.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterator, List, cast

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.events import RequestEvent, add_observer, remove_observer
from solidb_odm.testing import SoliDBServer

from ..blocking import blocking_client

NOOP = "return {}"


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, solidb_server: SoliDBServer,
           solidb_database: str) -> Iterator[Client]:
    """An admin client of each mode on a fresh database with ``users`` (watched) and ``plain``."""
    if request.param == "sync":
        made = Client(solidb_server.host, solidb_server.port)
    else:
        made = cast(Client, blocking_client(solidb_server.host, solidb_server.port))
    made.connect()
    made.auth("_system", solidb_server.username, solidb_server.password)
    made.use_database(solidb_database)
    for name in ("users", "plain"):
        made.create_collection(solidb_database, name)
    made.scripts.create(name="noop", path="scripts/noop", methods=["POST"], code=NOOP)
    made.triggers.create(name="on_users", collection="users",
                         operation=["insert", "update", "delete"], script_path="scripts/noop")
    yield made
    made.close()


def fired(client: Client, db: str, collection: str = "users") -> List[tuple[str, str]]:
    """(event, key) of every job a trigger queued for ``collection``, sorted."""
    try:
        rows = client.command(
            "query", database=db,
            sdbql="FOR j IN _jobs FILTER j.params.collection == @c "
                  "RETURN [j.params.event, j.params.key]",
            bind_vars={"c": collection},
        ).data
    except exc.NotFoundError:  # no _jobs collection: nothing ever fired
        return []
    return sorted((str(e), str(k)) for e, k in rows)


@pytest.fixture
def requests_seen() -> Iterator[List[str]]:
    """The operations of every request any client sends during the test ("insert", "HTTP POST"...)."""
    seen: List[str] = []

    def record(event: RequestEvent) -> None:
        seen.append(event.operation)

    add_observer(record)
    yield seen
    remove_observer(record)


@pytest.fixture
def no_trigger_warnings() -> Iterator[Callable[[], List[warnings.WarningMessage]]]:
    """Record warnings; the test asserts on them with the returned function."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield lambda: [w for w in caught if "trigger" in str(w.message)]


def as_any(value: Any) -> Any:
    return value
