"""Who may fire: one lease in the database, taken by inserting its next generation.

The lease is a run of documents in ``_odm_cron_leases``, one per generation
(``_key`` = ``g`` + the zero-padded generation). The current one is the
highest generation; its ``holder`` fires until ``expires_at``. The holder
renews it (moves ``expires_at``) while it is valid; anyone who finds it
expired takes over by *inserting* the next generation. Keys are unique, so of
several instances trying at once exactly one insert succeeds: that insert is
the compare-and-set. A killed holder stops renewing, and the next instance to
tick after ``expires_at`` takes over.

A holder that was paused past its expiry may still believe it leads until its
next tick; the jobs it enqueues carry a key per occurrence, so such overlaps
never enqueue a job twice (see ``core.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from .. import exceptions as exc
from ..client.commands import ClientOps
from ..ops import Op

LEASE_COLLECTION = "_odm_cron_leases"


def lease_key(generation: int) -> str:
    return f"g{generation:012d}"


@dataclass(frozen=True, slots=True)
class Lease:
    """The current lease as this instance saw it: who holds it, until when, which generation."""

    generation: int
    holder: str
    expires_at: float

    @classmethod
    def of(cls, document: Dict[str, Any]) -> Lease:
        return cls(int(document["generation"]), str(document["holder"]),
                   float(document["expires_at"]))


def current_op(ops: ClientOps, database: str) -> Op[Optional[Lease]]:
    """The lease of the highest generation, or None when nobody ever held one."""
    rows = yield from ops.query(
        database, f"FOR l IN {LEASE_COLLECTION} SORT l.generation DESC LIMIT 1 RETURN l")
    return Lease.of(rows[0]) if rows else None


def acquire_op(ops: ClientOps, database: str, me: str, now: float, ttl: float
               ) -> Op[Optional[Lease]]:
    """Hold the lease after this call (renewed, taken over or first taken), or None: someone else does."""
    lease = yield from current_op(ops, database)
    if lease is not None and lease.holder == me and lease.expires_at > now:
        if lease.expires_at - now < ttl * 2 / 3:  # renew well before it runs out
            yield from ops.update(database, LEASE_COLLECTION, lease_key(lease.generation),
                                  {"expires_at": now + ttl, "renewed_at": now})
            return Lease(lease.generation, me, now + ttl)
        return lease
    if lease is not None and lease.expires_at > now:
        return None  # held by a live instance
    generation = 1 if lease is None else lease.generation + 1
    try:
        yield from ops.insert(database, LEASE_COLLECTION, {
            "generation": generation, "holder": me, "expires_at": now + ttl,
            "acquired_at": now, "renewed_at": now,
            "previous_holder": None if lease is None else lease.holder,
        }, key=lease_key(generation))
    except exc.AlreadyExistsError:
        return None  # another instance took this generation first
    if generation > 2:  # keep the previous generation for the record, drop older ones
        yield from ops.query(
            database, f"FOR l IN {LEASE_COLLECTION} FILTER l.generation < @g "
                      f"REMOVE l IN {LEASE_COLLECTION}", {"g": generation - 1})
    return Lease(generation, me, now + ttl)


def release_op(ops: ClientOps, database: str, me: str, now: float) -> Op[bool]:
    """Give the lease up now (if held), so another instance takes over at its next tick."""
    lease = yield from current_op(ops, database)
    if lease is None or lease.holder != me or lease.expires_at <= now:
        return False
    yield from ops.update(database, LEASE_COLLECTION, lease_key(lease.generation),
                          {"expires_at": now, "released_at": now})
    return True
