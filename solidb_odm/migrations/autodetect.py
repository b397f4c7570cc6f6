"""The steps that take the recorded state to the models' state.

Renames cannot be guessed safely (a dropped field and a new one look the
same as a rename), so they are declared: ``users=people`` renames a
collection, ``users.name=full_name`` a field. Nothing here asks a question,
so CI never waits on a prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from .. import exceptions as exc
from .. import names
from . import state as st
from .operations import (
    AddIndex,
    CreateCollection,
    DropCollection,
    Operation,
    RemoveIndex,
    RenameCollection,
    RenameField,
    SetSchema,
)


@dataclass(frozen=True)
class Renames:
    """Declared renames: collections ``{old: new}`` and fields ``{(collection, old): new}``.

    Field renames name the collection by its new name.
    """

    collections: Dict[str, str]
    fields: Dict[Tuple[str, str], str]

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Renames:
        """``["users=people", "people.name=full_name"]`` -> Renames."""
        collections: Dict[str, str] = {}
        fields: Dict[Tuple[str, str], str] = {}
        for spec in specs:
            old, sep, new = spec.partition("=")
            if not sep or not old or not new:
                raise exc.ValidationError(
                    f"rename {spec!r}: expected collection=new_name or collection.field=new_field")
            if "." in old:
                collection, _, field = old.partition(".")
                fields[(names.collection_name(collection), names.field_segment(field))] = (
                    names.field_segment(new))
            else:
                collections[names.collection_name(old)] = names.collection_name(new)
        return cls(collections, fields)


def _kind(kind: str) -> str:
    return f"an {kind}" if kind == "edge" else f"a {kind}"


def changes(old: st.State, new: st.State, renames: Renames | None = None) -> List[Operation]:
    """The steps from ``old`` to ``new``, in an order that runs (and rolls back) cleanly."""
    renames = renames or Renames({}, {})
    work = st.copy_state(old)
    before = work["collections"]
    after = new["collections"]
    ops: List[Operation] = []

    for source, target in sorted(renames.collections.items()):
        if source not in before:
            raise exc.ValidationError(f"rename {source}={target}: the last migration has no {source!r}")
        if target not in after:
            raise exc.ValidationError(f"rename {source}={target}: no model uses {target!r}")
        if target in before:
            raise exc.ValidationError(f"rename {source}={target}: {target!r} exists already")
        op: Operation = RenameCollection(source, target)
        op.state_forwards(work)
        ops.append(op)

    for name in sorted(set(after) - set(before)):
        op = CreateCollection(name, edge=after[name]["type"] == "edge")
        op.state_forwards(work)
        ops.append(op)

    for (collection, field), target in sorted(renames.fields.items()):
        if collection not in after:
            raise exc.ValidationError(f"rename {collection}.{field}: no model uses {collection!r}")
        if collection in before and before[collection].get("schema") is not None:
            if field not in st.fields_of(before[collection]):
                raise exc.ValidationError(
                    f"rename {collection}.{field}={target}: the last migration has no field {field!r}")
        if after[collection].get("schema") is not None and target not in st.fields_of(after[collection]):
            raise exc.ValidationError(
                f"rename {collection}.{field}={target}: the model has no field {target!r}")
        ops.append(RenameField(collection, field, target))

    for name in sorted(set(after) & set(before)):
        was, will = before[name], after[name]
        if was["type"] != will["type"]:
            raise exc.ValidationError(
                f"{name} was {_kind(was['type'])} collection and is now {_kind(will['type'])} one: "
                "the server cannot change that; rename it or drop it")
        for index_name in sorted(was["indexes"]):
            index = was["indexes"][index_name]
            if not st.same(index, will["indexes"].get(index_name)):
                ops.append(RemoveIndex(name, index_name, index["fields"], index["unique"], index["sparse"]))

    for name in sorted(after):
        was_indexes = before.get(name, {}).get("indexes", {})
        for index_name in sorted(after[name]["indexes"]):
            index = after[name]["indexes"][index_name]
            if not st.same(index, was_indexes.get(index_name)):
                ops.append(AddIndex(name, index_name, index["fields"], index["unique"], index["sparse"]))

    for name in sorted(after):
        previous = before.get(name, {}).get("schema")
        if not st.same(previous, after[name].get("schema")):
            ops.append(SetSchema(name, after[name].get("schema"), previous))

    for name in sorted(set(before) - set(after)):
        entry = before[name]
        ops.append(DropCollection(name, edge=entry["type"] == "edge", indexes=entry["indexes"],
                                  schema=entry.get("schema")))
    return ops


def suggested_name(ops: List[Operation]) -> str:
    """A short file name for the steps: ``initial``, ``add_idx_users_email``, ``auto``."""
    if not ops:
        return "empty"
    if all(isinstance(op, CreateCollection | AddIndex | SetSchema) for op in ops) and any(
            isinstance(op, CreateCollection) for op in ops):
        return "create_" + "_".join(op.name for op in ops if isinstance(op, CreateCollection))[:40]
    first = ops[0]
    label = {
        AddIndex: lambda o: f"add_{o.name}",
        RemoveIndex: lambda o: f"remove_{o.name}",
        SetSchema: lambda o: f"schema_{o.collection}",
        RenameField: lambda o: f"rename_{o.collection}_{o.old}",
        RenameCollection: lambda o: f"rename_{o.old}",
        DropCollection: lambda o: f"drop_{o.name}",
        CreateCollection: lambda o: f"create_{o.name}",
    }.get(type(first))
    name = label(first) if label else "auto"
    if len(ops) > 1:
        name += "_and_more"
    return "".join(c if c.isalnum() else "_" for c in name.lower())[:50]
