"""Session commits against the same changes made with individual save() calls.

Run: ``.venv/bin/python benchmarks/session_bench.py`` (starts its own server).
For 1, 100 and 1,000 changed documents, the time of one session commit and of
a loop of ``save()``, measured in the same run; ratio = loop time / session time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _timing import print_table

from solidb_odm import Document
from solidb_odm.database import Database, set_default_database
from solidb_odm.testing import SoliDBServer


class Row(Document):
    n: int = 0

    class Meta:
        collection = "rows"


def main() -> None:
    with SoliDBServer() as server:
        admin = server.client()
        admin.create_database("bench")
        db = Database(server.client("bench"), "bench")
        set_default_database(db)
        db.register(Row).sync()
        Row.objects.bulk_create([Row(n=0, key=f"r{i}") for i in range(1000)])
        results = []
        for size in (1, 100, 1000):
            keys = [f"r{i}" for i in range(size)]
            best_loop = best_session = float("inf")
            for _ in range(3):
                objs = list(Row.objects.filter(key__in=keys))
                started = time.perf_counter()
                for obj in objs:
                    obj.n += 1
                    obj.save()
                best_loop = min(best_loop, time.perf_counter() - started)

                objs = list(Row.objects.filter(key__in=keys))
                started = time.perf_counter()
                with db.session() as session:  # begin, one flush frame, commit
                    for obj in objs:
                        session.add(obj)
                        obj.n += 1
                best_session = min(best_session, time.perf_counter() - started)
            results.append((size, f"{best_loop * 1000:.1f}", f"{best_session * 1000:.1f}",
                            f"{best_loop / best_session:.2f}"))
        print_table(
            "Commit of N changed documents: loop of save() vs one session (ms, best of 3; "
            "both start from loaded objects; the session time includes begin and commit)",
            ("N", "save() loop ms", "session ms", "ratio loop/session"),
            results,
        )
        db.client.close()
        admin.close()


if __name__ == "__main__":
    main()
