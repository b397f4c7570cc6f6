"""client.jobs against a real server (client.cron: test_cron.py).

Jobs are run by the server's worker, which looks for due jobs about every
five seconds; the tests poll with a deadline instead of sleeping blindly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc

from ._helpers import wait_for

T = TypeVar("T")

RECORD = """
local results = db:collection("results")
results:insert({ order_id = request.body.order_id, job = request.path })
return { ok = true }
"""




def finished(job: dict[str, Any]) -> bool:
    return job.get("status") in ("completed", "failed")


def test_an_enqueued_job_runs_its_script_and_completes(client: Client, solidb_database: str) -> None:
    client.create_collection(solidb_database, "results")
    client.scripts.create(name="record", path="/scripts/record", methods=["POST"], code=RECORD)

    job = client.jobs.enqueue("default", script_path="/scripts/record",
                              params={"order_id": 12345}, priority=10)
    assert job["_key"]
    assert job["status"] == "pending"
    assert job["queue"] == "default"
    assert job["priority"] == 10

    done = wait_for(lambda: client.jobs.get_job(job["_key"]), finished)
    assert done["status"] == "completed", done
    assert done["last_error"] is None
    rows = client.query(solidb_database, "FOR r IN results RETURN r")
    assert [(r["order_id"], r["job"]) for r in rows] == [(12345, job["_key"])]


def test_a_failing_script_leaves_the_job_failed_with_its_error(client: Client) -> None:
    client.scripts.create(name="boom", path="scripts/boom", methods=["POST"],
                          code='error("order " .. request.body.order_id .. " is invalid")')
    job = client.jobs.enqueue("default", "scripts/boom", {"order_id": 7})

    done = wait_for(lambda: client.jobs.get_job(job["_key"]), finished)
    assert done["status"] == "failed"
    assert "order 7 is invalid" in done["last_error"]
    assert done["retry_count"] == 1


def test_a_failed_run_is_retried_while_attempts_remain(client: Client) -> None:
    client.scripts.create(name="flaky", path="scripts/flaky", methods=["POST"],
                          code='error("not yet")')
    job = client.jobs.enqueue("default", "scripts/flaky", max_attempts=3)

    again = wait_for(lambda: client.jobs.get_job(job["_key"]),
                     lambda j: j.get("retry_count") == 1)
    assert again["status"] == "pending"  # rescheduled, not failed
    assert "not yet" in again["last_error"]
    assert again["run_at"] > job["run_at"]


def test_a_job_for_a_missing_script_fails(client: Client) -> None:
    client.scripts.create(name="other", path="scripts/other", methods=["POST"], code="return {}")
    job = client.jobs.enqueue("default", "scripts/nowhere")
    done = wait_for(lambda: client.jobs.get_job(job["_key"]), finished)
    assert done["status"] == "failed"
    assert "scripts/nowhere" in done["last_error"]


def test_cancel_removes_a_pending_job(client: Client) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    job = client.jobs.enqueue("delayed", "scripts/anything", {"n": 1},
                              run_at=later.isoformat())
    assert job["run_at"] == int(later.timestamp())
    assert [j["_key"] for j in client.jobs.list_jobs("delayed", status="pending")] == [job["_key"]]

    client.jobs.cancel(job["_key"])
    with pytest.raises(exc.NotFoundError):
        client.jobs.get_job(job["_key"])
    assert client.jobs.list_jobs("delayed") == []
    with pytest.raises(exc.NotFoundError):
        client.jobs.cancel(job["_key"])


def test_cancel_refuses_a_job_that_already_ran(client: Client) -> None:
    client.scripts.create(name="noop", path="scripts/noop", methods=["POST"], code="return {}")
    job = client.jobs.enqueue("default", "scripts/noop")
    wait_for(lambda: client.jobs.get_job(job["_key"]), finished)
    with pytest.raises(exc.ValidationError, match="only pending jobs"):
        client.jobs.cancel(job["_key"])
    assert client.jobs.get_job(job["_key"])["status"] == "completed"


def test_queues_and_job_listing_report_what_was_enqueued(client: Client) -> None:
    assert client.jobs.list_queues() == []
    assert client.jobs.list_jobs("default") == []
    later = "2999-01-01T00:00:00Z"
    first = client.jobs.enqueue("emails", "scripts/send", {"to": "a"}, run_at=later)
    second = client.jobs.enqueue("emails", "scripts/send", {"to": "b"}, run_at=later)
    client.jobs.enqueue("reports", "scripts/report", run_at=later)

    assert client.jobs.list_queues() == [
        {"name": "emails", "pending": 2, "running": 0, "completed": 0, "failed": 0},
        {"name": "reports", "pending": 1, "running": 0, "completed": 0, "failed": 0},
    ]
    listed = client.jobs.list_jobs("emails", status="pending")
    assert {j["_key"] for j in listed} == {first["_key"], second["_key"]}
    assert len(client.jobs.list_jobs("emails", limit=1)) == 1
    assert len(client.jobs.list_jobs("emails", limit=1, offset=1)) == 1
    assert client.jobs.list_jobs("emails", status="failed") == []


def test_bad_jobs_are_refused_before_the_server(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.jobs.enqueue("default", "scripts/has space")
    with pytest.raises(exc.ValidationError):
        client.jobs.enqueue("default", "scripts/x", run_at="next tuesday")
    with pytest.raises(exc.ValidationError):
        client.jobs.enqueue("default", "scripts/x", priority=2**40)
    with pytest.raises(exc.ValidationError):
        client.jobs.enqueue("", "scripts/x")
    with pytest.raises(exc.ValidationError):
        client.jobs.list_jobs("default", status="done")
    assert client.jobs.list_queues() == []


def test_jobs_need_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.jobs.list_queues()
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.cron.list()


def test_the_server_really_has_no_job_or_cron_command(client: Client, solidb_database: str) -> None:
    """Why the jobs client writes ``_jobs`` rows: the commands do not exist."""
    for command in ("list_queues", "enqueue_job", "create_cron_job", "list_cron_jobs"):
        with pytest.raises(exc.ProtocolError, match="unknown variant"):
            client.run(ops.data(command, database=solidb_database))
