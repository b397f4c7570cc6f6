"""The commands in-process (typer's CliRunner) against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solidb_odm import Database
from solidb_odm.testing import free_port

from ..migrations.helpers import models_module
from .conftest import MODELS, Cli, lines


def test_makemigrations_check_migrate_status_rollback(cli: Cli, models: str, tmp_path: Path,
                                                     odm_db: Database) -> None:
    result = cli("makemigrations", "--check", "--models", models)
    assert result.exit_code == 1
    assert lines(result.stderr) == [lines(result.stderr)[0]] and "models changed without a migration" in result.stderr

    result = cli("makemigrations", "--models", models)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stdout and (tmp_path / "migrations" / "0001_initial.py").exists()
    assert "create edge collection wrote" in result.stdout
    assert cli("makemigrations", "--check", "--models", models).exit_code == 0

    plan = cli("migrate", "--plan")
    assert plan.exit_code == 0 and "apply 0001_initial" in plan.stdout and "create collection authors" in plan.stdout
    assert "authors" not in odm_db.collection_names()  # --plan runs nothing

    result = cli("migrate")
    assert result.exit_code == 0, result.output
    assert {"authors", "wrote"} <= set(odm_db.collection_names())
    assert "[X] 0001_initial" in cli("status").stdout
    assert cli("migrate").stdout.strip().endswith("Nothing to do.")

    changed = models_module(tmp_path, MODELS.replace("name: str", "display: str"))
    result = cli("makemigrations", "--models", changed.__name__, "--rename", "authors.name=display",
                 "--name", "display_name")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "migrations" / "0002_display_name.py").exists()
    odm_db.client.insert(odm_db.name, "authors", {"name": "Ann", "email": "ann@example.com"}, key="ann")
    assert cli("migrate").exit_code == 0
    assert odm_db.client.get(odm_db.name, "authors", "ann")["display"] == "Ann"

    result = cli("rollback")
    assert result.exit_code == 0 and "Unapplying 0002_display_name" in result.stdout
    assert odm_db.client.get(odm_db.name, "authors", "ann")["name"] == "Ann"
    status = cli("status").stdout
    assert "[X] 0001_initial" in status and "[ ] 0002_display_name" in status


@pytest.mark.parametrize("args, env, reason", [
    (["status"], {"SOLIDB_URL": None}, "error: no server URL: pass --url or set SOLIDB_URL"),
    (["status", "--url", "http://localhost:6745/db"], {}, "error: expected a solidb:// URL"),
    (["status", "--url", "solidb://admin:pw@127.0.0.1:6745"], {}, "error: the URL names no database"),
    (["sync", "--models", "no_such_module_here"], {}, "error: cannot import models module 'no_such_module_here'"),
    (["makemigrations", "--models", "json"], {}, "error: json defines no Document models"),
    (["migrate", "--dir", "/nonexistent/migrations"], {}, "error: no migrations directory"),
    (["migrate", "0009"], {}, "error: unknown migration '0009'"),
])
def test_failures_are_one_line_and_exit_1(cli: Cli, models: str, args: list[str], env: dict[str, str],
                                         reason: str) -> None:
    if args == ["migrate", "0009"]:
        assert cli("makemigrations", "--models", models).exit_code == 0
    result = cli(*args, **env)
    assert result.exit_code == 1
    assert len(lines(result.stderr)) == 1 and lines(result.stderr)[0].startswith(reason), result.stderr
    assert "Traceback" not in result.output


def test_server_down_is_one_line(cli: Cli) -> None:
    result = cli("status", "--url", f"solidb://admin:pw@127.0.0.1:{free_port()}/db")
    assert result.exit_code == 1
    assert lines(result.stderr) == [lines(result.stderr)[0]]
    assert lines(result.stderr)[0].startswith("error: cannot reach the server at 127.0.0.1:")


def test_sync_shows_the_difference_and_dry_run_stops_there(cli: Cli, models: str, odm_db: Database) -> None:
    result = cli("sync", "--models", models, "--dry-run")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "+ document collection authors",
        "+ index authors.idx_authors_email (email), unique",
        "+ JSON schema of authors",
        "+ edge collection wrote",
        "+ JSON schema of wrote",
        "Dry run: 5 change(s) not made.",
    ]
    assert not {"authors", "wrote"} & set(odm_db.collection_names())
    result = cli("sync", "--models", models)
    assert result.exit_code == 0 and "Synced: 2 collection(s), 1 index(es), 2 schema(s)" in result.stdout
    kinds = {c["name"]: c["type"] for c in odm_db.client.list_collections(odm_db.name)}
    assert kinds["wrote"] == "edge" and kinds["authors"] == "document"
    assert cli("sync", "--models", models).stdout.strip() == "In sync: nothing to create."


def _fill(db: Database, n: int) -> None:
    db.create_collection("things")
    db.client.bulk_insert(db.name, "things", [{"_key": f"t{i:04d}", "n": i, "name": f"thing {i}"}
                                              for i in range(n)])


def test_export_then_import_round_trip(cli: Cli, odm_db: Database, tmp_path: Path) -> None:
    _fill(odm_db, 95)
    out = tmp_path / "things.jsonl"
    result = cli("export", "things", "-o", str(out), "--batch-size", "10")
    assert result.exit_code == 0 and "Exported 95 document(s)" in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["_key"] for r in rows] == [f"t{i:04d}" for i in range(95)]
    assert set(rows[0]) == {"_key", "n", "name"}  # server fields are not exported
    assert cli("export", "things", "-o", str(out)).exit_code == 1  # no silent overwrite

    result = cli("import", "copy", str(out), "--batch-size", "20")
    assert result.exit_code == 0 and "Imported 95 document(s) into copy" in result.stdout
    assert odm_db.client.get(odm_db.name, "copy", "t0042")["n"] == 42
    assert not (tmp_path / "things.jsonl.checkpoint").exists()
    again = cli("import", "copy", str(out))
    assert "Imported 0 document(s) into copy; 95 already there" in again.stdout


def test_export_resumes_after_the_last_complete_line(cli: Cli, odm_db: Database, tmp_path: Path) -> None:
    _fill(odm_db, 40)
    full = tmp_path / "full.jsonl"
    assert cli("export", "things", "-o", str(full)).exit_code == 0
    partial = tmp_path / "partial.jsonl"
    text = full.read_text().splitlines(keepends=True)
    partial.write_text("".join(text[:17]) + text[17][:9])  # killed mid-line
    result = cli("export", "things", "-o", str(partial), "--resume", "--batch-size", "7")
    assert result.exit_code == 0 and "resumed after t0016" in result.stdout
    assert partial.read_text() == full.read_text()


def test_import_resumes_from_its_checkpoint(cli: Cli, odm_db: Database, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    docs = [json.dumps({"_key": f"d{i:03d}", "n": i}) for i in range(50)]
    broken = [*docs[:33], "{not json", *docs[33:]]
    source.write_text("\n".join(broken) + "\n")
    result = cli("import", "items", str(source), "--batch-size", "10")
    assert result.exit_code == 1, result.output
    assert len(lines(result.stderr)) == 1 and lines(result.stderr)[0].startswith(f"error: {source}:34: not JSON")
    checkpoint = json.loads((tmp_path / "in.jsonl.checkpoint").read_text())
    assert checkpoint["imported"] == 30 and checkpoint["line"] == 30
    source.write_text("\n".join(docs) + "\n")  # the line fixed in place: offsets unchanged before it
    result = cli("import", "items", str(source), "--batch-size", "10")
    assert result.exit_code == 0, result.output
    assert odm_db.query("RETURN COLLECTION_COUNT('items')") == [50]
    assert "Imported 50 document(s)" in result.stdout


def test_shell_preloads_db_and_models(cli: Cli, models: str, odm_db: Database) -> None:
    result = cli("shell", "--models", models, "-c",
                 "print(db.name, Author.collection_name(), Wrote.is_edge(), odm.__name__)")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [odm_db.name, "authors", "True", "solidb_odm"]
