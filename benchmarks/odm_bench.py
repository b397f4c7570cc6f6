"""ODM overhead, as ratios against the raw client measured in the same run.

Run: ``.venv/bin/python benchmarks/odm_bench.py`` (starts its own server).
Ratios are ODM time / raw time: 1.00 means no overhead. Targets from the
issue: single-document operations <= 1.15, hydrating 10,000 documents
<= 1.5, bulk_create >= 20x faster than a loop of save().
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).parent))

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


def main() -> None:
    with SoliDBServer() as server:
        admin = server.client()
        admin.create_database("bench")
        client = server.client("bench")
        db = Database(client, "bench")
        set_default_database(db)
        db.register(Item).sync()
        rows = []

        def ratio(label: str, measured: tuple[float, float, float, float], target: str) -> None:
            raw_rate, odm_rate, raw_cpu, odm_cpu = measured
            rows.append((label, f"{raw_rate:,.0f}", f"{odm_rate:,.0f}", f"{raw_rate / odm_rate:.2f}",
                         f"{raw_cpu:,.1f} / {odm_cpu:,.1f}", target))

        # single documents
        seed = Item(name="seed", value=1).save()
        key = seed.key
        assert key
        n = 300  # short slices, alternated many times: drift hits raw and ODM alike
        measured = paired_rates(lambda: [client.get("bench", "items", key) for _ in range(n)],
                                lambda: [Item.objects.get(key=key) for _ in range(n)], n, 21)
        ratio("get by key", measured, "<= 1.15")

        measured = paired_rates(
            lambda: [client.insert("bench", "items", {"name": "r", "value": 1, "tags": []}) for _ in range(n)],
            lambda: [Item(name="o", value=1).save() for _ in range(n)], n, 21)
        ratio("save (insert) one document", measured, "<= 1.15")

        doc = Item.objects.get(key=key)
        counter = iter(range(10**9))

        def odm_update() -> None:
            for _ in range(n):
                doc.value = next(counter)
                doc.save()

        measured = paired_rates(
            lambda: [client.update("bench", "items", key, {"value": next(counter)}) for _ in range(n)],
            odm_update, n, 21)
        ratio("save (update) one document", measured, "<= 1.15")

        # queries hydrated into models
        client.query("bench", "FOR d IN items REMOVE d IN items")
        client.bulk_insert("bench", "items", [{"name": f"i{i}", "value": i, "tags": ["a", "b"]} for i in range(10_000)])
        for size in (1, 100, 10_000):
            qs = Item.objects.filter(value__lt=size)
            compiled = qs.compile()
            reps = max(7, 1000 // size)
            measured = paired_rates(lambda c=compiled: client.query("bench", c.sdbql, c.bind_vars),
                                    lambda q=qs: list(q.iterator(chunk_size=10_000)), 1, reps)
            ratio(f"query {size:,} docs -> models", measured, "<= 1.5" if size == 10_000 else "")

        # bulk_create vs a loop of save()
        batch = 10_000
        started = time.perf_counter()
        Item.objects.bulk_create([Item(name=f"b{i}", value=i) for i in range(batch)])
        bulk_rate = batch / (time.perf_counter() - started)
        loop_n = 1000
        started = time.perf_counter()
        for i in range(loop_n):
            Item(name=f"l{i}", value=i).save()
        loop_rate = loop_n / (time.perf_counter() - started)
        rows.append(("bulk_create 10,000 vs save() loop", f"{loop_rate:,.0f}", f"{bulk_rate:,.0f}",
                     f"{bulk_rate / loop_rate:.1f}x faster", "", ">= 20x"))

        # the compiled-plan cache
        qs = Item.objects.filter(value__gt=3, name__startswith="x").exclude(tags__contains="z").order_by("-value")[:10]
        m = 5000
        hit = best_rate(lambda: [qs.compile() for _ in range(m)], m)

        def cold() -> None:
            for _ in range(m):
                compiler.render_select.cache_clear()
                qs.compile()

        miss = best_rate(cold, m)
        rows.append(("compile (shape cache hit vs miss)", f"{miss:,.0f}", f"{hit:,.0f}",
                     f"{hit / miss:.1f}x faster", "", "cache helps"))

        print_table(
            "ODM vs raw client (operations per second; ratio = raw rate / ODM rate, 1.00 = no overhead)",
            ("operation", "raw/baseline ops/s", "odm ops/s", "wall ratio", "client CPU us/op raw / odm", "target"),
            rows,
        )
        client.close()
        admin.close()


if __name__ == "__main__":
    main()
