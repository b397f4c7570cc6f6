"""What the models promise the server: collections, indexes and JSON schemas, as plain data.

A migration file stores this snapshot (the state after it), so that
``makemigrations`` can compare the models with the last migration without a
server, as Django does. The state is a JSON-shaped dict::

    {"version": 1, "collections": {
        "users": {"type": "document",
                  "indexes": {"idx_users_email": {"fields": ["email"], "unique": True, "sparse": False}},
                  "schema": {...JSON Schema...} | None}}}
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Type

from .. import exceptions as exc
from ..schema import json_schema

if TYPE_CHECKING:
    from ..models import Document

State = Dict[str, Any]
"""A snapshot: ``{"version": 1, "collections": {name: collection}}``."""
Collection = Dict[str, Any]
"""``{"type": "document" | "edge", "indexes": {name: index}, "schema": dict | None}``."""

VERSION = 1


def empty_state() -> State:
    """The state before the first migration: nothing."""
    return {"version": VERSION, "collections": {}}


def collection_entry(edge: bool = False, schema: Optional[Dict[str, Any]] = None) -> Collection:
    """A new collection's entry: no indexes yet."""
    return {"type": "edge" if edge else "document", "indexes": {}, "schema": schema}


def index_entry(fields: Iterable[str], unique: bool = False, sparse: bool = False) -> Dict[str, Any]:
    return {"fields": list(fields), "unique": bool(unique), "sparse": bool(sparse)}


def state_from_models(models: Iterable[Type[Document]], *, schema: bool = True) -> State:
    """The state the models describe (stored field names, declared indexes, JSON schema)."""
    state = empty_state()
    for model in sorted(models, key=lambda m: m.collection_name()):
        name = model.collection_name()
        if name in state["collections"]:
            raise exc.ValidationError(
                f"two models use the collection {name!r}: "
                f"{state['collections'][name]['model']} and {model.__module__}.{model.__qualname__}"
            )
        entry = collection_entry(model.is_edge(), json_schema(model) if schema else None)
        for index_name, fields, marker in model.indexes():
            entry["indexes"][index_name] = index_entry(fields, marker.unique, marker.sparse)
        entry["model"] = f"{model.__module__}.{model.__qualname__}"
        state["collections"][name] = entry
    for entry in state["collections"].values():
        entry.pop("model")
    return normalized(state)


def normalized(state: State) -> State:
    """A deep copy that compares equal to any state with the same meaning (JSON round trip)."""
    return dict(json.loads(json.dumps(state, sort_keys=True)))


def copy_state(state: State) -> State:
    return copy.deepcopy(state)


def collection(state: State, name: str) -> Collection:
    """The entry of collection ``name``, or a clear error when the state has none."""
    try:
        found: Collection = state["collections"][name]
    except KeyError:
        raise exc.ValidationError(f"the migration state has no collection {name!r}") from None
    return found


def fields_of(entry: Collection) -> List[str]:
    """The stored field names the collection's schema declares (empty without a schema)."""
    schema = entry.get("schema") or {}
    return sorted((schema.get("properties") or {}).keys())


def same(a: Any, b: Any) -> bool:
    """Equal as JSON (key order and tuple/list differences ignored)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
