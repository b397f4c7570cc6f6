"""``client.triggers``: run a Lua script when documents of a collection change.

A trigger that fires turns into a job in the database's ``_jobs`` collection;
the server's worker then runs the trigger's script with ``request.body`` set to
``{"trigger_name", "event", "collection", "key", "data", "old_data"}``.

On the pinned server the driver's ``create_trigger``, ``update_trigger`` and
``toggle_trigger`` write ``created_at``/``updated_at`` as RFC 3339 strings
where the server's own trigger type expects Unix seconds: such a trigger never
parses, so it never fires (and it breaks the HTTP trigger listing of its
database). Writes therefore go through the HTTP trigger API on the same port;
reads and deletes use the driver, which handles them correctly.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ... import exceptions as exc
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from ..http import path as http_path
from . import _checks as check
from ._base import SubOps, unsupported
from .scripts import normalize_job_script_path

JSON = Dict[str, Any]

TRIGGER_EVENTS = ("insert", "update", "delete")

#: Fields ``update`` may change, as the server names them (``operation`` is
#: accepted too, as the reference's name for a single event).
UPDATABLE_FIELDS = frozenset(
    {"name", "collection", "events", "operation", "script_path", "queue", "priority",
     "max_retries", "enabled", "filter"}
)

_I32 = (-(2**31), 2**31 - 1)


def _events(operation: Union[str, Sequence[str]]) -> List[str]:
    items = [operation] if isinstance(operation, str) else list(operation)
    if not items:
        raise exc.ValidationError("a trigger needs at least one operation")
    events: List[str] = []
    for item in items:
        if not isinstance(item, str) or item.lower() not in TRIGGER_EVENTS:
            raise exc.ValidationError(
                f"operation must be one of {list(TRIGGER_EVENTS)}, got {item!r}"
            )
        if item.lower() not in events:
            events.append(item.lower())
    return events


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise exc.ValidationError(f"{what} must be a non-empty string")
    return value


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise exc.ValidationError(f"{what} must be an integer from {low} to {high}")
    return value


def _checked(fields: Mapping[str, Any]) -> JSON:
    """The trigger fields in the server's names, each validated."""
    body: JSON = {}
    for field, value in fields.items():
        if value is None:
            continue
        if field in ("name", "collection", "queue"):
            body[field] = _text(value, field)
        elif field in ("operation", "events"):
            body["events"] = _events(value)
        elif field == "script_path":
            body[field] = normalize_job_script_path(value)
        elif field == "priority":
            body[field] = _int(value, field, *_I32)
        elif field == "max_retries":
            body[field] = _int(value, field, 0, 2**31 - 1)
        elif field == "enabled":
            if not isinstance(value, bool):
                raise exc.ValidationError("enabled must be True or False")
            body[field] = value
        elif field == "filter":
            if not isinstance(value, str):
                raise exc.ValidationError("filter must be an SDBQL expression string")
            body[field] = value
    return body


