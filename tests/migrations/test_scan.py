"""KeyCursor: every document once, in key order, while others write before and after it."""

from __future__ import annotations

from collections import Counter

from solidb_odm import Database
from solidb_odm.migrations import KeyCursor

from ..modes import Mode


def _seed(db: Database, count: int) -> None:
    db.create_collection("items")
    db.client.bulk_insert(db.name, "items", [{"_key": f"k{i:02d}", "i": i} for i in range(count)])


async def test_batches_in_key_order(mode: Mode, odm_db: Database) -> None:
    _seed(odm_db, 30)
    cursor = KeyCursor(odm_db.ops, odm_db.name, "items", batch_size=7)
    sizes, keys = [], []
    while batch := await mode(odm_db, "run", cursor.next_batch()):
        sizes.append(len(batch))
        keys += [d["_key"] for d in batch]
    assert sizes == [7, 7, 7, 7, 2]
    assert keys == [f"k{i:02d}" for i in range(30)]
    assert cursor.recounts == 0


async def test_concurrent_writes_before_and_after_the_cursor(mode: Mode, odm_db: Database) -> None:
    _seed(odm_db, 30)
    client = odm_db.client
    cursor = KeyCursor(odm_db.ops, odm_db.name, "items", batch_size=7)
    seen = [d["_key"] for d in await mode(odm_db, "run", cursor.next_batch())]
    assert seen[-1] == "k06"
    client.delete(odm_db.name, "items", "k01")          # before the cursor: the offset shifts
    client.delete(odm_db.name, "items", "k02")
    client.insert(odm_db.name, "items", {"i": -1}, key="k015")
    client.insert(odm_db.name, "items", {"i": -1}, key="k135")   # ahead: will be seen
    client.delete(odm_db.name, "items", "k20")          # ahead: never seen
    while batch := await mode(odm_db, "run", cursor.next_batch()):
        seen += [d["_key"] for d in batch]
    counts = Counter(seen)
    assert max(counts.values()) == 1, "no document twice"
    expected = {f"k{i:02d}" for i in range(30)} - {"k20"} | {"k135"}
    assert set(seen) == expected
    assert seen == sorted(seen)
    assert cursor.recounts >= 1


async def test_resume_after_a_key(mode: Mode, odm_db: Database) -> None:
    _seed(odm_db, 12)
    cursor = KeyCursor(odm_db.ops, odm_db.name, "items", batch_size=5, after="k06")
    keys = []
    while batch := await mode(odm_db, "run", cursor.next_batch()):
        keys += [d["_key"] for d in batch]
    assert keys == ["k07", "k08", "k09", "k10", "k11"]


async def test_a_caller_that_deletes_its_batch_needs_no_recount(mode: Mode, odm_db: Database) -> None:
    _seed(odm_db, 20)
    cursor = KeyCursor(odm_db.ops, odm_db.name, "items", batch_size=6)
    seen = []
    while batch := await mode(odm_db, "run", cursor.next_batch()):
        seen += [d["_key"] for d in batch]
        odd = [d["_key"] for d in batch if d["i"] % 2]
        odm_db.query("FOR k IN @keys REMOVE k IN items", {"keys": odd})
        cursor.removed(len(odd))
    assert seen == [f"k{i:02d}" for i in range(20)]
    assert cursor.recounts == 0
