"""One scheduler tick as an operation: hold the lease, then enqueue every due cron job once.

Exactly one job per occurrence, however many instances run: only the lease
holder fires, and each job is enqueued with a key made of the cron id and the
occurrence (``cron-<id>-<unix seconds>``), so a second enqueue of the same
occurrence (an instance that lost the lease without noticing yet) is refused
by the server's unique keys and counted as a duplicate, not run twice.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .. import exceptions as exc
from .. import protocol
from ..client.commands import ClientOps
from ..client.state import ClientState
from ..client.subclients.cron import CRON_COLLECTION
from ..client.subclients.jobs import JobsOps
from ..ops import Op
from . import lease as leases
from .due import due

STATE_COLLECTION = "_odm_cron_state"
COLLECTIONS = (CRON_COLLECTION, STATE_COLLECTION, leases.LEASE_COLLECTION)


@dataclass(frozen=True, slots=True)
class Fired:
    """One occurrence handled: the job enqueued for it (or found already enqueued)."""

    cron_id: str
    name: str
    occurrence: float
    job_key: str
    duplicate: bool = False


@dataclass(slots=True)
class TickReport:
    """What one tick did: whether this instance held the lease, and what it fired."""

    now: float
    leader: bool
    generation: Optional[int] = None
    fired: List[Fired] = field(default_factory=list)
    #: cron ids whose older occurrences were left out (coalesced, or past the grace)
    missed: List[str] = field(default_factory=list)


def job_key(cron_id: str, occurrence: float) -> str:
    return f"cron-{cron_id}-{int(occurrence)}"


class SchedulerCore:
    """The scheduler's decisions and requests, for both runners (no I/O, no threads, no loop)."""

    def __init__(self, state: ClientState, *, instance_id: Optional[str] = None,
                 lease_seconds: float = 30.0, misfire_grace_seconds: float = 300.0) -> None:
        if lease_seconds <= 0 or misfire_grace_seconds < 0:
            raise exc.ValidationError("lease_seconds must be positive, the grace not negative")
        self.database = state.require_database()
        self.instance_id = instance_id or f"scheduler-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = float(lease_seconds)
        self.grace = float(misfire_grace_seconds)
        self._ops = ClientOps(state)
        self._jobs = JobsOps(state)
        self._prepared = False

    def prepare_op(self) -> Op[None]:
        """Create the scheduler's collections when they are missing."""
        existing = set((yield from self._ops.command("list_collections",
                                                     database=self.database)).data or [])
        for name in COLLECTIONS:
            if name not in existing:
                try:
                    yield from self._ops.create_collection(self.database, name)
                except exc.AlreadyExistsError:
                    pass  # another instance made it meanwhile
        self._prepared = True

    def tick_op(self, now: float) -> Op[TickReport]:
        """Hold (or wait for) the lease; as holder, enqueue what is due at ``now``."""
        if not self._prepared:
            yield from self.prepare_op()
        held = yield from leases.acquire_op(self._ops, self.database, self.instance_id, now,
                                            self.lease_seconds)
        report = TickReport(now=now, leader=held is not None,
                            generation=held.generation if held else None)
        if held is None:
            return report
        definitions, fired_last = yield from self._load_op()
        for definition in definitions:
            cron_id = str(definition["_key"])
            found = due(definition, fired_last.get(cron_id), now, self.grace)
            if found.missed:
                report.missed.append(cron_id)
            if found.occurrence is not None:
                report.fired.append((yield from self._fire_op(definition, found.occurrence)))
        return report

    def release_op(self, now: float) -> Op[bool]:
        """Give up the lease (a clean stop), so another instance takes over at once."""
        return (yield from leases.release_op(self._ops, self.database, self.instance_id, now))

    def _load_op(self) -> Op[tuple[List[Dict[str, Any]], Dict[str, float]]]:
        db = self.database
        replies = yield from self._ops.batch([
            protocol.command("query", database=db,
                             sdbql=f"FOR c IN {CRON_COLLECTION} FILTER c.enabled == true "
                                   "SORT c._key RETURN c"),
            protocol.command("query", database=db,
                             sdbql=f"FOR s IN {STATE_COLLECTION} "
                                   "RETURN [s._key, s.last_occurrence]"),
        ])
        for reply in replies:
            if isinstance(reply, exc.SoliDBError):
                raise reply
        definitions = list(replies[0].data or [])  # type: ignore[union-attr]
        fired_last = {str(k): float(v) for k, v in replies[1].data or []}  # type: ignore[union-attr]
        return definitions, fired_last

    def _fire_op(self, definition: Dict[str, Any], occurrence: float) -> Op[Fired]:
        cron_id = str(definition["_key"])
        key = job_key(cron_id, occurrence)
        duplicate = False
        try:
            yield from self._jobs.enqueue(
                str(definition.get("queue") or "default"), str(definition["script_path"]),
                definition.get("params") or {}, int(definition.get("priority") or 0),
                _dt.datetime.fromtimestamp(occurrence, _dt.UTC),
                max_attempts=int(definition.get("max_attempts") or 1),
                key=key, cron_job_id=cron_id,
            )
        except exc.AlreadyExistsError:
            duplicate = True  # enqueued already, by this or another instance
        yield from self._remember_op(cron_id, occurrence, key)
        return Fired(cron_id, str(definition.get("name")), occurrence, key, duplicate)

    def _remember_op(self, cron_id: str, occurrence: float, key: str) -> Op[None]:
        db, record = self.database, {"last_occurrence": occurrence, "last_job": key,
                                     "fired_by": self.instance_id}
        try:
            yield from self._ops.update(db, STATE_COLLECTION, cron_id, record)
            return
        except exc.NotFoundError:
            pass
        try:
            yield from self._ops.insert(db, STATE_COLLECTION, record, key=cron_id)
        except exc.AlreadyExistsError:
            yield from self._ops.update(db, STATE_COLLECTION, cron_id, record)
