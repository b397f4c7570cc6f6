"""client.cron against a real server: definitions kept in the database, the reference's API.

What runs them (the scheduler) is tested in ``tests/scheduling``.
"""

from __future__ import annotations

from typing import Callable

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.client.subclients.cron import CRON_COLLECTION, occurrences, parse_schedule
from solidb_odm.testing.server import free_port


def test_the_reference_s_cron_example_runs(client: Client) -> None:
    crons = client.cron.list()
    assert crons == []
    cron = client.cron.create(
        name="daily-cleanup",
        schedule="0 2 * * *",              # Every day at 2 AM
        script_path="/scripts/cleanup",
        params={"days_old": 30},           # optional
        description="Remove old records",  # optional
    )
    cron_id = cron["_key"]
    assert (cron["name"], cron["schedule"], cron["script_path"], cron["params"],
            cron["description"]) == ("daily-cleanup", "0 2 * * *", "scripts/cleanup",
                                     {"days_old": 30}, "Remove old records")
    assert (cron["queue"], cron["priority"], cron["max_attempts"], cron["timezone"],
            cron["enabled"]) == ("default", 0, 1, "UTC", True)
    cron = client.cron.get(cron_id)
    assert cron["name"] == "daily-cleanup"
    updated = client.cron.update(cron_id, {"schedule": "0 3 * * *"})
    assert updated["schedule"] == "0 3 * * *" and updated["params"] == {"days_old": 30}
    assert updated["schedule_since"] >= cron["schedule_since"]
    assert [c["_key"] for c in client.cron.list()] == [cron_id]
    client.cron.delete(cron_id)
    assert client.cron.list() == []
    with pytest.raises(exc.NotFoundError):
        client.cron.get(cron_id)
    with pytest.raises(exc.NotFoundError):
        client.cron.delete(cron_id)


def test_definitions_live_in_a_collection_of_ours(client: Client, solidb_database: str) -> None:
    cron = client.cron.create(name="n", schedule="@hourly", script_path="scripts/x",
                              timezone="Europe/Paris", priority=5, max_attempts=3)
    stored = client.get(solidb_database, CRON_COLLECTION, cron["_key"])
    assert (stored["schedule"], stored["timezone"], stored["priority"], stored["max_attempts"]) == (
        "@hourly", "Europe/Paris", 5, 3)


def test_update_replaces_params_and_only_rescheduling_changes_restart_the_schedule(
    client: Client,
) -> None:
    cron = client.cron.create(name="n", schedule="* * * * *", script_path="scripts/x",
                              params={"a": 1, "b": 2})
    same = client.cron.update(cron["_key"], {"params": {"c": 3}, "description": "d"})
    assert same["params"] == {"c": 3}
    assert same["schedule_since"] == cron["schedule_since"]
    off = client.cron.update(cron["_key"], {"enabled": False})
    assert off["enabled"] is False and off["schedule_since"] > cron["schedule_since"]


def test_cron_needs_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.cron.list()


@pytest.mark.parametrize(
    "schedule",
    ["0 2 * * *", "*/15 9-17 * * MON-FRI", "0 0 1 jan,jul *", "5,35 */2 1-7 * 0", "@daily",
     "0 3 * * 7", "*/10 * * * * *", "0 0 L * *"],
)
def test_well_formed_cron_expressions_pass(schedule: str) -> None:
    parse_schedule(schedule)


@pytest.mark.parametrize(
    "schedule",
    ["", "0 2 * *", "0 2 * * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
     "* * * * 8", "*/0 * * * *", "5-1 * * * *", "* * * * FUNDAY", "@sometimes", "every day"],
)
def test_malformed_cron_is_refused_before_reaching_the_server(
    schedule: str, new_client: Callable[..., Client]
) -> None:
    # Nothing listens on this port: reaching the server would be a ConnectionError.
    offline = new_client("127.0.0.1", free_port(), connect_timeout=0.5)
    offline.use_database("mydb")
    with pytest.raises(exc.ValidationError):
        offline.cron.create(name="daily-cleanup", schedule=schedule,
                            script_path="/scripts/cleanup")
    with pytest.raises(exc.ValidationError):
        offline.cron.update("cron_id", {"schedule": schedule})


def test_other_bad_definitions_are_refused(new_client: Callable[..., Client]) -> None:
    offline = new_client("127.0.0.1", free_port(), connect_timeout=0.5)
    offline.use_database("mydb")
    for bad in ({"timezone": "Mars/Olympus"}, {"script_path": "bad path"}, {"priority": "1"},
                {"max_attempts": 0}, {"params": [1]}):
        args = {"name": "n", "schedule": "* * * * *", "script_path": "scripts/x", **bad}
        with pytest.raises(exc.ValidationError):
            offline.cron.create(**args)  # type: ignore[arg-type]
    with pytest.raises(exc.ValidationError, match="cannot update"):
        offline.cron.update("id", {"webhook": "x"})


def test_occurrences_follow_the_time_zone() -> None:
    # 2024-03-31: Paris moves from UTC+1 to UTC+2 at 01:00 UTC.
    start = 1711753200.0  # 2024-03-29T23:00:00Z
    paris = list(zip(range(2), occurrences("0 9 * * *", start, "Europe/Paris"), strict=False))
    assert [t for _, t in paris] == [1711785600.0, 1711868400.0]  # 08:00Z, then 07:00Z
    assert next(occurrences("*/10 * * * * *", 100.0)) == 110.0
