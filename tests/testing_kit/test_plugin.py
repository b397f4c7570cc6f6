"""The plugin as a user's project sees it: isolated databases, the marker, pytest-xdist.

The child runs are real ``python -m pytest`` processes in a scratch directory,
with only the installed plugin (no conftest of ours).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer
from solidb_odm.testing.pytest_plugin import isolated_database, worker_id

SAMPLE = Path(__file__).with_name("sample_suite.py")


def test_isolated_database_leaves_nothing_and_is_cheap(
        solidb_server: SoliDBServer, solidb_admin: Client) -> None:
    before = set(solidb_admin.list_databases())
    rounds = 20
    names = []
    started = time.perf_counter()
    for _ in range(rounds):
        with isolated_database(solidb_server, solidb_admin) as db:
            db.create_collection("things")
            db.query("INSERT {a: 1} INTO things")
            names.append(db.name)
    per_test = (time.perf_counter() - started) / rounds
    print(f"isolated database: {per_test * 1000:.2f} ms per test (create, connect+auth, drop)")
    assert per_test < 0.050
    assert set(solidb_admin.list_databases()) == before
    assert len(set(names)) == rounds and all(n.startswith(f"test_{worker_id()}_") for n in names)


def test_solidb_db_fixture_is_fresh(solidb_db: Any, solidb_admin: Client) -> None:
    assert solidb_db.name in solidb_admin.list_databases()
    assert solidb_db.collection_names() == []


def run_sample(tmp_path: Path, *args: str, env: dict[str, str] | None = None
               ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    records = tmp_path / "records"
    records.mkdir()
    (tmp_path / "test_sample.py").write_text(SAMPLE.read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n"
                                          "asyncio_default_fixture_loop_scope = function\n")
    child_env = {k: v for k, v in os.environ.items() if k != "SOLIDB_TEST_URL"}
    child_env.update(SAMPLE_RECORD_DIR=str(records), **(env or {}))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q", *args],
        cwd=tmp_path, env=child_env, capture_output=True, text=True, timeout=180,
    )
    return result, [json.loads(p.read_text()) for p in sorted(records.iterdir())]


def outcomes(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    found = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR") and "::" in rest:
            found[rest.split("::")[1].split(" ")[0]] = word
    return found


EXPECTED = {
    "test_sync_n_plus_one": "FAILED",
    "test_async_n_plus_one": "FAILED",
    "test_async_select_related": "PASSED",
    "test_counts": "PASSED",
}


def test_marker_fails_an_n_plus_one_in_both_modes(tmp_path: Path, solidb_server: SoliDBServer) -> None:
    result, _ = run_sample(tmp_path, env={"SOLIDB_TEST_URL": solidb_server.url})
    assert outcomes(result) == EXPECTED, result.stdout + result.stderr
    assert result.stdout.count("NPlusOneError: N+1 queries") >= 2
    assert "6x query" in result.stdout and "RETURN DOCUMENT(@id)" in result.stdout


def test_xdist_one_server_per_worker(tmp_path: Path) -> None:
    result, records = run_sample(tmp_path, "-n", "2")
    assert outcomes(result) == EXPECTED, result.stdout + result.stderr
    workers = {r["worker"] for r in records}
    assert workers == {"gw0", "gw1"}, records
    ports = {r["worker"]: r["port"] for r in records}
    assert ports["gw0"] != ports["gw1"]  # each worker session started its own server
    assert all(r["database"].startswith(f"test_{r['worker']}_") for r in records)


def test_xdist_one_shared_server(tmp_path: Path, solidb_server: SoliDBServer,
                                 solidb_admin: Client) -> None:
    before = set(solidb_admin.list_databases())
    result, records = run_sample(tmp_path, "-n", "2", env={"SOLIDB_TEST_URL": solidb_server.url})
    assert outcomes(result) == EXPECTED, result.stdout + result.stderr
    assert {r["worker"] for r in records} == {"gw0", "gw1"}
    assert {r["port"] for r in records} == {solidb_server.port}
    assert len({r["database"] for r in records}) == len(records) == 4
    assert set(solidb_admin.list_databases()) == before  # every worker dropped its databases


UNMARKED = '''
from typing import Annotated, Optional
from solidb_odm import Document, Reference

class Owner(Document):
    name: str

class Pet(Document):
    owner: Annotated[Optional[str], Reference("Owner")] = None

def test_loop(solidb_odm_db):
    solidb_odm_db.register(Owner, Pet)
    solidb_odm_db.sync()
    owner = Owner(name="o").save()
    Pet.objects.bulk_create([Pet(owner=owner) for _ in range(4)])
    for pet in Pet.objects.all():
        pet.get_related("owner")
'''


def test_command_line_option_turns_the_detector_on(tmp_path: Path, solidb_server: SoliDBServer) -> None:
    (tmp_path / "test_unmarked.py").write_text(UNMARKED)
    env = {**os.environ, "SOLIDB_TEST_URL": solidb_server.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run().returncode == 0  # off unless asked for
    caught = run("--solidb-n-plus-one=3")
    assert caught.returncode == 1 and "4x query" in caught.stdout, caught.stdout
    assert run("--solidb-n-plus-one=4").returncode == 0
