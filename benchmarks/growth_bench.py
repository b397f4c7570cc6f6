"""How the ODM's costs grow with the collection: 1k, 10k, 100k and 1M documents.

Run: ``.venv/bin/python benchmarks/growth_bench.py`` (starts its own server;
``--sizes 1000,2000`` for a quick run). For each size, into a fresh
collection:

- ``bulk_create`` of N validated models (default batches);
- a filtered ``iterator()`` over the half of them that match, hydrated;
- ``count()`` of that filter (unindexed) and an equality lookup on an indexed
  field (one document);
- the client's peak memory while ``iterator()`` runs over all N documents
  (tracemalloc's peak of Python allocations, which also slows that pass).
  It must stay flat: the iterator holds one batch at a time, whatever N.

Times are single runs (the large sizes take seconds each); the process and
the server are pinned to different CPUs.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Annotated, Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).parent))

from _pinning import pin

from solidb_odm import Document, Indexed
from solidb_odm.database import Database, set_default_database
from solidb_odm.exceptions import NotFoundError
from solidb_odm.testing import SoliDBServer

SIZES = (1_000, 10_000, 100_000, 1_000_000)


class Reading(Document):
    serial: Annotated[str, Indexed()]
    sensor: str
    group: int
    value: float
    tags: List[str] = []

    class Meta:
        collection = "readings"


def readings(n: int) -> List[Reading]:
    return [Reading(serial=f"s{i:08d}", sensor=f"sensor-{i % 97}", group=i % 2, value=i * 0.25,
                    tags=["a", "b"] if i % 3 else []) for i in range(n)]


def timed(fn: Callable[[], object]) -> Tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def peak_memory_mb(fn: Callable[[], object]) -> float:
    """The peak of Python allocations while ``fn`` runs, above what was allocated before, in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return (tracemalloc.get_traced_memory()[1] - before) / 1e6
    finally:
        tracemalloc.stop()


def drain(iterable: object) -> int:
    n = 0
    for _ in iterable:  # type: ignore[attr-defined]
        n += 1
    return n


def measure(db: Database, n: int) -> Tuple[str, ...]:
    docs = readings(n)
    started = time.perf_counter()
    Reading.objects.bulk_create(docs)
    created = time.perf_counter() - started
    del docs  # the memory pass below must not count them
    matching = Reading.objects.filter(group=1, value__gte=0)
    iterated, seen = timed(lambda: drain(matching.iterator()))
    assert seen == n // 2, (seen, n)
    counted, count = timed(matching.count)
    assert count == n // 2
    probe = f"s{n // 2:08d}"
    looked_up, found = timed(lambda: Reading.objects.get(serial=probe))
    assert found.serial == probe  # type: ignore[attr-defined]
    memory = peak_memory_mb(lambda: drain(Reading.objects.all().iterator()))
    return (f"{n:,}", f"{created:.2f} s", f"{n / created:,.0f}", f"{iterated:.2f} s",
            f"{counted * 1000:,.1f} ms", f"{looked_up * 1000:,.2f} ms", f"{memory:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                        help="comma-separated collection sizes")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with SoliDBServer() as server:
        print(pin(server.process.pid if server.process else None))
        admin = server.client()
        admin.create_database("growth")
        db = Database(server.client("growth"), "growth", owns_client=True)
        set_default_database(db)
        try:
            for n in sizes:
                try:
                    db.client.delete_collection("growth", "readings")
                except NotFoundError:
                    pass  # the first size
                db.register(Reading).sync()
                rows.append(measure(db, n))
                print(f"  measured {n:,}", file=sys.stderr, flush=True)
        finally:
            set_default_database(None)
            db.close()
            admin.close()
    header = ("documents", "bulk_create", "docs/s", "filtered iterator() (N/2)",
              "count() (N/2)", "indexed get()", "iterator() peak memory (all N)")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
