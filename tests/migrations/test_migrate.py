"""Migrations against a real server, in both modes: forwards, backwards, renames, data steps, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from solidb_odm import Database
from solidb_odm import exceptions as exc
from solidb_odm import migrations as m

from ..modes import Mode
from .helpers import data_migration, make, models_module, models_of

V1 = """
    from typing import Annotated
    from solidb_odm import Document, Indexed

    class Member(Document):
        name: str
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "members"
"""

V2 = """
    from typing import Annotated
    from solidb_odm import Document, Indexed

    class Member(Document):
        full_name: Annotated[str, Indexed()]
        email: Annotated[str, Indexed(unique=True)]

        class Meta:
            collection = "members"
"""

N = 53  # not a multiple of any batch size used below


def _docs(db: Database, collection: str) -> List[Dict[str, Any]]:
    return db.query(f"FOR d IN {collection} SORT d._key RETURN d")


def _seed(db: Database, collection: str = "members") -> None:
    db.client.bulk_insert(db.name, collection, [
        {"_key": f"m{i:03d}", "name": f"Name {i}", "email": f"M{i}@Example.com"} for i in range(N)])


def _indexes(db: Database, collection: str) -> List[str]:
    return sorted(i["name"] for i in db.client.list_indexes(db.name, collection))


def _schema(db: Database, collection: str) -> Any:
    reply = db.client.command("get_collection_schema", database=db.name, collection=collection)
    return reply.data


async def test_forwards_and_backwards_with_a_field_rename(mode: Mode, odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    migrator = m.Migrator(odm_db, folder)
    assert [str(s) for s in await mode(migrator, "plan")] == ["apply 0001_initial"]
    await mode(migrator, "migrate")
    assert _indexes(odm_db, "members") == ["idx_members_email"]
    assert _schema(odm_db, "members")["schema"]["required"] == ["name", "email"]
    _seed(odm_db)
    with pytest.raises(exc.SchemaValidationError):  # the pushed schema is enforced
        odm_db.client.insert(odm_db.name, "members", {"email": "no-name@example.com"})

    make(folder, models_of(models_module(tmp_path, V2)), renames=["members.name=full_name"])
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate")
    docs = _docs(odm_db, "members")
    assert len(docs) == N and all("name" not in d and d["full_name"].startswith("Name ") for d in docs)
    assert _indexes(odm_db, "members") == ["idx_members_email", "idx_members_full_name"]
    assert _schema(odm_db, "members")["validation_mode"] == "strict"
    assert "full_name" in _schema(odm_db, "members")["schema"]["required"]
    statuses = await mode(migrator, "status")
    assert [(s.name[:4], s.applied) for s in statuses] == [("0001", True), ("0002", True)]

    done = await mode(migrator, "rollback")
    assert [str(s) for s in done] == [f"unapply {statuses[1].name}"]
    docs = _docs(odm_db, "members")
    assert len(docs) == N and all("full_name" not in d and d["name"].startswith("Name ") for d in docs)
    assert _indexes(odm_db, "members") == ["idx_members_email"]
    assert _schema(odm_db, "members")["schema"]["required"] == ["name", "email"]

    await mode(migrator, "rollback", "zero")
    assert "members" not in odm_db.collection_names()
    assert [s.applied for s in await mode(migrator, "status")] == [False, False]


async def test_data_step_in_batches_and_back(mode: Mode, odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    data_migration(folder, "lower_emails", """
        def lower(doc):
            doc["original_email"] = doc["email"]
            doc["email"] = doc["email"].lower()
            return doc

        def restore(doc):
            if "original_email" not in doc:
                return None
            doc["email"] = doc.pop("original_email")
            return doc
        """, 'm.RunPython("members", lower, restore, batch_size=10)')
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate", "0001")
    _seed(odm_db)
    seen: List[tuple[str, int]] = []
    migrator.report = lambda label, done, total: seen.append((label, done))
    await mode(migrator, "migrate")
    docs = _docs(odm_db, "members")
    assert all(d["email"] == d["email"].lower() and d["original_email"] != d["email"] for d in docs)
    assert [done for _, done in seen] == [10, 10, 10, 10, 10, 3]  # batches of 10, key order
    await mode(migrator, "rollback", "0001")
    assert all(d["email"].startswith("M") and "original_email" not in d for d in _docs(odm_db, "members"))


async def test_data_step_can_delete(mode: Mode, odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    data_migration(folder, "drop_odd", """
        def drop_odd(doc):
            return m.DELETE if int(doc["_key"][1:]) % 2 else None
        """, 'm.RunPython("members", drop_odd, batch_size=4)')
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate", "0001")
    _seed(odm_db)
    await mode(migrator, "migrate")
    assert [d["_key"] for d in _docs(odm_db, "members")] == [f"m{i:03d}" for i in range(0, N, 2)]
    with pytest.raises(m.MigrationError, match="cannot be rolled back: run drop_odd over members"):
        await mode(migrator, "rollback")


async def test_collection_rename_keeps_keys_indexes_and_schema(mode: Mode, odm_db: Database,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate")
    _seed(odm_db)
    renamed = models_module(tmp_path, V1.replace('collection = "members"', 'collection = "users2"'))
    make(folder, models_of(renamed), renames=["members=users2"])
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate")
    assert "members" not in odm_db.collection_names()
    assert [d["_key"] for d in _docs(odm_db, "users2")] == [f"m{i:03d}" for i in range(N)]
    assert _indexes(odm_db, "users2") == ["idx_users2_email"]
    assert _schema(odm_db, "users2")["schema"]["required"] == ["name", "email"]
    await mode(migrator, "rollback")
    assert "users2" not in odm_db.collection_names()
    assert len(_docs(odm_db, "members")) == N and _indexes(odm_db, "members") == ["idx_members_email"]


async def test_interrupted_data_step_resumes_after_the_last_batch(
        mode: Mode, odm_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    data_migration(folder, "count", """
        import os
        def bump(doc):
            if doc["_key"] == "m025" and os.environ.get("ODM_TEST_CRASH") == "1":
                raise RuntimeError("crash at m025")
            doc["runs"] = doc.get("runs", 0) + 1
            return doc
        """, 'm.RunPython("members", bump, m.RunPython.noop, batch_size=10)')
    migrator = m.Migrator(odm_db, folder)
    await mode(migrator, "migrate", "0001")
    _seed(odm_db)
    monkeypatch.setenv("ODM_TEST_CRASH", "1")
    with pytest.raises(RuntimeError, match="crash at m025"):
        await mode(migrator, "migrate")
    monkeypatch.delenv("ODM_TEST_CRASH")
    status = await mode(migrator, "status")
    assert [(s.applied, s.interrupted) for s in status] == [(True, False), (False, True)]
    with pytest.raises(m.MigrationError, match="was interrupted while running forwards"):
        await mode(migrator, "rollback")
    await mode(migrator, "migrate")
    runs = {d["_key"]: d["runs"] for d in _docs(odm_db, "members")}
    assert set(runs.values()) == {1}, "each document was transformed exactly once"
    assert all(s.applied for s in await mode(migrator, "status"))


async def test_unknown_target_and_unknown_applied_migrations(mode: Mode, odm_db: Database,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    make(folder, models_of(models_module(tmp_path, V1)))
    migrator = m.Migrator(odm_db, folder)
    with pytest.raises(m.MigrationError, match="unknown migration '0007'"):
        await mode(migrator, "migrate", "0007")
    await mode(migrator, "migrate")
    odm_db.client.insert(odm_db.name, m.COLLECTION, {"kind": "applied"}, key="0002_from_the_future")
    with pytest.raises(m.MigrationError, match="does not have: 0002_from_the_future"):
        await mode(migrator, "status")
