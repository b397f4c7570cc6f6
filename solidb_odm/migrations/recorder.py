"""What is applied, and who may migrate: the ``_odm_migrations`` collection.

It holds one document per applied migration (key = its name), a ``lock``
document and, while a migration runs, a ``progress`` document (the step
and the last key done, so an interrupted run resumes there).

The lock is a lease: inserting the document with the fixed key ``lock``
is atomic on the server, so of two instances exactly one succeeds. The
holder renews ``expires_at`` as it works; a lock whose lease ran out
(its holder died) is taken over in a short transaction whose commit fails
if anyone else changed the document meanwhile.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Dict, List, Optional

from .. import exceptions as exc
from ..client.commands import ClientOps
from ..ops import Command, Op, call

COLLECTION = "_odm_migrations"
LOCK_KEY = "lock"
PROGRESS_KEY = "progress"

JSON = Dict[str, Any]


class MigrationLockError(exc.SoliDBError):
    """Another instance holds the migration lock (or this one lost it)."""


@dataclass(frozen=True)
class Lease:
    """The lock as one instance holds it."""

    token: str
    owner: str


def default_owner() -> str:
    """Who holds the lock, for humans reading ``status``: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def now_ms() -> int:
    return int(time.time() * 1000)


class Recorder:
    """Operations on ``_odm_migrations`` in one database."""

    def __init__(self, ops: ClientOps, database: str, *, lease_seconds: float = 60.0,
                 clock: Any = now_ms) -> None:
        self.ops = ops
        self.database = database
        self.lease_ms = int(lease_seconds * 1000)
        self.clock = clock

    def ensure(self) -> Op[None]:
        """Create the collection if it is missing."""
        listed = yield from self.ops.command("list_collections", database=self.database)
        if COLLECTION not in set(listed.data or []):
            try:
                yield from self.ops.create_collection(self.database, COLLECTION)
            except exc.AlreadyExistsError:
                pass

    def _all(self) -> Op[List[JSON]]:
        docs: List[JSON] = []
        offset = 0
        while True:
            page, total = yield from self.ops.list_page(self.database, COLLECTION, 1000, offset)
            docs.extend(page)
            offset += len(page)
            if not page or offset >= total:
                return docs

    def applied(self) -> Op[Dict[str, JSON]]:
        """Applied migrations by name (their records: ``applied_at``...)."""
        return {d["_key"]: d for d in (yield from self._all()) if d.get("kind") == "applied"}

    def record(self, name: str) -> Op[None]:
        yield from self.ops.insert(self.database, COLLECTION, {
            "kind": "applied", "applied_at": datetime.now(UTC).isoformat()}, key=name)

    def unrecord(self, name: str) -> Op[None]:
        try:
            yield from self.ops.delete(self.database, COLLECTION, name)
        except exc.NotFoundError:
            pass

    # -- progress --------------------------------------------------------------------

    def _get(self, key: str) -> Op[Optional[JSON]]:
        try:
            return (yield from self.ops.get(self.database, COLLECTION, key))
        except exc.NotFoundError:
            return None

    def progress(self) -> Op[Optional[JSON]]:
        """The interrupted (or running) migration's progress, if any."""
        return (yield from self._get(PROGRESS_KEY))

    def save_progress(self, progress: JSON) -> Op[None]:
        body = dict(progress, kind="progress")
        try:
            yield from self.ops.update(self.database, COLLECTION, PROGRESS_KEY, body)
        except exc.NotFoundError:
            yield from self.ops.insert(self.database, COLLECTION, body, key=PROGRESS_KEY)

    def clear_progress(self) -> Op[None]:
        try:
            yield from self.ops.delete(self.database, COLLECTION, PROGRESS_KEY)
        except exc.NotFoundError:
            pass

    # -- the lock --------------------------------------------------------------------

    def holder(self) -> Op[Optional[JSON]]:
        """The lock document, if someone holds (or held) the lock."""
        return (yield from self._get(LOCK_KEY))

    def try_acquire(self, owner: str) -> Op[Optional[Lease]]:
        """Take the lock if it is free or its lease ran out; None when someone else holds it."""
        lease = Lease(uuid.uuid4().hex, owner)
        for _ in range(3):
            try:
                yield from self.ops.insert(self.database, COLLECTION, self._lock_body(lease),
                                           key=LOCK_KEY)
                return lease
            except exc.AlreadyExistsError:
                pass
            held = yield from self.holder()
            if held is None:
                continue  # released meanwhile: try again
            if int(held.get("expires_at", 0)) > self.clock():
                return None
            yield from self._break(held)
        return None

    def _lock_body(self, lease: Lease) -> JSON:
        now = self.clock()
        return {"kind": "lock", "token": lease.token, "owner": lease.owner,
                "acquired_at": now, "expires_at": now + self.lease_ms}

    def _break(self, stale: JSON) -> Op[None]:
        """Delete a lock whose lease ran out, unless it changed since it was read."""
        begun = yield from call(Command.of("begin_transaction", tx=None, database=self.database))
        tx_id = begun.tx_id
        try:
            yield from call(Command.of("delete", tx=tx_id, database=self.database,
                                       collection=COLLECTION, key=LOCK_KEY))
            # The delete is staged: a change from now on fails the commit. Check nothing
            # changed between the read and the staging.
            current = yield from call(Command.of("get", tx=None, database=self.database,
                                                 collection=COLLECTION, key=LOCK_KEY))
            now = current.data or {}
            if (now.get("token"), now.get("expires_at")) != (stale.get("token"), stale.get("expires_at")):
                yield from call(Command.of("rollback_transaction", tx=tx_id, tx_id=tx_id))
                return
        except exc.SoliDBError:
            try:
                yield from call(Command.of("rollback_transaction", tx=tx_id, tx_id=tx_id))
            except exc.SoliDBError:
                pass
            return
        try:
            yield from call(Command.of("commit_transaction", tx=tx_id, tx_id=tx_id))
        except (exc.ConflictError, exc.TransactionError, exc.NotFoundError):
            pass  # someone else broke or renewed it first

    def renew(self, lease: Lease) -> Op[None]:
        """Extend the lease; MigrationLockError if the lock is no longer ours."""
        held = yield from self.holder()
        if held is None or held.get("token") != lease.token:
            raise MigrationLockError(
                "lost the migration lock (its lease ran out and another instance took it); "
                "stopping before doing more")
        yield from self.ops.update(self.database, COLLECTION, LOCK_KEY,
                                   {"expires_at": self.clock() + self.lease_ms})

    def release(self, lease: Lease) -> Op[None]:
        held = yield from self.holder()
        if held is not None and held.get("token") == lease.token:
            try:
                yield from self.ops.delete(self.database, COLLECTION, LOCK_KEY)
            except exc.NotFoundError:
                pass
