"""Run migrations forwards and backwards, one instance at a time.

``Migrator(db, "migrations").migrate()`` (or ``await ... .amigrate()``) takes
the lock, works out the plan from what ``_odm_migrations`` records, runs each
step as an operation on the database's executor, and records the result.
Progress is saved after every batch of a data step, so a run that was
killed resumes where it stopped (``migrate`` again).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

from .. import exceptions as exc
from ..ops import Op
from . import state as st
from .files import Migration, load_directory, states_through
from .operations import Context
from .recorder import Lease, MigrationLockError, Recorder, default_owner

if TYPE_CHECKING:
    from ..database import Database

FORWARDS = "forwards"
BACKWARDS = "backwards"
ZERO = "zero"
"""The target before the first migration: ``rollback zero`` undoes them all."""


class MigrationError(exc.SoliDBError):
    """The migrations cannot run as asked (unknown target, irreversible step, interrupted run...)."""


@dataclass(frozen=True)
class Step:
    """One migration to run, and in which direction."""

    migration: Migration
    direction: str

    def __str__(self) -> str:
        arrow = "apply" if self.direction == FORWARDS else "unapply"
        return f"{arrow} {self.migration.name}"


@dataclass(frozen=True)
class MigrationStatus:
    """One migration file and whether the database has it applied."""

    name: str
    applied: bool
    applied_at: Optional[str]
    reversible: bool
    interrupted: bool = False


Report = Callable[[str, int, Optional[int]], None]


class Migrator:
    """The migrations of one directory, against one database.

    ``lock_timeout``: how long to wait for another instance's run to finish;
    ``lease_seconds``: how long the lock survives its holder without renewal
    (the holder renews it after every batch). ``echo`` gets one line per step
    and ``report(label, done, total)`` the progress of data steps.
    """

    def __init__(self, db: Database, directory: Path | str = "migrations", *,
                 lock_timeout: float = 60.0, lease_seconds: float = 60.0,
                 owner: Optional[str] = None, poll_interval: float = 0.25,
                 echo: Callable[[str], None] = lambda line: None,
                 report: Optional[Report] = None, clock: Any = None) -> None:
        self.db = db
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self.owner = owner or default_owner()
        self.echo = echo
        self.report: Report = report or (lambda label, done, total: None)
        kwargs = {"clock": clock} if clock is not None else {}
        self.recorder = Recorder(db.ops, db.name, lease_seconds=lease_seconds, **kwargs)
        self._migrations: Optional[List[Migration]] = None

    @property
    def migrations(self) -> List[Migration]:
        """The directory's migrations, loaded (and checked) on first use."""
        if self._migrations is None:
            self._migrations = load_directory(self.directory)
        return self._migrations

    # -- operations (no I/O of their own) ---------------------------------------------

    def status_op(self) -> Op[List[MigrationStatus]]:
        yield from self.recorder.ensure()
        applied = yield from self.recorder.applied()
        progress = yield from self.recorder.progress()
        self._check_known(applied)
        interrupted = progress.get("migration") if progress else None
        return [MigrationStatus(m.name, m.name in applied, applied[m.name].get("applied_at")
                                if m.name in applied else None, m.reversible,
                                interrupted == m.name)
                for m in self.migrations]

    def plan_op(self, target: Optional[str] = None, *, rollback: bool = False) -> Op[List[Step]]:
        """The steps ``migrate(target)`` (or ``rollback(target)``) would run, in order."""
        yield from self.recorder.ensure()
        applied = yield from self.recorder.applied()
        return self._plan(applied, target, rollback)

    def _check_known(self, applied: Dict[str, Any]) -> None:
        known = {m.name for m in self.migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(
                f"the database has migrations applied that {self.directory} does not have: "
                f"{', '.join(unknown)} (is this checkout older than what was deployed?)")
        flags = [m.name in applied for m in self.migrations]
        if any(later and not earlier for earlier, later in itertools.pairwise(flags)):
            gaps = [m.name for m, f in zip(self.migrations, flags, strict=True) if not f]
            raise MigrationError(f"applied migrations have a gap: {', '.join(gaps)} not applied")

    def _index(self, target: str) -> int:
        """How many migrations are applied once ``target`` is the last one (0 for ``zero``)."""
        if target == ZERO:
            return 0
        matches = [i for i, m in enumerate(self.migrations)
                   if m.name == target or (target.isdigit() and m.number == int(target))]
        if len(matches) != 1:
            names = ", ".join(m.name for m in self.migrations) or "none"
            raise MigrationError(f"unknown migration {target!r} (known: {names})")
        return matches[0] + 1

    def _plan(self, applied: Dict[str, Any], target: Optional[str], rollback: bool) -> List[Step]:
        self._check_known(applied)
        count = sum(1 for m in self.migrations if m.name in applied)
        if rollback:
            goal = max(count - 1, 0) if target is None else self._index(target)
            if goal > count:
                raise MigrationError(f"{target} is not applied yet: nothing to roll back to")
        else:
            goal = len(self.migrations) if target is None else self._index(target)
        if goal >= count:
            return [Step(m, FORWARDS) for m in self.migrations[count:goal]]
        return [Step(m, BACKWARDS) for m in reversed(self.migrations[goal:count])]

    def _previous_state(self, migration: Migration) -> st.State:
        index = self.migrations.index(migration)
        return self.migrations[index - 1].state if index else st.empty_state()

    def run_op(self, steps: Sequence[Step], lease: Lease) -> Op[List[Step]]:
        """Run ``steps`` while holding ``lease``; the steps done."""
        done: List[Step] = []
        progress = yield from self.recorder.progress()
        applied = yield from self.recorder.applied()
        if progress is not None:
            name, direction = progress.get("migration"), progress.get("direction")
            finished = (name in applied) == (direction == FORWARDS)
            if finished:  # its end was recorded, only the progress document was left behind
                yield from self.recorder.clear_progress()
                progress = None
            elif not steps or (steps[0].migration.name, steps[0].direction) != (name, direction):
                verb = "migrate" if direction == FORWARDS else "rollback"
                raise MigrationError(
                    f"{name} was interrupted while running {direction} (step "
                    f"{int(progress.get('operation', 0)) + 1}); run `{verb}` to finish it first")
        for step in steps:
            if step.direction == BACKWARDS and not step.migration.reversible:
                irreversible = [op.describe() for op in step.migration.operations if not op.reversible]
                raise MigrationError(f"{step.migration.name} cannot be rolled back: "
                                     f"{'; '.join(irreversible)} has no backwards function")
        for step in steps:
            self.echo(f"{'Applying' if step.direction == FORWARDS else 'Unapplying'} "
                      f"{step.migration.name}")
            yield from self._run_step(step, lease, progress)
            progress = None
            done.append(step)
        return done

    def _run_step(self, step: Step, lease: Lease, progress: Optional[Dict[str, Any]]) -> Op[None]:
        migration = step.migration
        states = states_through(migration, self._previous_state(migration))
        count = len(migration.operations)
        forwards = step.direction == FORWARDS
        order = list(range(count)) if forwards else list(range(count - 1, -1, -1))
        start = int(progress["operation"]) if progress else None
        renewed = [time.monotonic()]
        for index in order:
            if start is not None and (index < start if forwards else index > start):
                continue  # finished before the interruption
            resuming = start == index and progress is not None
            op = migration.operations[index]
            record: Dict[str, Any] = {
                "migration": migration.name, "direction": step.direction, "operation": index,
                "last_key": progress.get("last_key") if resuming and progress else None,
                "memo": dict(progress.get("memo") or {}) if resuming and progress else {},
            }
            memo: Dict[str, Any] = record["memo"]

            def checkpoint(last_key: Optional[str], record: Dict[str, Any] = record,
                           memo: Dict[str, Any] = memo) -> Op[None]:
                record["last_key"] = last_key
                record["memo"] = memo
                if time.monotonic() - renewed[0] > self.recorder.lease_ms / 3000:
                    yield from self.recorder.renew(lease)
                    renewed[0] = time.monotonic()
                yield from self.recorder.save_progress(record)

            warning = op.warning() if forwards else None
            self.echo(f"  {'' if forwards else 'undo '}{op.describe()}"
                      + (f"  [{warning}]" if warning else "")
                      + (f"  (resuming after {record['last_key']})" if record["last_key"] else ""))
            yield from self.recorder.renew(lease)
            renewed[0] = time.monotonic()
            yield from self.recorder.save_progress(record)
            ctx = Context(self.db.ops, self.db.name, states[index] if forwards else states[index + 1],
                          checkpoint, resume_after=record["last_key"], memo=memo, report=self.report)
            yield from (op.forwards(ctx) if forwards else op.backwards(ctx))
        if forwards:
            yield from self.recorder.record(migration.name)
        else:
            yield from self.recorder.unrecord(migration.name)
        yield from self.recorder.clear_progress()

    # -- blocking -----------------------------------------------------------------------

    def status(self) -> List[MigrationStatus]:
        """Every migration file and whether it is applied."""
        return self.db.run(self.status_op())

    def plan(self, target: Optional[str] = None, *, rollback: bool = False) -> List[Step]:
        """What ``migrate(target)`` (or ``rollback(target)``) would run; runs nothing."""
        return self.db.run(self.plan_op(target, rollback=rollback))

    def migrate(self, target: Optional[str] = None) -> List[Step]:
        """Apply the migrations up to ``target`` (all by default); back down if it is older."""
        return self._locked(target, rollback=False)

    def rollback(self, target: Optional[str] = None) -> List[Step]:
        """Unapply the last migration, or every one after ``target`` (``"zero"``: all)."""
        return self._locked(target, rollback=True)

    def _locked(self, target: Optional[str], *, rollback: bool) -> List[Step]:
        self.migrations  # noqa: B018 - load and check the files before taking the lock
        self.db.run(self.recorder.ensure())
        deadline = time.monotonic() + self.lock_timeout
        while True:
            lease = self.db.run(self.recorder.try_acquire(self.owner))
            if lease is not None:
                break
            if time.monotonic() >= deadline:
                raise self._lock_error(self.db.run(self.recorder.holder()))
            time.sleep(self.poll_interval)
        try:
            steps = self.db.run(self.plan_op(target, rollback=rollback))
            return self.db.run(self.run_op(steps, lease))
        finally:
            self.db.run(self.recorder.release(lease))

    # -- asyncio -------------------------------------------------------------------------

    async def astatus(self) -> List[MigrationStatus]:
        return await self.db.arun(self.status_op())

    async def aplan(self, target: Optional[str] = None, *, rollback: bool = False) -> List[Step]:
        return await self.db.arun(self.plan_op(target, rollback=rollback))

    async def amigrate(self, target: Optional[str] = None) -> List[Step]:
        return await self._alocked(target, rollback=False)

    async def arollback(self, target: Optional[str] = None) -> List[Step]:
        return await self._alocked(target, rollback=True)

    async def _alocked(self, target: Optional[str], *, rollback: bool) -> List[Step]:
        self.migrations  # noqa: B018
        await self.db.arun(self.recorder.ensure())
        deadline = time.monotonic() + self.lock_timeout
        while True:
            lease = await self.db.arun(self.recorder.try_acquire(self.owner))
            if lease is not None:
                break
            if time.monotonic() >= deadline:
                raise self._lock_error(await self.db.arun(self.recorder.holder()))
            await asyncio.sleep(self.poll_interval)
        try:
            steps = await self.db.arun(self.plan_op(target, rollback=rollback))
            return await self.db.arun(self.run_op(steps, lease))
        finally:
            await self.db.arun(self.recorder.release(lease))

    def _lock_error(self, holder: Optional[Dict[str, Any]]) -> MigrationLockError:
        if holder is None:
            return MigrationLockError(f"could not take the migration lock within {self.lock_timeout:g}s")
        left = (int(holder.get("expires_at", 0)) - self.recorder.clock()) / 1000
        return MigrationLockError(
            f"another instance is migrating: {holder.get('owner')} holds the lock "
            f"(lease ends in {max(left, 0):.0f}s unless renewed); waited {self.lock_timeout:g}s")
