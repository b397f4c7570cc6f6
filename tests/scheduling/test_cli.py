"""``solidb-odm cron``: the scheduler as a process, killed and replaced for real.

Real time and real processes: ``cron run`` is started, killed with SIGKILL
while it holds the lease, and a second instance takes the lease over once it
expires; SIGTERM stops an instance and hands the lease over at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import pytest
import typer  # noqa: F401  (the [cli] extra, installed with the test extra: missing is a failure)

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.scheduling.lease import LEASE_COLLECTION
from solidb_odm.testing import SoliDBServer

CLI = [sys.executable, "-c", "from solidb_odm.cli import main; main()"]


def env_for(server: SoliDBServer, db: str) -> Dict[str, str]:
    url = f"solidb://{server.username}:{server.password}@{server.host}:{server.port}/{db}"
    return {**os.environ, "SOLIDB_URL": url}


def leases(client: Client) -> List[Dict[str, Any]]:
    try:
        return client.query(client.database or "",
                            f"FOR l IN {LEASE_COLLECTION} SORT l.generation RETURN l")
    except exc.NotFoundError:  # the scheduler has not made its collections yet
        return []


def wait_until(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except exc.NotFoundError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s")


def test_once_and_list(client: Client, solidb_server: SoliDBServer, solidb_database: str) -> None:
    client.cron.create(name="nightly", schedule="0 2 * * *", script_path="/scripts/x")
    env = env_for(solidb_server, solidb_database)
    listed = subprocess.run([*CLI, "cron", "list"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "nightly" in listed.stdout and "'0 2 * * *' (UTC)" in listed.stdout
    once = subprocess.run([*CLI, "cron", "run", "--once", "--instance-id", "x"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert once.returncode == 0, once.stderr
    assert once.stdout.startswith("x: leader (lease generation 1)")


def test_without_a_url_it_fails_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOLIDB_URL"}
    done = subprocess.run([*CLI, "cron", "run"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: no server URL")


@pytest.mark.slow
def test_a_killed_process_s_lease_is_taken_over_after_it_expires(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.cron.create(name="each-second", schedule="* * * * * *", script_path="/scripts/x")
    env = env_for(solidb_server, solidb_database)
    args = [*CLI, "cron", "run", "--tick", "0.2", "--lease", "3"]
    a = subprocess.Popen([*args, "--instance-id", "a"], env=env, stderr=subprocess.PIPE)
    b: Optional[subprocess.Popen[bytes]] = None
    try:
        wait_until(lambda: [x for x in leases(client) if x["holder"] == "a"])
        wait_until(lambda: len(client.query(solidb_database, "FOR j IN _jobs RETURN 1")) >= 2)
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        killed_at = time.time()
        expires = leases(client)[-1]["expires_at"]
        b = subprocess.Popen([*args, "--instance-id", "b"], env=env, stderr=subprocess.PIPE)
        taken = wait_until(lambda: [x for x in leases(client) if x["holder"] == "b"])[0]
        assert taken["generation"] == 2 and taken["previous_holder"] == "a"
        assert taken["acquired_at"] >= expires  # not before a's lease ran out
        assert taken["acquired_at"] - killed_at < 3 + 2  # and soon after
        jobs = client.query(solidb_database,
                            "FOR j IN _jobs SORT j.run_at RETURN j.run_at")
        assert len(jobs) == len(set(jobs))  # no second job for any occurrence
        b.send_signal(signal.SIGTERM)
        assert b.wait(20) == 0
        released = leases(client)[-1]
        assert released["holder"] == "b" and released["expires_at"] <= time.time()
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
