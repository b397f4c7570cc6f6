"""Which occurrence of a cron job is due now: pure arithmetic over cron expressions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..client.subclients.cron import occurrences

#: Upper bound on occurrences walked per job and tick (a per-second schedule over a long grace).
MAX_WALK = 100_000


@dataclass(frozen=True, slots=True)
class Due:
    """The occurrence to fire now (None: nothing due), and whether older ones were left out."""

    occurrence: Optional[float]
    missed: bool


def due(definition: Mapping[str, Any], last_fired: Optional[float], now: float,
        grace: float) -> Due:
    """The latest occurrence in ``(anchor, now]`` not older than ``grace`` seconds.

    The anchor is the later of the last occurrence fired and the moment the
    current schedule took effect (``schedule_since``), so a new or changed
    schedule never fires for times before it. Several occurrences due at once
    (the scheduler was down, or slow) fire once, for the latest ("coalesced");
    ``missed`` says some were left out, including any older than ``grace``.
    """
    anchor = float(definition.get("schedule_since") or 0.0)
    if last_fired is not None:
        anchor = max(anchor, last_fired)
    if anchor >= now:
        return Due(None, False)
    start = max(anchor, now - grace)
    schedule = str(definition["schedule"])
    timezone = str(definition.get("timezone") or "UTC")
    missed = start > anchor and next(occurrences(schedule, anchor, timezone)) <= start
    latest: Optional[float] = None
    for walked, moment in enumerate(occurrences(schedule, start, timezone)):
        if moment > now or walked >= MAX_WALK:
            break
        if latest is not None:
            missed = True
        latest = moment
    return Due(latest, missed)
