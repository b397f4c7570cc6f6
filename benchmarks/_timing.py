"""Small timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import time
from typing import Callable, List, Tuple


def best_rate(fn: Callable[[], object], ops: int, repeats: int = 5) -> float:
    """Operations per second of ``fn`` (which does ``ops`` operations), best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return ops / best


def paired_rates(
    raw: Callable[[], object], odm: Callable[[], object], ops: int, repeats: int = 7
) -> Tuple[float, float, float, float]:
    """Best rates of two variants measured alternately, so drift hits both alike.

    Also returns each variant's best client CPU time per operation (µs): the
    server's share of the wall time is the same for both, so the CPU
    difference is the overhead on the client side, free of server noise.
    """
    best_raw = best_odm = float("inf")
    cpu_raw = cpu_odm = float("inf")
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        raw()
        best_raw = min(best_raw, time.perf_counter() - started)
        cpu_raw = min(cpu_raw, time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        odm()
        best_odm = min(best_odm, time.perf_counter() - started)
        cpu_odm = min(cpu_odm, time.process_time() - cpu)
    return ops / best_raw, ops / best_odm, cpu_raw / ops * 1e6, cpu_odm / ops * 1e6


def print_table(title: str, header: Tuple[str, ...], rows: List[Tuple[object, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
