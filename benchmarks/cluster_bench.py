"""Reads against one node and against three with round-robin, in the same run.

Run ``python benchmarks/cluster_bench.py`` (``--tiny`` for CI). It starts its
own three-node cluster on loopback, writes ``--docs`` documents and waits
until every node has them, then reads random ones by key from ``--workers``
threads (sync) and tasks (async) through:

- ``Client(host, port)``: node 0 alone;
- ``Client(hosts=[...], strategy="round_robin")``: all three nodes;

alternating the two, best of ``--repeats`` each, and prints the reads per
second and the ratio three / one. Every node runs on this machine, so the
ratio says how much the client and the servers share the same cores, not
how a real cluster scales: report it, do not target it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from solidb_odm import AsyncClient, Client
from solidb_odm.testing import SoliDBCluster

DB = "bench"


def _wait_replicated(cluster: SoliDBCluster, docs: int) -> None:
    for index in range(len(cluster)):
        with cluster.client(index) as node:
            deadline = time.monotonic() + 60
            while node.query(DB, "FOR d IN seed COLLECT WITH COUNT INTO n RETURN n")[0] < docs:
                if time.monotonic() > deadline:
                    raise SystemExit(f"node {index} did not get the documents in time")
                time.sleep(0.1)


def _sync_rate(client: Client, docs: int, workers: int, seconds: float) -> float:
    counts = [0] * workers
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        rng = random.Random(slot)
        n = 0
        while time.perf_counter() < stop:
            client.get(DB, "seed", f"k{rng.randrange(docs)}")
            n += 1
        counts[slot] = n

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def _async_rate(make: Callable[[], AsyncClient], credentials: tuple[str, str, str], docs: int,
                workers: int, seconds: float) -> float:
    async def main() -> float:
        client = make()
        await client.auth(*credentials)
        counts = [0] * workers
        stop = time.perf_counter() + seconds

        async def work(slot: int) -> None:
            rng = random.Random(slot)
            n = 0
            while time.perf_counter() < stop:
                await client.get(DB, "seed", f"k{rng.randrange(docs)}")
                n += 1
            counts[slot] = n

        started = time.perf_counter()
        await asyncio.gather(*(work(i) for i in range(workers)))
        rate = sum(counts) / (time.perf_counter() - started)
        await client.close()
        return rate

    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a quick run for CI")
    args = parser.parse_args(argv)
    if args.tiny:
        args.docs, args.workers, args.seconds, args.repeats = 200, 4, 0.5, 1

    with SoliDBCluster(nodes=3) as cluster:
        credentials = ("_system", cluster.username, cluster.password)
        with cluster.client(0) as admin:
            admin.create_database(DB)
            time.sleep(1.5)  # the database reaches the peers first
            admin.create_collection(DB, "seed")
            time.sleep(1.5)
            admin.bulk_insert(DB, "seed", [{"_key": f"k{i}", "n": i, "pad": "x" * 200}
                                           for i in range(args.docs)])
        _wait_replicated(cluster, args.docs)
        host, port = cluster.hosts[0]
        pool = args.workers

        one = Client(host, port, pool_size=pool)
        one.auth(*credentials)
        three = Client(hosts=cluster.hosts, strategy="round_robin", pool_size=pool)
        three.auth(*credentials)
        results: dict[str, list[float]] = {k: [] for k in ("sync 1", "sync 3", "async 1", "async 3")}
        try:
            for _ in range(args.repeats):  # alternated, so drift hits both alike
                results["sync 1"].append(_sync_rate(one, args.docs, args.workers, args.seconds))
                results["sync 3"].append(_sync_rate(three, args.docs, args.workers, args.seconds))
                results["async 1"].append(_async_rate(
                    lambda: AsyncClient(host, port, pool_size=pool), credentials, args.docs,
                    args.workers, args.seconds))
                results["async 3"].append(_async_rate(
                    lambda: AsyncClient(hosts=cluster.hosts, strategy="round_robin",
                                        pool_size=pool),
                    credentials, args.docs, args.workers, args.seconds))
            spread = [n.answered for n in three.nodes]
        finally:
            one.close()
            three.close()

    best: dict[str, Any] = {k: max(v) for k, v in results.items()}
    print(f"reads by key, {args.workers} workers, {args.docs} documents, "
          f"best of {args.repeats} x {args.seconds}s")
    print("| mode  | 1 node (reads/s) | 3 nodes round-robin (reads/s) | ratio 3/1 |")
    print("|-------|------------------|-------------------------------|-----------|")
    for mode in ("sync", "async"):
        single, multi = best[f"{mode} 1"], best[f"{mode} 3"]
        print(f"| {mode:<5} | {single:16,.0f} | {multi:29,.0f} | {multi / single:9.2f} |")
    print(f"sync round-robin reads answered per node: {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