class TriggersOps(SubOps):
    """Triggers of the current database."""

    __facades__ = ("TriggersClient", "AsyncTriggersClient")

    def list(self) -> Op[List[JSON]]:
        """Every trigger of the current database."""
        data = (yield from self._data("list_triggers", retry=True, database=self._db)) or {}
        return list(data.get("triggers") or [])

    def list_by_collection(self, collection: str) -> Op[List[JSON]]:
        """The triggers that watch one collection."""
        data = (yield from self._data("list_collection_triggers", retry=True, database=self._db,
                                      collection=_text(collection, "collection"))) or {}
        return list(data.get("triggers") or [])

    def create(
        self,
        name: str,
        collection: str,
        operation: Union[str, Sequence[str]],
        script_path: str,
        description: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        queue: Optional[str] = None,
        priority: Optional[int] = None,
        max_retries: Optional[int] = None,
        enabled: bool = True,
    ) -> Op[JSON]:
        """Create a trigger and return it (with ``_key``).

        ``operation`` is ``"insert"``, ``"update"``, ``"delete"`` or a list of
        them; ``filter`` an SDBQL expression over ``doc``, ``old`` and
        ``event`` that must hold for the trigger to fire; ``max_retries`` how
        many runs of the script may fail before the job is ``failed`` (server
        default 5). The collection must exist.
        """
        db = self._db
        if description is not None:
            raise unsupported(
                "triggers.create(description=...)",
                "a trigger has no description field and the server would drop it; "
                "leave description out",
            )
        body = _checked({
            "name": name, "collection": collection, "operation": operation,
            "script_path": script_path, "filter": filter, "queue": queue,
            "priority": priority, "max_retries": max_retries, "enabled": enabled,
        })
        for required in ("name", "collection", "events", "script_path"):
            if required not in body:
                raise exc.ValidationError(f"{required} is required")
        return dict((yield from self._http("POST", http_path("_api", "database", db, "triggers"),
                                           body)))

    def get(self, trigger_id: str) -> Op[JSON]:
        """One trigger; NotFoundError when there is none."""
        return dict((yield from self._data("get_trigger", retry=True, database=self._db,
                                           trigger_id=_text(trigger_id, "trigger_id"))))

    def update(self, trigger_id: str, updates: Mapping[str, Any]) -> Op[JSON]:
        """Change some of a trigger's fields; returns the stored trigger.

        ``{"enabled": False}`` stops it firing until enabled again.
        """
        db = self._db
        check.updates(updates, UPDATABLE_FIELDS, "a trigger")
        if "operation" in updates and "events" in updates:
            raise exc.ValidationError("give operation or events, not both")
        body = _checked(updates)
        return dict((yield from self._http(
            "PUT",
            http_path("_api", "database", db, "triggers", _text(trigger_id, "trigger_id")),
            body,
        )))

    def toggle(self, trigger_id: str) -> Op[JSON]:
        """Enable a disabled trigger or disable an enabled one; returns it."""
        db = self._db
        return dict((yield from self._http(
            "POST",
            http_path("_api", "database", db, "triggers", _text(trigger_id, "trigger_id"),
                      "toggle"),
        )))

    def delete(self, trigger_id: str) -> Op[None]:
        """Delete a trigger; jobs it already queued still run."""
        yield from self._call("delete_trigger", database=self._db,
                   trigger_id=_text(trigger_id, "trigger_id"))


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class TriggersClient(SyncFacade[TriggersOps]):
    """Triggers of the current database."""

    def list(self) -> List[JSON]:
        """Every trigger of the current database."""
        return self._executor.run(self._ops.list())

    def list_by_collection(self, collection: str) -> List[JSON]:
        """The triggers that watch one collection."""
        return self._executor.run(self._ops.list_by_collection(collection))

    def create(
        self,
        name: str,
        collection: str,
        operation: Union[str, Sequence[str]],
        script_path: str,
        description: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        queue: Optional[str] = None,
        priority: Optional[int] = None,
        max_retries: Optional[int] = None,
        enabled: bool = True,
    ) -> JSON:
        """Create a trigger and return it (with ``_key``).

        ``operation`` is ``"insert"``, ``"update"``, ``"delete"`` or a list of
        them; ``filter`` an SDBQL expression over ``doc``, ``old`` and
        ``event`` that must hold for the trigger to fire; ``max_retries`` how
        many runs of the script may fail before the job is ``failed`` (server
        default 5). The collection must exist.
        """
        return self._executor.run(self._ops.create(
            name,
            collection,
            operation,
            script_path,
            description,
            filter=filter,
            queue=queue,
            priority=priority,
            max_retries=max_retries,
            enabled=enabled,
        ))

    def get(self, trigger_id: str) -> JSON:
        """One trigger; NotFoundError when there is none."""
        return self._executor.run(self._ops.get(trigger_id))

    def update(self, trigger_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change some of a trigger's fields; returns the stored trigger.

        ``{"enabled": False}`` stops it firing until enabled again.
        """
        return self._executor.run(self._ops.update(trigger_id, updates))

    def toggle(self, trigger_id: str) -> JSON:
        """Enable a disabled trigger or disable an enabled one; returns it."""
        return self._executor.run(self._ops.toggle(trigger_id))

    def delete(self, trigger_id: str) -> None:
        """Delete a trigger; jobs it already queued still run."""
        return self._executor.run(self._ops.delete(trigger_id))


class AsyncTriggersClient(AsyncFacade[TriggersOps]):
    """Triggers of the current database."""

    async def list(self) -> List[JSON]:
        """Every trigger of the current database."""
        return await self._executor.run(self._ops.list())

    async def list_by_collection(self, collection: str) -> List[JSON]:
        """The triggers that watch one collection."""
        return await self._executor.run(self._ops.list_by_collection(collection))

    async def create(
        self,
        name: str,
        collection: str,
        operation: Union[str, Sequence[str]],
        script_path: str,
        description: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        queue: Optional[str] = None,
        priority: Optional[int] = None,
        max_retries: Optional[int] = None,
        enabled: bool = True,
    ) -> JSON:
        """Create a trigger and return it (with ``_key``).

        ``operation`` is ``"insert"``, ``"update"``, ``"delete"`` or a list of
        them; ``filter`` an SDBQL expression over ``doc``, ``old`` and
        ``event`` that must hold for the trigger to fire; ``max_retries`` how
        many runs of the script may fail before the job is ``failed`` (server
        default 5). The collection must exist.
        """
        return await self._executor.run(self._ops.create(
            name,
            collection,
            operation,
            script_path,
            description,
            filter=filter,
            queue=queue,
            priority=priority,
            max_retries=max_retries,
            enabled=enabled,
        ))

    async def get(self, trigger_id: str) -> JSON:
        """One trigger; NotFoundError when there is none."""
        return await self._executor.run(self._ops.get(trigger_id))

    async def update(self, trigger_id: str, updates: Mapping[str, Any]) -> JSON:
        """Change some of a trigger's fields; returns the stored trigger.

        ``{"enabled": False}`` stops it firing until enabled again.
        """
        return await self._executor.run(self._ops.update(trigger_id, updates))

    async def toggle(self, trigger_id: str) -> JSON:
        """Enable a disabled trigger or disable an enabled one; returns it."""
        return await self._executor.run(self._ops.toggle(trigger_id))

    async def delete(self, trigger_id: str) -> None:
        """Delete a trigger; jobs it already queued still run."""
        return await self._executor.run(self._ops.delete(trigger_id))
