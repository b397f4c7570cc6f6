"""The migration lock against a real server: two instances never migrate at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from solidb_odm import Database
from solidb_odm import migrations as m
from solidb_odm.testing import SoliDBServer

from ..modes import Mode
from .helpers import data_migration, make, models_module, models_of

MODELS = """
    from solidb_odm import Document

    class Counter(Document):
        n: int = 0

        class Meta:
            collection = "counters"
"""

SLOW_STEP = """
    import time
    def bump(doc):
        time.sleep(0.02)
        doc["runs"] = doc.get("runs", 0) + 1
        return doc
    """


def _prepare(db: Database, folder: Path, tmp_path: Path) -> None:
    make(folder, models_of(models_module(tmp_path, MODELS)))
    data_migration(folder, "bump", SLOW_STEP, 'm.RunPython("counters", bump, m.RunPython.noop, batch_size=5)')
    m.Migrator(db, folder).migrate("0001")
    db.client.bulk_insert(db.name, "counters", [{"_key": f"c{i:02d}"} for i in range(40)])


def test_two_concurrent_migrators_apply_each_migration_once(
        solidb_server: SoliDBServer, solidb_database: str, odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _prepare(odm_db, folder, tmp_path)
    results: Dict[str, Any] = {}
    finished: Dict[str, float] = {}
    start = threading.Barrier(2)

    def instance(name: str) -> None:
        db = Database(solidb_server.client(solidb_database), solidb_database, owns_client=True)
        try:
            migrator = m.Migrator(db, folder, owner=name, poll_interval=0.05)
            start.wait()
            results[name] = [str(s) for s in migrator.migrate()]
            finished[name] = time.monotonic()
        except BaseException as err:  # pragma: no cover - reported below
            results[name] = err
        finally:
            db.close()

    threads = [threading.Thread(target=instance, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(repr, results.values())) == ["['apply 0002_bump']", "[]"], results
    applier = next(n for n, r in results.items() if r)
    waiter = next(n for n, r in results.items() if not r)
    assert finished[waiter] >= finished[applier], "the other instance waited for the lock"
    runs = [d["runs"] for d in odm_db.query("FOR d IN counters RETURN d")]
    assert runs == [1] * 40, "the data step ran once per document"
    assert odm_db.run(m.Migrator(odm_db, folder).recorder.holder()) is None


def test_a_held_lock_times_out_with_its_holder_named(odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _prepare(odm_db, folder, tmp_path)
    holder = m.Migrator(odm_db, folder, owner="deploy-1")
    odm_db.run(holder.recorder.ensure())
    lease = odm_db.run(holder.recorder.try_acquire("deploy-1"))
    assert lease is not None
    waiting = m.Migrator(odm_db, folder, owner="deploy-2", lock_timeout=0.3, poll_interval=0.05)
    started = time.monotonic()
    with pytest.raises(m.MigrationLockError, match="deploy-1 holds the lock"):
        waiting.migrate()
    assert 0.3 <= time.monotonic() - started < 5
    odm_db.run(holder.recorder.release(lease))
    assert [str(s) for s in waiting.migrate()] == ["apply 0002_bump"]


async def test_a_lock_whose_holder_died_is_taken_over(mode: Mode, odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _prepare(odm_db, folder, tmp_path)
    now = [10_000_000]
    dead = m.Migrator(odm_db, folder, owner="killed", lease_seconds=30, clock=lambda: now[0])
    assert odm_db.run(dead.recorder.try_acquire("killed")) is not None  # and never released
    alive = m.Migrator(odm_db, folder, owner="next", lease_seconds=30, lock_timeout=0,
                       clock=lambda: now[0])
    with pytest.raises(m.MigrationLockError, match="killed holds the lock"):
        await mode(alive, "migrate")
    now[0] += 30_001  # the dead holder's lease ran out
    assert [str(s) for s in await mode(alive, "migrate")] == ["apply 0002_bump"]
    assert odm_db.run(alive.recorder.holder()) is None  # released after the run


def test_a_migrator_that_lost_its_lock_stops(odm_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _prepare(odm_db, folder, tmp_path)
    migrator = m.Migrator(odm_db, folder, owner="slow")
    odm_db.run(migrator.recorder.ensure())
    lease = odm_db.run(migrator.recorder.try_acquire("slow"))
    assert lease is not None
    odm_db.client.delete(odm_db.name, m.COLLECTION, "lock")  # as if broken by another instance
    odm_db.client.insert(odm_db.name, m.COLLECTION, {"kind": "lock", "token": "other",
                                                     "owner": "other", "expires_at": 0}, key="lock")
    steps: List[m.Step] = odm_db.run(migrator.plan_op())
    with pytest.raises(m.MigrationLockError, match="lost the migration lock"):
        odm_db.run(migrator.run_op(steps, lease))
