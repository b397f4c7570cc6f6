"""What routing writes for triggers costs: nothing for plain collections, the HTTP route for watched ones.

Run ``python benchmarks/trigger_routing_bench.py``. It starts a throw-away
server and times, alternately (best of several rounds), each write made the
way the client made it before trigger routing existed (the driver command as
``ClientOps`` sent it, with no check) and the way it is made now:

- to a collection without triggers: the only new work is the check (two
  dictionary lookups against the per-database cache), so the ratio should
  be ~1.0;
- to a collection with an enabled trigger: the write goes over the server's
  HTTP document API, which fires the trigger. Two triggers are measured: one
  whose filter never passes (the routing alone) and one that fires a job for
  every write (what a real trigger costs the server too).

Ratios are now / before (>1 is slower). Client CPU per write is shown too.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, List, Tuple

from _timing import paired_rates, print_table

from solidb_odm import AsyncClient, Client, protocol
from solidb_odm.ops import Op, data
from solidb_odm.testing import SoliDBServer

DB = "bench"


def before_insert(collection: str, doc: dict[str, Any]) -> Op[Any]:
    """``ClientOps.insert`` as it was before routing (commit 0ae7577), line for line."""
    body = dict(doc)
    protocol.check_document(body)
    return dict((yield from data("insert", database=DB, collection=collection, key=None,
                                 document=body)) or {})


def before_update(collection: str, key: str, doc: dict[str, Any]) -> Op[Any]:
    """``ClientOps.update`` (merge) as it was before routing."""
    body = dict(doc)
    protocol.check_document(body)
    return dict((yield from data("update", database=DB, collection=collection, key=key,
                                 document=body, merge=True)) or {})


def sync_rows(client: Client, n: int, repeats: int) -> List[Tuple[object, ...]]:
    rows: List[Tuple[object, ...]] = []
    client.update(DB, "plain", "k", {"n": 0})  # loads the trigger cache
    for collection, label in (("plain", "no triggers"), ("filtered", "trigger, filter false"),
                              ("fired", "trigger that fires")):
        def before_ins(collection: str = collection) -> None:
            for _ in range(n):
                client.run(before_insert(collection, {"n": 1}))

        def now_ins(collection: str = collection) -> None:
            for _ in range(n):
                client.insert(DB, collection, {"n": 1})

        def before_upd(collection: str = collection) -> None:
            for i in range(n):
                client.run(before_update(collection, "k", {"n": i}))

        def now_upd(collection: str = collection) -> None:
            for i in range(n):
                client.update(DB, collection, "k", {"n": i})

        for op, before, now in (("insert", before_ins, now_ins), ("update", before_upd, now_upd)):
            rb, rn, cb, cn = paired_rates(before, now, n, repeats)
            rows.append(("sync", op, label, f"{rb:,.0f}", f"{rn:,.0f}", f"{rb / rn:.2f}",
                         f"{cb:.0f}", f"{cn:.0f}"))
    return rows


def async_rows(host: str, port: int, creds: dict[str, str], n: int, repeats: int
               ) -> List[Tuple[object, ...]]:
    async def main() -> List[Tuple[object, ...]]:
        client = AsyncClient(host, port)
        await client.auth("_system", creds["username"], creds["password"])
        await client.update(DB, "plain", "k", {"n": 0})
        rows: List[Tuple[object, ...]] = []
        for collection, label in (("plain", "no triggers"), ("filtered", "trigger, filter false")):
            best_b = best_n = cpu_b = cpu_n = float("inf")
            for _ in range(repeats):  # alternately, so drift hits both alike
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(n):
                    await client.run(before_insert(collection, {"n": 1}))
                best_b = min(best_b, time.perf_counter() - started)
                cpu_b = min(cpu_b, time.process_time() - cpu)
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(n):
                    await client.insert(DB, collection, {"n": 1})
                best_n = min(best_n, time.perf_counter() - started)
                cpu_n = min(cpu_n, time.process_time() - cpu)
            rows.append(("async", "insert", label, f"{n / best_b:,.0f}", f"{n / best_n:,.0f}",
                         f"{best_n / best_b:.2f}", f"{cpu_b / n * 1e6:.0f}",
                         f"{cpu_n / n * 1e6:.0f}"))
        await client.close()
        return rows

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="writes per round")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with SoliDBServer() as server:
        client = server.client()
        client.create_database(DB)
        client.use_database(DB)
        for name in ("plain", "filtered", "fired"):
            client.create_collection(DB, name)
            client.insert(DB, name, {"n": 0}, key="k")
        client.scripts.create(name="noop", path="scripts/noop", methods=["POST"],
                              code="return {}")
        client.triggers.create(name="never", collection="filtered", operation=["insert", "update"],
                               script_path="scripts/noop", filter="false")
        client.triggers.create(name="each", collection="fired", operation=["insert", "update"],
                               script_path="scripts/noop")
        rows = sync_rows(client, args.n, args.repeats)
        creds = {"username": server.username, "password": server.password}
        rows += async_rows(server.host, server.port, creds, args.n, args.repeats)
        client.close()
    print_table(
        f"Trigger routing: writes/s before and now ({args.n} writes per round, best of "
        f"{args.repeats}); ratio = before/now rate, i.e. how many times slower now",
        ("mode", "write", "collection", "before/s", "now/s", "ratio", "cpu µs before",
         "cpu µs now"),
        rows,
    )


if __name__ == "__main__":
    main()
