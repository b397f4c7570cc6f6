"""The scheduler with a driven clock: every occurrence fires once, whatever the instances do.

No test here sleeps: the clock is a ManualClock moved by the test, and each
instance's tick is called explicitly, so hours of schedule take a second.
"""

from __future__ import annotations

import random
from typing import Callable, List

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.scheduling import ManualClock, Scheduler, job_key
from solidb_odm.scheduling.core import STATE_COLLECTION
from solidb_odm.scheduling.lease import LEASE_COLLECTION

from .conftest import cron_jobs


def every_minute(client: Client) -> str:
    cron = client.cron.create(name="tick", schedule="* * * * *", script_path="/scripts/noop",
                              params={"n": 1})
    return str(cron["_key"])


def test_one_instance_fires_each_occurrence_once(client: Client, clock: ManualClock) -> None:
    cron_id = every_minute(client)
    scheduler = Scheduler(client, clock=clock, instance_id="a")
    start = clock()
    fired: List[float] = []
    for _ in range(30):
        clock.advance(1)
        for _again in range(3):  # ticking more often than the schedule changes nothing
            fired += [f.occurrence for f in scheduler.tick().fired]
        clock.advance(59)
    assert fired == [start + 60 * i for i in range(30)]
    jobs = cron_jobs(client, client.database or "")
    assert [j["_key"] for j in jobs] == [job_key(cron_id, t) for t in fired]
    assert {(j["script_path"], j["status"], j["cron_job_id"], j["params"]["n"]) for j in jobs} == {
        ("scripts/noop", "pending", cron_id, 1)}
    assert [j["run_at"] for j in jobs] == [int(t) for t in fired]


def test_of_several_instances_exactly_one_fires_each_occurrence(
    new_client: Callable[[], Client], clock: ManualClock
) -> None:
    clients = [new_client() for _ in range(3)]
    cron_id = every_minute(clients[0])
    schedulers = [Scheduler(c, clock=clock, instance_id=f"i{n}") for n, c in enumerate(clients)]
    start, rng = clock(), random.Random(7)
    leaders, fired = set(), []
    clock.advance(1)
    for _ in range(20 * 6):  # twenty minutes, every instance ticking every ten seconds
        for scheduler in rng.sample(schedulers, len(schedulers)):
            report = scheduler.tick()
            if report.leader:
                leaders.add(scheduler.instance_id)
            fired += [(scheduler.instance_id, f.occurrence) for f in report.fired]
        clock.advance(10)
    assert len(leaders) == 1  # the first to tick leads, and keeps leading
    assert [t for _, t in fired] == [start + 60 * i for i in range(20)]
    db = clients[0].database or ""
    assert len(cron_jobs(clients[0], db)) == 20
    assert {j["_key"] for j in cron_jobs(clients[0], db)} == {job_key(cron_id, t) for _, t in fired}


def test_a_killed_instance_s_lease_is_taken_over_after_it_expires(
    new_client: Callable[[], Client], clock: ManualClock
) -> None:
    a, b, c = (new_client() for _ in range(3))
    a.cron.create(name="ten", schedule="*/10 * * * * *", script_path="/scripts/noop")
    lease = 30.0
    sa, sb, sc = (Scheduler(x, clock=clock, instance_id=n, lease_seconds=lease, tick_seconds=1)
                  for x, n in ((a, "a"), (b, "b"), (c, "c")))
    start = clock()
    fired: List[tuple[str, float]] = []

    def step(*schedulers: Scheduler) -> None:
        clock.advance(1)
        for s in schedulers:
            fired.extend((s.instance_id, f.occurrence) for f in s.tick().fired)
        clock.advance(9)

    for _ in range(6):  # a leads for a minute
        step(sa, sb, sc)
    assert {who for who, _ in fired} == {"a"}
    last_renewal = a.query(a.database or "", f"FOR l IN {LEASE_COLLECTION} RETURN l")[0]
    expires = last_renewal["expires_at"]
    # a is killed: it neither ticks nor releases. b and c wait for the lease to run out.
    while clock() + 1 < expires:
        step(sb, sc)
    assert {who for who, _ in fired} == {"a"}
    step(sb, sc)  # now past the expiry: exactly one of them takes over
    new_leader = fired[-1][0]
    assert new_leader in ("b", "c")
    for _ in range(6):
        step(sb, sc)
    assert {who for who, _ in fired[6:]} == {new_leader}
    leases = a.query(a.database or "", f"FOR l IN {LEASE_COLLECTION} SORT l.generation RETURN l")
    assert [(x["generation"], x["holder"]) for x in leases] == [(1, "a"), (2, new_leader)]
    assert leases[1]["previous_holder"] == "a"
    occurrences = [t for _, t in fired]
    assert len(occurrences) == len(set(occurrences))  # nothing fired twice
    assert occurrences[:6] == [start + 10 * i for i in range(6)]
    # While a's dead lease ran out, nothing fired; the taker fired the latest occurrence
    # due (the ones in between coalesced into it), then every one after.
    assert occurrences[6] >= expires - 1 and occurrences[6] - occurrences[5] > 10
    assert occurrences[6:] == [occurrences[6] + 10 * i for i in range(7)]
    assert len(cron_jobs(a, a.database or "")) == len(occurrences)


