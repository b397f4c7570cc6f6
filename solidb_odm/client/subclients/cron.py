"""``client.cron``: scheduled jobs, kept in the database and run by our scheduler.

solidb 2.6.0 has no cron scheduler (its source says application cron now
lives in an application framework). So the reference's ``client.cron`` keeps
each definition as a document of ``_odm_cron`` in the current database, and
``solidb_odm.scheduling`` (embedded in an app, or ``solidb-odm cron run``)
enqueues the job through ``client.jobs`` at each due time. Without a running
scheduler, definitions are stored but nothing runs.

Cron expressions are parsed by cronsim (the ``cron`` extra): five fields
(minute, hour, day of month, month, day of week), or six with seconds first,
or a macro such as ``@daily``. Each definition has a time zone (default UTC).
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ... import exceptions as exc
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from . import _checks as check
from ._base import SubOps
from .scripts import normalize_job_script_path

JSON = Dict[str, Any]

#: The definitions, one document per cron job (``_key`` is the cron id).
CRON_COLLECTION = "_odm_cron"

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: Fields ``update`` may change.
UPDATABLE_FIELDS = frozenset({
    "name", "schedule", "script_path", "params", "description", "queue", "priority",
    "max_attempts", "timezone", "enabled",
})
#: Changing one of these restarts the schedule from the time of the change.
_RESCHEDULING = frozenset({"schedule", "timezone", "enabled"})

_I32 = (-(2**31), 2**31 - 1)


def _cronsim() -> Any:
    try:
        import cronsim  # an optional dependency: the "cron" extra
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise exc.UnsupportedError(
            "cron expressions need cronsim: pip install 'solidb-odm[cron]'"
        ) from err
    return cronsim


def parse_schedule(schedule: Any) -> str:
    """The cron expression ``schedule`` stands for (macros expanded); ValidationError if malformed."""
    if not isinstance(schedule, str) or not schedule.strip():
        raise exc.ValidationError("schedule must be a non-empty cron expression")
    text = " ".join(schedule.split())
    if text.startswith("@"):
        expanded = MACROS.get(text.lower())
        if expanded is None:
            raise exc.ValidationError(f"unknown cron macro {text!r}; use one of {sorted(MACROS)}")
        text = expanded
    fields = len(text.split())
    if fields not in (5, 6):
        raise exc.ValidationError(
            f"cron expression {schedule!r} has {fields} fields; expected 5 (minute hour "
            "day-of-month month day-of-week), or 6 with seconds first"
        )
    cronsim = _cronsim()
    try:
        cronsim.CronSim(text, _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC))
    except cronsim.CronSimError as err:
        raise exc.ValidationError(f"invalid cron expression {schedule!r}: {err}") from err
    return text


def zone(name: Any) -> ZoneInfo:
    """The time zone called ``name`` (an IANA name such as ``"Europe/Paris"``)."""
    if not isinstance(name, str) or not name:
        raise exc.ValidationError("timezone must be an IANA time zone name such as 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise exc.ValidationError(f"unknown time zone {name!r}") from err


def occurrences(schedule: str, after: float, timezone: str = "UTC") -> Iterator[float]:
    """The due times of ``schedule`` strictly after ``after`` (Unix seconds), in order."""
    tz = zone(timezone)
    start = _dt.datetime.fromtimestamp(after, tz)
    for moment in _cronsim().CronSim(parse_schedule(schedule), start):
        yield moment.timestamp()




def _checked(fields: Mapping[str, Any]) -> JSON:
    """The definition fields given, each validated and normalised."""
    out: JSON = {}
    for field, value in fields.items():
        if field in ("name", "queue"):
            out[field] = check.text(value, field)
        elif field == "schedule":
            parse_schedule(value)
            out[field] = " ".join(value.split())
        elif field == "script_path":
            out[field] = normalize_job_script_path(value)
        elif field == "params":
            if value is not None and not isinstance(value, Mapping):
                raise exc.ValidationError("params must be a mapping")
            out[field] = dict(value or {})
        elif field == "description":
            if value is not None and not isinstance(value, str):
                raise exc.ValidationError("description must be a string")
            out[field] = value
        elif field == "priority":
            out[field] = check.integer(value, field, minimum=_I32[0], maximum=_I32[1])
        elif field == "max_attempts":
            out[field] = check.integer(value, field, minimum=1, maximum=2**31 - 1)
        elif field == "timezone":
            zone(value)
            out[field] = value
        elif field == "enabled":
            if not isinstance(value, bool):
                raise exc.ValidationError("enabled must be True or False")
            out[field] = value
    return out


def _is_missing_collection(err: exc.NotFoundError) -> bool:
    return CRON_COLLECTION in str(err) and "ollection" in str(err)


class CronOps(SubOps):
    """Scheduled jobs of the current database, run by ``solidb_odm.scheduling``."""

    __facades__ = ("CronClient", "AsyncCronClient")

    def list(self) -> Op[List[JSON]]:
        """Every cron job of the current database, by name."""
        try:
            return list((yield from self._sdbql(
                self._db, f"FOR c IN {CRON_COLLECTION} SORT c.name, c._key RETURN c")))
        except exc.NotFoundError as err:
            if _is_missing_collection(err):
                return []
            raise

    def create(
        self,
        name: str,
        schedule: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        description: Optional[str] = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 1,
        timezone: str = "UTC",
        enabled: bool = True,
    ) -> Op[JSON]:
        """Store a cron job and return it (``_key`` is its id).

        At each time ``schedule`` names (in ``timezone``), a running scheduler
        enqueues one job that runs the script at ``script_path`` with
        ``params`` as ``request.body``; ``queue``, ``priority`` and
        ``max_attempts`` are the job's (see ``client.jobs.enqueue``).
        """
        now = time.time()
        document = _checked({
            "name": name, "schedule": schedule, "script_path": script_path, "params": params,
            "description": description, "queue": queue, "priority": priority,
            "max_attempts": max_attempts, "timezone": timezone, "enabled": enabled,
        })
        document.update(created_at=int(now), updated_at=int(now), schedule_since=now)
        db = self._db
        try:
            return dict((yield from self._data("insert", database=db, collection=CRON_COLLECTION,
                                               document=document)))
        except exc.NotFoundError as err:
            if not _is_missing_collection(err):
                raise
        try:
            yield from self._call("create_collection", database=db, name=CRON_COLLECTION)
        except exc.AlreadyExistsError:
            pass  # made meanwhile by another client
        return dict((yield from self._data("insert", database=db, collection=CRON_COLLECTION,
                                           document=document)))

    def get(self, cron_id: str) -> Op[JSON]:
        """One cron job; NotFoundError when there is none."""
        try:
            return dict((yield from self._data("get", retry=True, database=self._db,
                                               collection=CRON_COLLECTION,
                                               key=check.text(cron_id, "cron_id"))))
        except exc.NotFoundError as err:
            raise exc.NotFoundError(f"no cron job {cron_id!r}") from err

    def update(self, cron_id: str, updates: Mapping[str, Any]) -> Op[JSON]:
        """Change some fields (``{"schedule": "0 3 * * *"}``); returns the stored cron job.

        A new schedule, time zone or enabling counts from now: times that fell
        due before the change are not run for it.
        """
        if not isinstance(updates, Mapping) or not updates:
            raise exc.ValidationError("updates must be a non-empty mapping")
        unknown = sorted(set(updates) - UPDATABLE_FIELDS)
        if unknown:
            raise exc.ValidationError(
                f"cannot update {unknown} of a cron job; updatable: {sorted(UPDATABLE_FIELDS)}"
            )
        changes = _checked(updates)
        current = yield from self.get(cron_id)
        now = time.time()
        changes["updated_at"] = int(now)
        if any(field in changes and changes[field] != current.get(field)
               for field in _RESCHEDULING):
            changes["schedule_since"] = now
        return dict((yield from self._data("update", database=self._db,
                                           collection=CRON_COLLECTION, key=cron_id,
                                           document=changes, merge=True)))

    def delete(self, cron_id: str) -> Op[None]:
        """Delete a cron job; jobs it already enqueued still run."""
        try:
            yield from self._call("delete", database=self._db, collection=CRON_COLLECTION,
                                  key=check.text(cron_id, "cron_id"))
        except exc.NotFoundError as err:
            raise exc.NotFoundError(f"no cron job {cron_id!r}") from err


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class CronClient(SyncFacade[CronOps]):
    """Scheduled jobs of the current database, run by ``solidb_odm.scheduling``."""

    def list(self) -> List[JSON]:
        """Every cron job of the current database, by name."""
        return self._executor.run(self._ops.list())

    def create(
        self,
        name: str,
        schedule: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        description: Optional[str] = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 1,
        timezone: str = "UTC",
        enabled: bool = True,
    ) -> JSON:
        """Store a cron job and return it (``_key`` is its id).

        At each time ``schedule`` names (in ``timezone``), a running scheduler
        enqueues one job that runs the script at ``script_path`` with
        ``params`` as ``request.body``; ``queue``, ``priority`` and
        ``max_attempts`` are the job's (see ``client.jobs.enqueue``).
        """
        return self._executor.run(self._ops.create(
            name,
            schedule,
            script_path,
            params,
            description,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timezone=timezone,
            enabled=enabled,
        ))

    def get(self, cron_id: str) -> JSON:
        """One cron job; NotFoundError when there is none."""
        return self._executor.run(self._ops.get(cron_id))

    def update(self, cron_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change some fields (``{"schedule": "0 3 * * *"}``); returns the stored cron job.

        A new schedule, time zone or enabling counts from now: times that fell
        due before the change are not run for it.
        """
        return self._executor.run(self._ops.update(cron_id, updates))

    def delete(self, cron_id: str) -> None:
        """Delete a cron job; jobs it already enqueued still run."""
        return self._executor.run(self._ops.delete(cron_id))


