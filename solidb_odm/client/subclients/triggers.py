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

A trigger has no description on the server: the reference's ``description``
is kept in ``_odm_trigger_meta`` (one document per trigger, keyed by its id)
and merged back into what ``get`` and ``list`` return.

Triggers fire only for writes through the server's HTTP document API, so this
client sends its own writes to watched collections that way (see
``client/triggered.py``); every change made here drops the client's cached
list of watched collections for the database.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ... import exceptions as exc
from ... import protocol
from ...ops import Op
from .. import triggered
from ..facade import AsyncFacade, SyncFacade
from ..http import path as http_path
from ..triggered import TriggerRouting
from . import _checks as check
from ._base import SubOps
from .scripts import normalize_job_script_path

JSON = Dict[str, Any]

TRIGGER_EVENTS = ("insert", "update", "delete")

#: Where the descriptions live: ``{_key: trigger id, description}``.
META_COLLECTION = "_odm_trigger_meta"

#: Fields ``update`` may change, as the server names them (``operation`` is
#: accepted too, as the reference's name for a single event).
UPDATABLE_FIELDS = frozenset(
    {"name", "collection", "events", "operation", "script_path", "queue", "priority",
     "max_retries", "enabled", "filter", "description"}
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




def _checked(fields: Mapping[str, Any]) -> JSON:
    """The trigger fields in the server's names, each validated."""
    body: JSON = {}
    for field, value in fields.items():
        if value is None:
            continue
        if field in ("name", "collection", "queue"):
            body[field] = check.text(value, field)
        elif field in ("operation", "events"):
            body["events"] = _events(value)
        elif field == "script_path":
            body[field] = normalize_job_script_path(value)
        elif field == "priority":
            body[field] = check.integer(value, field, minimum=_I32[0], maximum=_I32[1])
        elif field == "max_retries":
            body[field] = check.integer(value, field, minimum=0, maximum=2**31 - 1)
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
        """Every trigger of the current database, each with its ``description`` (or None)."""
        data = (yield from self._data("list_triggers", retry=True, database=self._db)) or {}
        triggers = list(data.get("triggers") or [])
        triggered.routing_of(self._state).store(self._db, triggers)
        return (yield from self._described(triggers))

    def list_by_collection(self, collection: str) -> Op[List[JSON]]:
        """The triggers that watch one collection, each with its ``description`` (or None)."""
        data = (yield from self._data("list_collection_triggers", retry=True, database=self._db,
                                      collection=check.text(collection, "collection"))) or {}
        return (yield from self._described(list(data.get("triggers") or [])))

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
        default 5). The collection must exist. The server has no description
        field: ``description`` is kept by this library next to the trigger.
        """
        db = self._db
        if description is not None and not isinstance(description, str):
            raise exc.ValidationError("description must be a string")
        body = _checked({
            "name": name, "collection": collection, "operation": operation,
            "script_path": script_path, "filter": filter, "queue": queue,
            "priority": priority, "max_retries": max_retries, "enabled": enabled,
        })
        for required in ("name", "collection", "events", "script_path"):
            if required not in body:
                raise exc.ValidationError(f"{required} is required")
        trigger = dict((yield from self._http("POST", http_path("_api", "database", db, "triggers"),
                                              body)))
        triggered.routing_of(self._state).invalidate(db)
        if description is not None:
            try:
                yield from self._set_description(str(trigger["_key"]), description)
            except exc.SoliDBError:
                # Do not leave a trigger behind that lacks what the caller asked for.
                yield from self._call("delete_trigger", database=db, trigger_id=trigger["_key"])
                raise
        trigger["description"] = description
        return trigger

    def get(self, trigger_id: str) -> Op[JSON]:
        """One trigger with its ``description`` (or None); NotFoundError when there is none."""
        db = self._db
        replies = yield from self._batch([
            protocol.command("get_trigger", database=db,
                             trigger_id=check.text(trigger_id, "trigger_id")),
            protocol.command("get", database=db, collection=META_COLLECTION, key=trigger_id),
        ])
        trigger, meta = replies
        if isinstance(trigger, exc.SoliDBError):
            raise trigger
        found = dict(trigger.data)
        found["description"] = (
            meta.data.get("description")
            if isinstance(meta, protocol.Reply) and isinstance(meta.data, dict) else None
        )
        return found

    def update(self, trigger_id: str, updates: Mapping[str, Any]) -> Op[JSON]:
        """Change some of a trigger's fields; returns the stored trigger.

        ``{"enabled": False}`` stops it firing until enabled again.
        """
        db = self._db
        check.updates(updates, UPDATABLE_FIELDS, "a trigger")
        if "operation" in updates and "events" in updates:
            raise exc.ValidationError("give operation or events, not both")
        description = updates.get("description")
        if description is not None and not isinstance(description, str):
            raise exc.ValidationError("description must be a string")
        body = _checked(updates)
        check.text(trigger_id, "trigger_id")
        if body:
            yield from self._http(
                "PUT", http_path("_api", "database", db, "triggers", trigger_id), body)
            triggered.routing_of(self._state).invalidate(db)
        if "description" in updates:
            yield from self.get(trigger_id)  # NotFoundError before a description is kept
            if description is None:
                yield from self._drop_description(trigger_id)
            else:
                yield from self._set_description(trigger_id, description)
        return (yield from self.get(trigger_id))

    def toggle(self, trigger_id: str) -> Op[JSON]:
        """Enable a disabled trigger or disable an enabled one; returns it."""
        db = self._db
        trigger = dict((yield from self._http(
            "POST",
            http_path("_api", "database", db, "triggers", check.text(trigger_id, "trigger_id"),
                      "toggle"),
        )))
        triggered.routing_of(self._state).invalidate(db)
        return (yield from self._described([trigger]))[0]

    def delete(self, trigger_id: str) -> Op[None]:
        """Delete a trigger (and its description); jobs it already queued still run."""
        yield from self._call("delete_trigger", database=self._db,
                              trigger_id=check.text(trigger_id, "trigger_id"))
        triggered.routing_of(self._state).invalidate(self._db)
        yield from self._drop_description(trigger_id)

    # -- routing of this client's writes -----------------------------------------

    def routing(
        self,
        *,
        strict: Optional[bool] = None,
        route: Optional[bool] = None,
        refresh_seconds: Optional[float] = None,
    ) -> TriggerRouting:
        """This client's trigger routing; the arguments given change it.

        ``strict=True`` raises ``TriggersNotFiredError`` (nothing sent) for a
        write that cannot fire its collection's triggers (in a transaction or a
        session commit, or SDBQL), instead of ``TriggersNotFiredWarning``.
        ``route=False`` stops sending writes to watched collections over HTTP.
        ``refresh_seconds`` bounds how stale the list of watched collections
        may get when another client changes triggers (default 10).
        """
        current = triggered.routing_of(self._state)
        if strict is not None:
            current.strict = bool(strict)
        if route is not None:
            current.route = bool(route)
        if refresh_seconds is not None:
            if refresh_seconds < 0:
                raise exc.ValidationError("refresh_seconds must not be negative")
            current.refresh_seconds = float(refresh_seconds)
            current.invalidate()
        return current

    def watched_collections(self) -> Op[Dict[str, List[str]]]:
        """Collections of the current database with enabled triggers, and their names (fresh)."""
        routing = triggered.routing_of(self._state)
        routing.invalidate(self._db)
        watched = yield from triggered.watched_op(self._state, self._db)
        return {name: list(names) for name, names in sorted(watched.items())}

    # -- descriptions --------------------------------------------------------------

    def _described(self, triggers: List[JSON]) -> Op[List[JSON]]:
        if not triggers:
            return []
        try:
            rows = yield from self._sdbql(
                self._db, f"FOR m IN {META_COLLECTION} FILTER m._key IN @ids "
                "RETURN [m._key, m.description]",
                {"ids": [t.get("_key") for t in triggers]},
            )
        except exc.NotFoundError:  # no description was ever kept here
            rows = []
        descriptions = {row[0]: row[1] for row in rows}
        return [{**t, "description": descriptions.get(t.get("_key"))} for t in triggers]

    def _set_description(self, trigger_id: str, description: str) -> Op[None]:
        db = self._db
        document = {"description": description}
        for _attempt in (1, 2):
            try:
                yield from self._call("update", database=db, collection=META_COLLECTION,
                                      key=trigger_id, document=document, merge=True)
                return
            except exc.NotFoundError:
                pass
            try:
                yield from self._call("insert", database=db, collection=META_COLLECTION,
                                      key=trigger_id, document=document)
                return
            except exc.AlreadyExistsError:
                continue  # written meanwhile: update it
            except exc.NotFoundError:
                try:
                    yield from self._call("create_collection", database=db, name=META_COLLECTION)
                except exc.AlreadyExistsError:
                    pass
        yield from self._call("insert", database=db, collection=META_COLLECTION,
                              key=trigger_id, document=document)

    def _drop_description(self, trigger_id: str) -> Op[None]:
        try:
            yield from self._call("delete", database=self._db, collection=META_COLLECTION,
                                  key=trigger_id)
        except exc.NotFoundError:
            pass


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class TriggersClient(SyncFacade[TriggersOps]):
    """Triggers of the current database."""

    def list(self) -> List[JSON]:
        """Every trigger of the current database, each with its ``description`` (or None)."""
        return self._executor.run(self._ops.list())

    def list_by_collection(self, collection: str) -> List[JSON]:
        """The triggers that watch one collection, each with its ``description`` (or None)."""
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
        default 5). The collection must exist. The server has no description
        field: ``description`` is kept by this library next to the trigger.
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
        """One trigger with its ``description`` (or None); NotFoundError when there is none."""
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
        """Delete a trigger (and its description); jobs it already queued still run."""
        return self._executor.run(self._ops.delete(trigger_id))

    def routing(
        self,
        *,
        strict: Optional[bool] = None,
        route: Optional[bool] = None,
        refresh_seconds: Optional[float] = None,
    ) -> TriggerRouting:
        """This client's trigger routing; the arguments given change it.

        ``strict=True`` raises ``TriggersNotFiredError`` (nothing sent) for a
        write that cannot fire its collection's triggers (in a transaction or a
        session commit, or SDBQL), instead of ``TriggersNotFiredWarning``.
        ``route=False`` stops sending writes to watched collections over HTTP.
        ``refresh_seconds`` bounds how stale the list of watched collections
        may get when another client changes triggers (default 10).
        """
        return self._ops.routing(strict=strict, route=route, refresh_seconds=refresh_seconds)

    def watched_collections(self) -> Dict[str, List[str]]:
        """Collections of the current database with enabled triggers, and their names (fresh)."""
        return self._executor.run(self._ops.watched_collections())


class AsyncTriggersClient(AsyncFacade[TriggersOps]):
    """Triggers of the current database."""

    async def list(self) -> List[JSON]:
        """Every trigger of the current database, each with its ``description`` (or None)."""
        return await self._executor.run(self._ops.list())

    async def list_by_collection(self, collection: str) -> List[JSON]:
        """The triggers that watch one collection, each with its ``description`` (or None)."""
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
        default 5). The collection must exist. The server has no description
        field: ``description`` is kept by this library next to the trigger.
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
        """One trigger with its ``description`` (or None); NotFoundError when there is none."""
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
        """Delete a trigger (and its description); jobs it already queued still run."""
        return await self._executor.run(self._ops.delete(trigger_id))

    def routing(
        self,
        *,
        strict: Optional[bool] = None,
        route: Optional[bool] = None,
        refresh_seconds: Optional[float] = None,
    ) -> TriggerRouting:
        """This client's trigger routing; the arguments given change it.

        ``strict=True`` raises ``TriggersNotFiredError`` (nothing sent) for a
        write that cannot fire its collection's triggers (in a transaction or a
        session commit, or SDBQL), instead of ``TriggersNotFiredWarning``.
        ``route=False`` stops sending writes to watched collections over HTTP.
        ``refresh_seconds`` bounds how stale the list of watched collections
        may get when another client changes triggers (default 10).
        """
        return self._ops.routing(strict=strict, route=route, refresh_seconds=refresh_seconds)

    async def watched_collections(self) -> Dict[str, List[str]]:
        """Collections of the current database with enabled triggers, and their names (fresh)."""
        return await self._executor.run(self._ops.watched_collections())
