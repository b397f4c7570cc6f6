"""Fixtures for the scheduler tests: admin clients on a fresh database, and a clock to drive."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, List

import pytest

from solidb_odm import Client
from solidb_odm.scheduling import ManualClock
from solidb_odm.testing import SoliDBServer


@pytest.fixture
def new_client(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Callable[[], Client]]:
    """Make admin clients on the test's database (one per scheduler instance); all closed after."""
    made: List[Client] = []

    def make() -> Client:
        client = solidb_server.client(solidb_database)
        client.use_database(solidb_database)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(new_client: Callable[[], Client]) -> Client:
    return new_client()


@pytest.fixture
def clock() -> ManualClock:
    """A clock at the first whole minute after now (definitions made now are older than it)."""
    return ManualClock((int(time.time()) // 60 + 1) * 60)


def cron_jobs(client: Client, db: str) -> List[dict[str, Any]]:
    """The jobs the scheduler enqueued, oldest occurrence first."""
    return client.query(db, "FOR j IN _jobs FILTER j.cron_job_id != null SORT j.run_at, j._key "
                            "RETURN j")
