"""``client.jobs``: background Lua jobs.

The pinned server has no job, queue or cron command on the driver and no
route for them over HTTP. What it does have is the dispatcher behind
triggers: a worker that every few seconds claims ``pending`` rows of the
database's ``_jobs`` collection, runs the Lua script whose ``path`` equals the
row's ``script_path`` (with ``params`` as ``request.body``), and records
``completed`` or ``failed`` with the error. :class:`JobsClient` enqueues by
writing such rows (an admin credential is needed: ``_jobs`` is writable only
by admins) and reads them back with the driver and SDBQL.

There is no cron scheduler anywhere in the server: ``client.cron`` (``cron.py``)
keeps definitions in the database and ``solidb_odm.scheduling`` enqueues their
jobs here.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Dict, List, Mapping, Optional, Union

from ... import exceptions as exc
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from ._base import SubOps
from .scripts import normalize_job_script_path

JSON = Dict[str, Any]

JOBS_COLLECTION = "_jobs"
JOB_STATUSES = ("pending", "running", "completed", "failed")

#: The server stores ``priority`` as a 32-bit signed integer.
_I32 = (-(2**31), 2**31 - 1)


def _epoch_seconds(run_at: Union[str, _dt.datetime, None]) -> int:
    """``run_at`` as the whole Unix seconds the worker compares with its clock.

    Naive datetimes and ISO strings without an offset are taken as UTC.
    """
    if run_at is None:
        return int(time.time())
    if isinstance(run_at, str):
        text = run_at.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            run_at = _dt.datetime.fromisoformat(text)
        except ValueError as err:
            raise exc.ValidationError(f"run_at {run_at!r} is not an ISO 8601 datetime") from err
    if not isinstance(run_at, _dt.datetime):
        raise exc.ValidationError("run_at must be an ISO 8601 string or a datetime")
    if run_at.tzinfo is None:
        run_at = run_at.replace(tzinfo=_dt.UTC)
    return max(0, int(run_at.timestamp()))


def _key(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise exc.ValidationError(f"{what} must be a non-empty string")
    return value


def _int_in(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise exc.ValidationError(f"{what} must be an integer from {low} to {high}")
    return value


def _is_missing_jobs_collection(err: exc.NotFoundError) -> bool:
    return JOBS_COLLECTION in str(err) and "ollection" in str(err)


class JobsOps(SubOps):
    """Enqueue Lua scripts to run in the background, and follow them."""

    __facades__ = ("JobsClient", "AsyncJobsClient")

    def list_queues(self) -> Op[List[JSON]]:
        """Each queue with its job counts: ``{"name", "pending", "running", "completed", "failed"}``."""
        rows = yield from self._query(
            "FOR j IN _jobs FILTER j.status IN @statuses "
            "COLLECT queue = j.queue, status = j.status WITH COUNT INTO n "
            "RETURN {queue: queue, status: status, n: n}",
            {"statuses": list(JOB_STATUSES)},
        )
        queues: Dict[str, JSON] = {}
        for row in rows:
            name = str(row.get("queue"))
            entry = queues.setdefault(name, {"name": name, **{s: 0 for s in JOB_STATUSES}})
            entry[str(row.get("status"))] = int(row.get("n") or 0)
        return [queues[name] for name in sorted(queues)]

    def list_jobs(
        self,
        queue: str,
        status: Optional[str] = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Op[List[JSON]]:
        """Jobs of one queue, newest first, optionally only those in one status."""
        _key(queue, "queue")
        if status is not None and status not in JOB_STATUSES:
            raise exc.ValidationError(f"status must be one of {list(JOB_STATUSES)}, got {status!r}")
        _int_in(limit, "limit", 0, 2**31 - 1)
        _int_in(offset, "offset", 0, 2**31 - 1)
        status_filter = " AND j.status == @status" if status else ""
        bind: JSON = {"queue": queue, "offset": offset, "limit": limit}
        if status:
            bind["status"] = status
        return (yield from self._query(
            f"FOR j IN _jobs FILTER j.queue == @queue{status_filter} "
            "SORT j.created_at DESC, j._key DESC LIMIT @offset, @limit RETURN j",
            bind,
        ))

    def enqueue(
        self,
        queue: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        priority: Optional[int] = None,
        run_at: Union[str, _dt.datetime, None] = None,
        *,
        max_attempts: int = 1,
        key: Optional[str] = None,
        cron_job_id: Optional[str] = None,
    ) -> Op[JSON]:
        """Queue a run of the script stored at ``script_path``; returns the job (``_key``).

        The worker picks due jobs by ``priority`` (higher first) within about
        five seconds, or at ``run_at``. A failed run is tried again, after a
        growing delay, until ``max_attempts`` runs have failed; then the job
        is ``failed`` with the script's error in ``last_error``. A ``key``
        makes the enqueue happen at most once: a second job with the same key
        is refused with ``AlreadyExistsError``. ``cron_job_id`` names the cron
        job that queued it (the scheduler sets both).
        """
        if params is not None and not isinstance(params, Mapping):
            raise exc.ValidationError("params must be a mapping")
        now = int(time.time())
        document: JSON = {
            "queue": _key(queue, "queue"),
            "priority": _int_in(0 if priority is None else priority, "priority", *_I32),
            "script_path": normalize_job_script_path(script_path),
            "params": dict(params) if params is not None else {},
            "status": "pending",
            "retry_count": 0,
            # The server's field is named max_retries but counts attempts.
            "max_retries": _int_in(max_attempts, "max_attempts", 1, 2**31 - 1),
            "last_error": None,
            "run_at": _epoch_seconds(run_at),
            "created_at": now,
        }
        if key is not None:
            document["_key"] = _key(key, "key")
        if cron_job_id is not None:
            document["cron_job_id"] = _key(cron_job_id, "cron_job_id")
        db = self._db
        try:
            return dict((yield from self._data("insert", database=db, collection=JOBS_COLLECTION,
                                               document=document)))
        except exc.NotFoundError as err:
            if not _is_missing_jobs_collection(err):
                raise
        try:
            yield from self._call("create_collection", database=db, name=JOBS_COLLECTION)
        except exc.AlreadyExistsError:
            pass  # created meanwhile by the server or another client
        return dict((yield from self._data("insert", database=db, collection=JOBS_COLLECTION,
                                           document=document)))

    def get_job(self, job_id: str) -> Op[JSON]:
        """One job with its ``status`` and, once failed, ``last_error``."""
        return dict((yield from self._data("get", retry=True, database=self._db,
                                           collection=JOBS_COLLECTION,
                                           key=_key(job_id, "job_id"))))

    def cancel(self, job_id: str) -> Op[None]:
        """Remove a job that has not started; a running or finished job is refused.

        The status check and the removal are one SDBQL statement, so a job the
        worker claims meanwhile is not removed under it.
        """
        _key(job_id, "job_id")
        removed = yield from self._query(
            "FOR j IN _jobs FILTER j._key == @key AND j.status == 'pending' "
            "REMOVE j IN _jobs RETURN OLD._key",
            {"key": job_id},
        )
        if removed:
            return
        job = yield from self.get_job(job_id)  # NotFoundError when there is no such job
        raise exc.ValidationError(
            f"job {job_id!r} is {job.get('status')!r}; only pending jobs can be cancelled"
        )

    def _query(self, sdbql: str, bind_vars: Mapping[str, Any]) -> Op[List[JSON]]:
        """Run SDBQL over ``_jobs``; no jobs collection yet means no jobs."""
        try:
            reply = yield from self._call("query", database=self._db, sdbql=sdbql,
                                          bind_vars=dict(bind_vars))
        except exc.NotFoundError as err:
            if _is_missing_jobs_collection(err):
                return []
            raise
        return list(reply.data or [])


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class JobsClient(SyncFacade[JobsOps]):
    """Enqueue Lua scripts to run in the background, and follow them."""

    def list_queues(self) -> List[JSON]:
        """Each queue with its job counts: ``{"name", "pending", "running", "completed", "failed"}``."""
        return self._executor.run(self._ops.list_queues())

    def list_jobs(
        self,
        queue: str,
        status: Optional[str] = None,
        limit: int = 50,
        offset: int = 0,
    ) -> List[JSON]:
        """Jobs of one queue, newest first, optionally only those in one status."""
        return self._executor.run(self._ops.list_jobs(queue, status, limit, offset))

    def enqueue(
        self,
        queue: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        priority: Optional[int] = None,
        run_at: Union[str, _dt.datetime, None] = None,
        *,
        max_attempts: int = 1,
        key: Optional[str] = None,
        cron_job_id: Optional[str] = None,
    ) -> JSON:
        """Queue a run of the script stored at ``script_path``; returns the job (``_key``).

        The worker picks due jobs by ``priority`` (higher first) within about
        five seconds, or at ``run_at``. A failed run is tried again, after a
        growing delay, until ``max_attempts`` runs have failed; then the job
        is ``failed`` with the script's error in ``last_error``. A ``key``
        makes the enqueue happen at most once: a second job with the same key
        is refused with ``AlreadyExistsError``. ``cron_job_id`` names the cron
        job that queued it (the scheduler sets both).
        """
        return self._executor.run(self._ops.enqueue(
            queue,
            script_path,
            params,
            priority,
            run_at,
            max_attempts=max_attempts,
            key=key,
            cron_job_id=cron_job_id,
        ))

    def get_job(self, job_id: str) -> JSON:
        """One job with its ``status`` and, once failed, ``last_error``."""
        return self._executor.run(self._ops.get_job(job_id))

    def cancel(self, job_id: str) -> None:
        """Remove a job that has not started; a running or finished job is refused.

        The status check and the removal are one SDBQL statement, so a job the
        worker claims meanwhile is not removed under it.
        """
        return self._executor.run(self._ops.cancel(job_id))


class AsyncJobsClient(AsyncFacade[JobsOps]):
    """Enqueue Lua scripts to run in the background, and follow them."""

    async def list_queues(self) -> List[JSON]:
        """Each queue with its job counts: ``{"name", "pending", "running", "completed", "failed"}``."""
        return await self._executor.run(self._ops.list_queues())

    async def list_jobs(
        self,
        queue: str,
        status: Optional[str] = None,
        limit: int = 50,
        offset: int = 0,
    ) -> List[JSON]:
        """Jobs of one queue, newest first, optionally only those in one status."""
        return await self._executor.run(self._ops.list_jobs(queue, status, limit, offset))

    async def enqueue(
        self,
        queue: str,
        script_path: str,
        params: Optional[Mapping[str, Any]] = None,
        priority: Optional[int] = None,
        run_at: Union[str, _dt.datetime, None] = None,
        *,
        max_attempts: int = 1,
        key: Optional[str] = None,
        cron_job_id: Optional[str] = None,
    ) -> JSON:
        """Queue a run of the script stored at ``script_path``; returns the job (``_key``).

        The worker picks due jobs by ``priority`` (higher first) within about
        five seconds, or at ``run_at``. A failed run is tried again, after a
        growing delay, until ``max_attempts`` runs have failed; then the job
        is ``failed`` with the script's error in ``last_error``. A ``key``
        makes the enqueue happen at most once: a second job with the same key
        is refused with ``AlreadyExistsError``. ``cron_job_id`` names the cron
        job that queued it (the scheduler sets both).
        """
        return await self._executor.run(self._ops.enqueue(
            queue,
            script_path,
            params,
            priority,
            run_at,
            max_attempts=max_attempts,
            key=key,
            cron_job_id=cron_job_id,
        ))

    async def get_job(self, job_id: str) -> JSON:
        """One job with its ``status`` and, once failed, ``last_error``."""
        return await self._executor.run(self._ops.get_job(job_id))

    async def cancel(self, job_id: str) -> None:
        """Remove a job that has not started; a running or finished job is refused.

        The status check and the removal are one SDBQL statement, so a job the
        worker claims meanwhile is not removed under it.
        """
        return await self._executor.run(self._ops.cancel(job_id))
