"""The installed ``solidb-odm`` console script, run as a process against a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List

import pytest

from solidb_odm import Database, connect
from solidb_odm.testing import free_port

from ..migrations.helpers import data_migration

SCRIPT = Path(sys.executable).with_name("solidb-odm")

MODELS = """
    from solidb_odm import Document

    class Tally(Document):
        n: int = 0

        class Meta:
            collection = "tallies"
"""


def run(args: List[str], cwd: Path, env: Dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Dict[str, str]:
    """A project folder with a models module; the environment the commands see."""
    (tmp_path / "app_models.py").write_text(textwrap.dedent(MODELS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDB_") or k == "SOLIDB_BIN"}
    env.update(SOLIDB_URL=db_url, SOLIDB_MODELS="app_models")
    return env


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.exists(), f"{SCRIPT}: reinstall the package (pip install -e .[cli])"
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "sync", "makemigrations", "migrate", "rollback", "status", "export", "import",
                    "shell"):
        assert command in result.stdout


def test_failure_exits_1_with_one_line(tmp_path: Path, project: Dict[str, str]) -> None:
    env = dict(project, SOLIDB_URL=f"solidb://admin:x@127.0.0.1:{free_port()}/db")
    result = run(["status"], tmp_path, env)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: cannot reach the server")
    result = run(["makemigrations", "--models", "missing_models"], tmp_path, env)
    assert result.returncode == 1 and result.stderr.startswith("error: cannot import models module")


def test_check_in_ci_then_two_deploys_migrate_at_once(tmp_path: Path, project: Dict[str, str],
                                                     odm_db: Database) -> None:
    assert run(["makemigrations", "--check"], tmp_path, project).returncode == 1
    made = run(["makemigrations"], tmp_path, project)
    assert made.returncode == 0, made.stderr
    assert run(["makemigrations", "--check"], tmp_path, project).returncode == 0
    data_migration(tmp_path / "migrations", "count", """
        import time
        def bump(doc):
            time.sleep(0.01)
            doc["runs"] = doc.get("runs", 0) + 1
            return doc
        """, 'm.RunPython("tallies", bump, m.RunPython.noop, batch_size=5)')
    assert run(["migrate", "0001"], tmp_path, project).returncode == 0
    odm_db.client.bulk_insert(odm_db.name, "tallies", [{"_key": f"t{i:02d}"} for i in range(60)])

    procs = [subprocess.Popen([str(SCRIPT), "migrate"], cwd=tmp_path, env=project, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    summaries = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert summaries == ["Done: 1 migration(s).", "Nothing to do."], outputs
    assert {d["runs"] for d in odm_db.query("FOR d IN tallies RETURN d")} == {1}
    status = run(["status"], tmp_path, project).stdout
    assert "[X] 0001_initial" in status and "[X] 0002_count" in status


def _serve(port: int, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SCRIPT), "serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--password", "pw-1"], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("export SOLIDB_URL="), line
    return line.strip().split("=", 1)[1]


def test_serve_keeps_its_data_between_runs(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "data"
    proc = _serve(port, data)
    try:
        url = _url(proc)
        assert url == f"solidb://admin:pw-1@127.0.0.1:{port}/dev"
        db = connect(url, default=False)
        db.create_collection("notes")
        db.client.insert(db.name, "notes", {"text": "kept"}, key="n1")
        db.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)  # the server may take a while to flush and stop on a loaded machine
    assert proc.returncode == 0
    busy = _serve(port, data)
    try:
        url = _url(busy)
        second = _serve(port, data)  # the port is taken now
        assert second.wait(30) == 1 and second.stderr is not None
        assert second.stderr.read().strip() == f"error: port {port} is in use: pass --port"
        db = connect(url, default=False)
        assert db.client.get(db.name, "notes", "n1")["text"] == "kept"
        db.close()
    finally:
        busy.send_signal(signal.SIGINT)
        busy.wait(90)
    time.sleep(0.1)
