"""Pin the benchmark process and the server to different CPUs.

On a small machine the scheduler moves the client and the server between
cores; a ``get`` then takes 60 µs or 140 µs for seconds at a time, and a
ratio from unpinned slices can flip. Pinning every thread of the server to
one CPU and the benchmark to another makes the slices comparable.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple


def cpus() -> Tuple[int, ...]:
    """The CPUs this process may run on."""
    if not hasattr(os, "sched_getaffinity"):
        return ()
    return tuple(sorted(os.sched_getaffinity(0)))


def pin(server_pid: Optional[int], *, client_cpu: Optional[int] = None,
        server_cpu: Optional[int] = None) -> str:
    """Pin this process to one CPU and every thread of ``server_pid`` to another.

    Threads the server starts later inherit the CPU of the thread that starts
    them, so pin once the server is up. Returns a line describing what was
    done (printed by the benchmarks), or why nothing was (one CPU, no
    ``sched_setaffinity`` on this platform).
    """
    available = cpus()
    if len(available) < 2 or server_pid is None:
        return "not pinned (one CPU or no server process)"
    client = available[0] if client_cpu is None else client_cpu
    server = available[-1] if server_cpu is None else server_cpu
    os.sched_setaffinity(0, {client})
    pinned = 0
    try:
        threads = os.listdir(f"/proc/{server_pid}/task")
    except OSError:
        threads = [str(server_pid)]
    for tid in threads:
        try:
            os.sched_setaffinity(int(tid), {server})
            pinned += 1
        except OSError:  # a thread that ended meanwhile
            pass
    return f"pinned: benchmark on CPU {client}, server ({pinned} threads) on CPU {server}"


def unpin() -> None:
    """Let this process run on every CPU again."""
    if hasattr(os, "sched_setaffinity") and hasattr(os, "cpu_count"):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
