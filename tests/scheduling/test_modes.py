"""The scheduler in both modes: ``Scheduler`` over ``Client``, ``AsyncScheduler`` over ``AsyncClient``.

One driven-clock test (two instances, one stops cleanly) and the real-time
test: a job that falls due is enqueued and really runs on the server (its Lua
script writes a document), with the system clock and the runner's own loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, List

import pytest

from solidb_odm import AsyncClient, Client
from solidb_odm.scheduling import AsyncScheduler, ManualClock, Scheduler
from solidb_odm.testing import SoliDBServer

from ..modes import Mode
from .conftest import cron_jobs

WRITE = 'db:collection("ticks"):insert({ at = request.body.at, by = "cron" }); return {}'


@pytest.fixture
async def clients(mode: Mode, solidb_server: SoliDBServer, solidb_database: str
                  ) -> AsyncIterator[Callable[[], Any]]:
    made: List[Any] = []

    def make() -> Any:
        client: Any = (AsyncClient if mode.is_async else Client)(solidb_server.host,
                                                                 solidb_server.port)
        client.assume_credentials({"database": "_system", "username": solidb_server.username,
                                   "password": solidb_server.password})
        made.append(client.use_database(solidb_database))
        return client

    yield make
    for client in made:
        await mode.call(client.close)


def scheduler_of(mode: Mode, client: Any, **options: Any) -> Any:
    return (AsyncScheduler if mode.is_async else Scheduler)(client, **options)


async def test_two_instances_fire_each_occurrence_once(
    mode: Mode, clients: Callable[[], Any], clock: ManualClock, solidb_server: SoliDBServer,
    solidb_database: str,
) -> None:
    a, b = clients(), clients()
    await mode.call(a.cron.create, name="m", schedule="* * * * *", script_path="/scripts/x")
    sa = scheduler_of(mode, a, clock=clock, instance_id="a")
    sb = scheduler_of(mode, b, clock=clock, instance_id="b")
    fired: List[tuple[str, float]] = []
    clock.advance(1)
    for step in range(30):  # five minutes in ten-second steps
        if step == 15:
            assert await mode.call(sa.release)  # a stops cleanly: b takes over at once
        for s in ((sa, sb) if step < 15 else (sb,)):
            report = await mode.call(s.tick)
            fired += [(s.instance_id, f.occurrence) for f in report.fired]
        clock.advance(10)
    assert [t for _, t in fired] == [clock() - 301 + 60 * i for i in range(5)]
    assert [who for who, _ in fired] == ["a", "a", "a", "b", "b"]
    checker = solidb_server.client(solidb_database)
    try:
        assert len(cron_jobs(checker, solidb_database)) == 5
    finally:
        checker.close()


async def test_a_due_job_really_runs_on_the_server(
    mode: Mode, clients: Callable[[], Any], solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """Real time: every two seconds, a job whose script writes a document."""
    client = clients()
    db = solidb_database
    await mode.call(client.create_collection, db, "ticks")
    await mode.call(client.scripts.create, name="tick", path="scripts/tick", methods=["POST"],
                    code=WRITE)
    await mode.call(client.cron.create, name="tick", schedule="*/2 * * * * *",
                    script_path="/scripts/tick", params={"at": "cron"})
    scheduler = scheduler_of(mode, client, tick_seconds=0.5, lease_seconds=5)
    deadline = time.monotonic() + 60
    rows: List[Any] = []
    if mode.is_async:
        async with scheduler:
            while not rows and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                rows = await client.query(db, "FOR t IN ticks RETURN t")
    else:
        with scheduler:
            while not rows and time.monotonic() < deadline:
                time.sleep(0.5)
                rows = client.query(db, "FOR t IN ticks RETURN t")
    assert rows and rows[0]["by"] == "cron"
    jobs = await mode.call(client.query, db, "FOR j IN _jobs FILTER j.cron_job_id != null "
                                             "AND j.status == 'completed' RETURN j")
    assert jobs and all(j["script_path"] == "scripts/tick" for j in jobs)