class AsyncCronClient(AsyncFacade[CronOps]):
    """Scheduled jobs of the current database, run by ``solidb_odm.scheduling``."""

    async def list(self) -> List[JSON]:
        """Every cron job of the current database, by name."""
        return await self._executor.run(self._ops.list())

    async def create(
        self,
        name: str,
        schedule: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        description: Optional[str] = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_attempts: int = 1,
        timezone: str = "UTC",
        enabled: bool = True,
    ) -> JSON:
        """Store a cron job and return it (``_key`` is its id).

        At each time ``schedule`` names (in ``timezone``), a running scheduler
        enqueues one job that runs the script at ``script_path`` with
        ``params`` as ``request.body``; ``queue``, ``priority`` and
        ``max_attempts`` are the job's (see ``client.jobs.enqueue``).
        """
        return await self._executor.run(self._ops.create(
            name,
            schedule,
            script_path,
            params,
            description,
            queue=queue,
            priority=priority,
            max_attempts=max_attempts,
            timezone=timezone,
            enabled=enabled,
        ))

    async def get(self, cron_id: str) -> JSON:
        """One cron job; NotFoundError when there is none."""
        return await self._executor.run(self._ops.get(cron_id))

    async def update(self, cron_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change some fields (``{"schedule": "0 3 * * *"}``); returns the stored cron job.

        A new schedule, time zone or enabling counts from now: times that fell
        due before the change are not run for it.
        """
        return await self._executor.run(self._ops.update(cron_id, updates))

    async def delete(self, cron_id: str) -> None:
        """Delete a cron job; jobs it already enqueued still run."""
        return await self._executor.run(self._ops.delete(cron_id))
