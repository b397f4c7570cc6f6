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


def print_table(title: str, header: Tuple[str, ...], rows: List[Tuple[object, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
