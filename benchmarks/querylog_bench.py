"""What the query log costs a raw ``Client.get``: off, on but filtered, on into a NullHandler.

Run ``python benchmarks/querylog_bench.py``. It starts its own throw-away
server and measures ``client.get`` of one document in interleaved slices
(so the server's drift hits every variant alike) under:

- ``off``: no observer registered (the executors' path whenever nothing is
  enabled: one ``events.active`` test per request);
- ``no-op observer``: an observer that does nothing (the cost of building
  and dispatching the ``RequestEvent`` alone);
- ``log, logger filtered``: ``enable_query_log()`` with the logger at WARNING,
  so every DEBUG record is dropped before anything is formatted;
- ``log, NullHandler``: the logger at DEBUG writing to a ``NullHandler``
  (records built and handled, nothing written).

The issue's figure, "when the log is off it costs at most 1% of a raw get",
is about ``off``: the only work instrumentation does then is that boolean
test, which no run of the executor can leave out, so it is timed on its own
(a loop of the same test against an empty loop) and divided by the time of
a raw get measured here.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Dict, Iterator, List, Tuple

from solidb_odm import Client, events
from solidb_odm.querylog import LOGGER_NAME, disable_query_log, enable_query_log
from solidb_odm.testing import SoliDBServer

DB = "bench"


@contextmanager
def off() -> Iterator[None]:
    yield


@contextmanager
def noop_observer() -> Iterator[None]:
    def observer(event: events.RequestEvent) -> None:
        pass

    events.add_observer(observer)
    try:
        yield
    finally:
        events.remove_observer(observer)


@contextmanager
def log_at(level: int) -> Iterator[None]:
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(level)
    enable_query_log()
    try:
        yield
    finally:
        disable_query_log()
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


VARIANTS: Dict[str, Callable[[], AbstractContextManager[None]]] = {
    "off": off,
    "no-op observer": noop_observer,
    "log, logger filtered": lambda: log_at(logging.WARNING),
    "log, NullHandler": lambda: log_at(logging.DEBUG),
}


def measure(get: Callable[[], object], seconds: float, rounds: int
            ) -> Dict[str, Tuple[float, float]]:
    """Per variant: the median over its slices of wall and client CPU seconds per get.

    Slices of all variants alternate, so the server's drift hits each alike;
    the median drops the slices another process on the machine disturbed.
    """
    for make in VARIANTS.values():  # warm-up, not counted
        with make():
            for _ in range(50):
                get()
    slices: Dict[str, List[Tuple[float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, make in VARIANTS.items():
            with make():
                n = 0
                started, cpu = time.perf_counter(), time.process_time()
                deadline = started + seconds / rounds
                while n < 1 or time.perf_counter() < deadline:
                    get()
                    n += 1
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu
            slices[name].append((wall / n, cpu / n))
    return {name: (statistics.median(w for w, _ in per), statistics.median(c for _, c in per))
            for name, per in slices.items()}


def check_cost(loops: int = 2_000_000, repeats: int = 5) -> float:
    """Seconds one ``if events.active:`` costs, as the executors do it, with nothing registered."""
    assert not events.active

    def checked() -> None:
        for _ in range(loops):
            if events.active:
                pass

    def empty() -> None:
        for _ in range(loops):
            pass

    best_checked = best_empty = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        checked()
        best_checked = min(best_checked, time.perf_counter() - started)
        started = time.perf_counter()
        empty()
        best_empty = min(best_empty, time.perf_counter() - started)
    return max(best_checked - best_empty, 0.0) / loops


def run(seconds: float, rounds: int) -> Tuple[Dict[str, Tuple[float, float]], float]:
    with SoliDBServer() as server:
        client: Client = server.client()
        try:
            client.create_database(DB)
            client.create_collection(DB, "seed")
            client.insert(DB, "seed", {"name": "n", "i": 42}, key="k42")
            results = measure(lambda: client.get(DB, "seed", "k42"), seconds, rounds)
        finally:
            client.close()
    return results, check_cost()


def print_results(results: Dict[str, Tuple[float, float]], check: float) -> None:
    base_wall, base_cpu = results["off"]
    rows: List[Tuple[str, ...]] = []
    for name, (wall, cpu) in results.items():
        rows.append((name, f"{1 / wall:,.0f}", f"{wall * 1e6:.1f}", f"{cpu * 1e6:.1f}",
                     f"{wall / base_wall:.3f}", f"{(cpu - base_cpu) * 1e6:+.1f}"))
    header = ("variant", "gets/s", "µs/get", "CPU µs/get", "time/off", "CPU µs vs off")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(f"\noff: one `events.active` test per request = {check * 1e9:.1f} ns, "
          f"{check / base_wall * 100:.4f}% of a raw get ({base_wall * 1e6:.1f} µs), "
          f"{check / base_cpu * 100:.4f}% of its client CPU ({base_cpu * 1e6:.1f} µs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time spent on each variant (split into --rounds slices)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved slices per variant")
    args = parser.parse_args()
    started = time.perf_counter()
    results, check = run(args.seconds, args.rounds)
    print_results(results, check)
    print(f"\n(single thread, one connection; total {time.perf_counter() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
