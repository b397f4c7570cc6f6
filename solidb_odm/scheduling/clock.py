"""Where the scheduler gets the time: the system clock, or one a test (or a simulation) drives."""

from __future__ import annotations

import threading
import time
from typing import Callable

#: A clock is any callable answering Unix seconds (``time.time`` is one).
Clock = Callable[[], float]

system_clock: Clock = time.time


class ManualClock:
    """A clock that moves only when told to, so tests can walk a scheduler through hours at once.

        clock = ManualClock(1_700_000_000)
        scheduler = Scheduler(client, clock=clock)
        clock.advance(60)   # a minute later
        scheduler.tick()
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back); the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (at or after the current time)."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock does not go back")
            self._now = float(now)
