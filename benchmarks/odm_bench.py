"""ODM overhead, as ratios against the raw client measured in the same run.

Run: ``.venv/bin/python benchmarks/odm_bench.py`` (starts its own server);
``--tiny`` for CI (a few seconds). The benchmark is pinned to one CPU and
every server thread to the other (``_pinning.pin``); raw and ODM slices
alternate (``_timing.paired_rates``), the best slice of each is kept, and the
client CPU column (``time.process_time``) shows the client's own cost, free
of server noise.

Ratios are ODM time / raw time (1.00 = no overhead), except bulk_create,
which is a throughput ratio (ODM documents/s over raw ``bulk_insert``
documents/s, higher is better). Targets (issue 10):

- get, save (insert), save (update): <= 1.10;
- 100 documents -> models: <= 1.3; 10,000 with full validation: <= 1.5;
- the trusted path (``QuerySet.trusted()``, docs/performance.md): <= 1.15;
- bulk_create: >= 0.8x the throughput of raw bulk_insert.

The raw side of a query row runs the statement the ODM compiles and returns
the same documents. ``query N docs -> models`` is ``list(qs)``, paging
included (past 2,000 rows a QuerySet reads the rest through a server-side
cursor); ``raw query N docs + from_wire_many`` isolates the hydration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).parent))

from _pinning import pin
from _timing import best_rate, paired_rates, print_table

from solidb_odm import Document
from solidb_odm.database import Database, set_default_database
from solidb_odm.query import compiler
from solidb_odm.testing import SoliDBServer


class Item(Document):
    name: str
    value: int = 0
    tags: List[str] = []

    class Meta:
        collection = "items"


Row = Tuple[str, str, str, str, str, str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    tiny = args.tiny
    n = 30 if tiny else 300  # short slices, alternated many times: drift hits raw and ODM alike
    slices = 3 if tiny else 21
    big = 1_000 if tiny else 10_000
    bulk = 200 if tiny else 2_000

    with SoliDBServer() as server:
        pinned = pin(server.process.pid)
        admin = server.client()
        admin.create_database("bench")
        client = server.client("bench")
        db = Database(client, "bench")
        set_default_database(db)
        db.register(Item).sync()
        rows: List[Row] = []

        def ratio(label: str, measured: Tuple[float, float, float, float], target: str) -> None:
            raw_rate, odm_rate, raw_cpu, odm_cpu = measured
            rows.append((label, f"{raw_rate:,.0f}", f"{odm_rate:,.0f}", f"{raw_rate / odm_rate:.2f}",
                         f"{raw_cpu:,.1f} / {odm_cpu:,.1f}", target))

        # -- single documents ------------------------------------------------------
        seed = Item(name="seed", value=1).save()
        key = seed.key
        assert key
        measured = paired_rates(lambda: [client.get("bench", "items", key) for _ in range(n)],
                                lambda: [Item.objects.get(key=key) for _ in range(n)], n, slices)
        ratio("get by key", measured, "<= 1.10")

        measured = paired_rates(
            lambda: [client.insert("bench", "items", {"name": "r", "value": 1, "tags": []})
                     for _ in range(n)],
            lambda: [Item(name="o", value=1).save() for _ in range(n)], n, slices)
        ratio("save (insert) one document", measured, "<= 1.10")

        doc = Item.objects.get(key=key)
        counter = iter(range(10**9))

        def odm_update() -> None:
            for _ in range(n):
                doc.value = next(counter)
                doc.save()

        measured = paired_rates(
            lambda: [client.update("bench", "items", key, {"value": next(counter)})
                     for _ in range(n)],
            odm_update, n, slices)
        ratio("save (update) one document", measured, "<= 1.10")

        # -- queries hydrated into models --------------------------------------------
        client.query("bench", "FOR d IN items REMOVE d IN items")
        client.bulk_insert("bench", "items", [{"name": f"i{i}", "value": i, "tags": ["a", "b"]}
                                              for i in range(big)])
        for size in (1, 100, big):
            qs = Item.objects.filter(value__lt=size)
            compiled = qs.compile()
            reps = max(7, (100 if tiny else 1000) // size)
            target = {100: "<= 1.3", big: "<= 1.5"}.get(size, "")
            measured = paired_rates(lambda c=compiled: client.query("bench", c.sdbql, c.bind_vars),
                                    lambda q=qs: list(q.all()), 1, reps)
            ratio(f"query {size:,} docs -> models", measured, target)
            trusted = qs.trusted()
            measured = paired_rates(lambda c=compiled: client.query("bench", c.sdbql, c.bind_vars),
                                    lambda q=trusted: list(q.all()), 1, reps)
            ratio(f"query {size:,} docs -> models, trusted()", measured,
                  "<= 1.15" if size >= 100 else "")

        # -- the same, hydration only: the raw client's rows made into models ------------
        # (list(qs) above also pays for paging: past its first page of 2,000 rows a
        # QuerySet reads the rest through a server-side cursor)
        for size in (100, big):
            compiled = Item.objects.filter(value__lt=size).compile()
            reps = max(7, (100 if tiny else 1000) // size)
            target = {100: "<= 1.3", big: "<= 1.5"}.get(size, "")

            def fetch(c: Any = compiled) -> List[Any]:
                return client.query("bench", c.sdbql, c.bind_vars)

            measured = paired_rates(fetch, lambda f=fetch: Item.from_wire_many(f(), db), 1, reps)
            ratio(f"raw query {size:,} docs + from_wire_many", measured, target)
            measured = paired_rates(
                fetch, lambda f=fetch: Item.from_wire_many(f(), db, trusted=True), 1, reps)
            ratio(f"raw query {size:,} docs + from_wire_many(trusted=True)", measured, "<= 1.15")

        # -- bulk_create against raw bulk_insert (throughput) ------------------------
        best: Dict[str, Tuple[float, float]] = {"raw": (float("inf"), 0.0),
                                                 "odm": (float("inf"), 0.0)}
        for _ in range(3 if tiny else 9):
            docs: List[Dict[str, Any]] = [{"_key": os.urandom(16).hex(), "name": f"r{i}",
                                           "value": i, "tags": []} for i in range(bulk)]
            objs = [Item(name=f"b{i}", value=i) for i in range(bulk)]
            for side, run in (("raw", lambda d=docs: client.bulk_insert("bench", "items", d)),
                              ("odm", lambda o=objs: Item.objects.bulk_create(o))):
                started, cpu = time.perf_counter(), time.process_time()
                run()
                wall, used = time.perf_counter() - started, time.process_time() - cpu
                if wall < best[side][0]:
                    best[side] = (wall, used)
        raw_rate, odm_rate = bulk / best["raw"][0], bulk / best["odm"][0]
        rows.append((f"bulk_create {bulk:,} vs bulk_insert (docs/s)", f"{raw_rate:,.0f}",
                     f"{odm_rate:,.0f}", f"{odm_rate / raw_rate:.2f}x throughput",
                     f"{best['raw'][1] / bulk * 1e6:,.1f} / {best['odm'][1] / bulk * 1e6:,.1f}",
                     ">= 0.8x"))

        # -- the compiled-plan cache ---------------------------------------------------
        qs = Item.objects.filter(value__gt=3, name__startswith="x").exclude(
            tags__contains="z").order_by("-value")[:10]
        m = 500 if tiny else 5000
        hit = best_rate(lambda: [qs.compile() for _ in range(m)], m)

        def cold() -> None:
            for _ in range(m):
                compiler.render_select.cache_clear()
                qs.compile()

        miss = best_rate(cold, m)
        rows.append(("compile (shape cache hit vs miss)", f"{miss:,.0f}", f"{hit:,.0f}",
                     f"{hit / miss:.1f}x faster", "", "cache helps"))

        print(pinned)
        print_table(
            "ODM vs raw client (operations per second; ratio = raw rate / ODM rate, "
            "1.00 = no overhead; bulk_create: ODM throughput / raw throughput)",
            ("operation", "raw ops/s", "odm ops/s", "ratio", "client CPU µs/op raw / odm",
             "target"),
            rows,
        )
        client.close()
        admin.close()


if __name__ == "__main__":
    main()
