"""Throughput and latency of the blocking and the asyncio client, in one run.

Run ``python benchmarks/async_bench.py``. It starts its own throw-away
server and measures, in interleaved slices (this machine is noisy, so each
variant gets a share of every stretch of time):

- sequential ``get`` on one blocking ``Client`` (the baseline);
- 16 threads sharing one ``Client`` (pool of 16);
- ``get`` from 100 concurrent asyncio tasks on one ``AsyncClient`` (pools of
  4 and of 16 connections), in batches of 1,000;
- sequential ``await get`` on one ``AsyncClient`` (one operation's cost);
- the async variants again on uvloop's event loop, when it is installed.

It prints each rate and its ratio to the sequential baseline, and the
latency of one async operation against one blocking one. Unless ``--no-pin``
is given, the benchmark process and the server are pinned to different CPUs
(``_pinning.py``), so the scheduler does not move them onto one core for
seconds at a time. ``--tiny`` runs it in a few seconds (CI).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _pinning import pin

from solidb_odm import AsyncClient, Client
from solidb_odm.testing import SoliDBServer

try:  # optional: measured too when installed (pip install solidb-odm[uvloop])
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

DB = "bench"
KEYS = [f"k{i:04d}" for i in range(1000)]


class Variant:
    """One way of doing gets; ``slice(seconds)`` runs it for a while and returns ops done."""

    def __init__(self, name: str, run_slice: Callable[[float], int]) -> None:
        self.name = name
        self.run_slice = run_slice
        self.ops = 0
        self.elapsed = 0.0
        self.cpu = 0.0

    def measure(self, seconds: float) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self.ops += self.run_slice(seconds)
        self.elapsed += time.perf_counter() - started
        self.cpu += time.process_time() - cpu

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_op(self) -> float:
        return self.cpu / self.ops * 1e6 if self.ops else 0.0


def sequential_sync(client: Client) -> Callable[[float], int]:
    def run(seconds: float) -> int:
        deadline = time.perf_counter() + seconds
        n = 0
        while n < 1 or time.perf_counter() < deadline:
            client.get(DB, "seed", KEYS[n % len(KEYS)])
            n += 1
        return n
    return run


def threaded_sync(client: Client, threads: int) -> Callable[[float], int]:
    def run(seconds: float) -> int:
        deadline = time.perf_counter() + seconds
        counts = [0] * threads

        def worker(slot: int) -> None:
            n = 0
            while n < 1 or time.perf_counter() < deadline:
                client.get(DB, "seed", KEYS[(slot * 37 + n) % len(KEYS)])
                n += 1
            counts[slot] = n

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return sum(counts)
    return run


def concurrent_async(loop: asyncio.AbstractEventLoop, client: AsyncClient,
                     tasks: int, batch: int) -> Callable[[float], int]:
    async def one_batch() -> None:
        per_task = batch // tasks

        async def worker(slot: int) -> None:
            for n in range(per_task):
                await client.get(DB, "seed", KEYS[(slot * 37 + n) % len(KEYS)])

        await asyncio.gather(*(worker(i) for i in range(tasks)))

    def run(seconds: float) -> int:
        deadline = time.perf_counter() + seconds
        n = 0
        while n < 1 or time.perf_counter() < deadline:
            loop.run_until_complete(one_batch())
            n += 1
        return n * (batch // tasks) * tasks
    return run


def sequential_async(loop: asyncio.AbstractEventLoop, client: AsyncClient
                     ) -> Callable[[float], int]:
    async def loop_for(seconds: float) -> int:
        deadline = time.perf_counter() + seconds
        n = 0
        while n < 1 or time.perf_counter() < deadline:
            await client.get(DB, "seed", KEYS[n % len(KEYS)])
            n += 1
        return n

    def run(seconds: float) -> int:
        return loop.run_until_complete(loop_for(seconds))
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time spent on each variant, in total")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved slices per variant")
    parser.add_argument("--batch", type=int, default=1000,
                        help="gets per batch of the concurrent async variant")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    parser.add_argument("--tiny", action="store_true",
                        help="a few seconds in all (CI: the script still runs)")
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.rounds, args.batch = 0.1, 2, 100

    with SoliDBServer() as server:
        placement = "not pinned" if args.no_pin else pin(
            server.process.pid if server.process else None)
        admin = server.client(pool_size=16)
        admin.create_database(DB)
        admin.create_collection(DB, "seed")
        admin.bulk_insert(DB, "seed", [{"_key": k, "i": i, "name": f"n{i}"}
                                       for i, k in enumerate(KEYS)])
        loops = {"asyncio": asyncio.new_event_loop()}
        if uvloop is not None:
            loops["uvloop"] = uvloop.new_event_loop()
        aclients: list[tuple[asyncio.AbstractEventLoop, AsyncClient]] = []
        try:
            variants = [
                Variant("sequential sync get (baseline)", sequential_sync(admin)),
                Variant("16 threads, one Client (pool 16)", threaded_sync(admin, 16)),
            ]
            for loop_name, loop in loops.items():
                for pool_size in (4, 16):
                    aclient = AsyncClient(server.host, server.port, pool_size=pool_size)
                    loop.run_until_complete(
                        aclient.auth("_system", server.username, server.password))
                    aclients.append((loop, aclient))
                    variants.append(Variant(
                        f"100 tasks, one AsyncClient (pool {pool_size}, {loop_name})",
                        concurrent_async(loop, aclient, 100, args.batch)))
                variants.append(Variant(f"sequential async get ({loop_name})",
                                        sequential_async(loop, aclients[-2][1])))
            for variant in variants:  # warm-up, not counted
                variant.run_slice(0.0)
            for _ in range(args.rounds):
                for variant in variants:
                    variant.measure(args.seconds / args.rounds)
        finally:
            for loop, aclient in aclients:
                loop.run_until_complete(aclient.close())
            for loop in loops.values():
                loop.close()
            admin.close()

    base = variants[0].rate
    print(f"\nasync_bench ({placement}; {args.rounds} interleaved slices, "
          f"{args.seconds:g}s per variant)\n")
    print(f"| {'variant':<52} | {'gets/s':>9} | {'x sequential sync':>17} | {'client CPU µs/get':>17} |")
    print(f"|{'-' * 54}|{'-' * 10}:|{'-' * 18}:|{'-' * 18}:|")
    for variant in variants:
        print(f"| {variant.name:<52} | {variant.rate:>9,.0f} | {variant.rate / base:>17.2f} "
              f"| {variant.cpu_per_op:>17.1f} |")
    sync_us = 1e6 / base
    for variant in variants:
        if variant.name.startswith("sequential async"):
            async_us = 1e6 / variant.rate
            print(f"one operation, {variant.name}: {async_us:.1f} µs against sync {sync_us:.1f} µs, "
                  f"async/sync {async_us / sync_us:.2f}")
    print("\nclient CPU per get close to the wall time per get means the benchmark process, "
          "not the server, is the limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
