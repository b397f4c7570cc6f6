"""Constant memory: a data-step migration over N documents, and the client's peak RSS.

Run: ``.venv/bin/python benchmarks/migration_memory.py --docs 1000000`` (starts
its own server; ``--url`` uses a running one). The documents are written by a
child process, so this process's peak RSS (``getrusage``'s high-water mark)
belongs to the migration alone: loading the migration files, then a
``RunPython`` step that rewrites every document in batches of ``--batch-size``.
Exits 1 when the peak is over ``--limit-mb`` (200 MB by default, the issue's bar).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Optional

from solidb_odm import connect
from solidb_odm import migrations as m
from solidb_odm.testing import SoliDBServer

COLLECTION = "accounts"

MIGRATIONS = {
    "0001_initial.py": """
        from solidb_odm import migrations as m
        previous = None
        operations = [m.CreateCollection("accounts")]
        state = {"version": 1, "collections": {"accounts": {"type": "document", "indexes": {}, "schema": None}}}
        """,
    "0002_normalise.py": """
        from solidb_odm import migrations as m
        previous = "0001_initial"

        def normalise(doc):
            doc["email"] = doc["email"].lower()
            doc["balance_cents"] = int(round(doc.pop("balance") * 100))
            return doc

        def restore(doc):
            doc["balance"] = doc.pop("balance_cents") / 100
            return doc

        operations = [m.RunPython("accounts", normalise, restore, batch_size=BATCH)]
        state = {"version": 1, "collections": {"accounts": {"type": "document", "indexes": {}, "schema": None}}}
        """,
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def seed(url: str, docs: int) -> None:
    """Insert ``docs`` documents in chunks (runs in a child process)."""
    db = connect(url)
    chunk = 10_000
    for start in range(0, docs, chunk):
        db.client.bulk_insert(db.name, COLLECTION, [
            {"_key": f"a{i:08d}", "email": f"User{i}@Example.COM", "balance": i % 10_000 / 7,
             "note": "x" * 64}
            for i in range(start, min(start + chunk, docs))])
    db.close()


def run(url: str, docs: int, batch: int, trace: bool) -> tuple[float, float, Optional[float]]:
    folder = Path(tempfile.mkdtemp(prefix="odm-migration-bench-"))
    for name, source in MIGRATIONS.items():
        (folder / name).write_text(textwrap.dedent(source).replace("BATCH", str(batch)))
    db = connect(url)
    migrator = m.Migrator(db, folder)
    migrator.migrate("0001")
    subprocess.run([sys.executable, __file__, "--seed", url, "--docs", str(docs)], check=True)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    migrator.migrate()
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    sample = db.client.get(db.name, COLLECTION, f"a{docs - 1:08d}")
    assert sample["email"] == sample["email"].lower() and "balance" not in sample, sample
    db.close()
    return elapsed, peak_rss_mb(), traced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--url", help="a running server's solidb:// URL with admin credentials")
    parser.add_argument("--limit-mb", type=float, default=200.0)
    parser.add_argument("--tracemalloc", action="store_true", help="also report Python's traced peak")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(args.seed, args.docs)
        return 0
    database = f"bench_{uuid.uuid4().hex[:8]}"
    server = None if args.url else SoliDBServer(startup_timeout=120).start()
    try:
        base = args.url or (server.url if server else "")
        elapsed, peak, traced = run(f"{base}/{database}", args.docs, args.batch_size, args.tracemalloc)
    finally:
        if server is not None:
            server.stop()
    print(f"documents          {args.docs:,}")
    print(f"batch size         {args.batch_size:,}")
    print(f"migration time     {elapsed:.1f} s ({args.docs / elapsed:,.0f} documents/s)")
    print(f"client peak RSS    {peak:.1f} MB (limit {args.limit_mb:g} MB)")
    if traced is not None:
        print(f"tracemalloc peak   {traced:.1f} MB")
    print(f"python             {sys.version.split()[0]}, pid {os.getpid()}")
    return 0 if peak <= args.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