def test_a_clean_stop_hands_the_lease_over_at_once(
    new_client: Callable[[], Client], clock: ManualClock
) -> None:
    a, b = new_client(), new_client()
    every_minute(a)
    sa = Scheduler(a, clock=clock, instance_id="a")
    sb = Scheduler(b, clock=clock, instance_id="b")
    clock.advance(1)
    assert sa.tick().leader and not sb.tick().leader
    assert sa.release() is True
    clock.advance(1)
    report = sb.tick()
    assert report.leader and report.generation == 2


def test_an_occurrence_is_never_enqueued_twice_even_by_two_leaders(
    new_client: Callable[[], Client], clock: ManualClock
) -> None:
    """The fence: a job's key is its cron id and occurrence, so a second enqueue is refused."""
    a, b = new_client(), new_client()
    cron_id = every_minute(a)
    db = a.database or ""
    sa = Scheduler(a, clock=clock, instance_id="a", lease_seconds=30)
    clock.advance(1)
    first = sa.tick().fired
    assert [f.duplicate for f in first] == [False]
    # b's clock runs ahead past a's lease, and a's record of the firing got lost:
    a.delete(db, STATE_COLLECTION, cron_id)
    sb = Scheduler(b, clock=ManualClock(clock() + 31), instance_id="b", lease_seconds=30,
                   misfire_grace_seconds=3600)
    again = sb.tick()
    assert again.leader
    assert (again.fired[0].job_key, again.fired[0].duplicate) == (first[0].job_key, True)
    assert len([j for j in cron_jobs(a, db) if j["_key"] == first[0].job_key]) == 1
    with pytest.raises(exc.AlreadyExistsError):
        a.jobs.enqueue("default", "/scripts/noop", key=first[0].job_key)


def test_changed_and_disabled_schedules(client: Client, clock: ManualClock) -> None:
    cron_id = every_minute(client)
    scheduler = Scheduler(client, clock=clock, instance_id="a")
    clock.advance(1)
    assert len(scheduler.tick().fired) == 1
    client.cron.update(cron_id, {"enabled": False})
    clock.advance(60)
    assert scheduler.tick().fired == []
    client.cron.delete(cron_id)
    clock.advance(60)
    assert scheduler.tick().fired == []


def test_missed_occurrences_coalesce_and_old_ones_are_skipped(
    client: Client, clock: ManualClock
) -> None:
    every_minute(client)
    scheduler = Scheduler(client, clock=clock, instance_id="a", misfire_grace_seconds=300)
    clock.advance(1)
    assert len(scheduler.tick().fired) == 1
    clock.advance(3 * 60)  # three occurrences while nobody ticked: the latest runs, once
    report = scheduler.tick()
    assert [f.occurrence for f in report.fired] == [clock() - 1] and report.missed
    clock.advance(3600)  # an hour down: everything older than the grace is left out
    report = scheduler.tick()
    assert [f.occurrence for f in report.fired] == [clock() - 1]


def test_a_scheduler_needs_a_database(solidb_server) -> None:  # type: ignore[no-untyped-def]
    client = solidb_server.client()
    try:
        with pytest.raises(exc.ValidationError, match="database"):
            Scheduler(client)
    finally:
        client.close()
