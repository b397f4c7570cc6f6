"""The steps a migration is made of, each runnable forwards and backwards as an operation.

Every step is a small frozen dataclass with three parts: ``state_forwards``
(how it changes the recorded state, no I/O), and ``forwards``/``backwards``
(operations, run by either executor). Steps that touch documents (renames
and :class:`RunPython`) work in batches in key order, write each batch
with one query outside any transaction (the server's transactions time
out), and checkpoint the last key done, so an interrupted run resumes there.
"""

from __future__ import annotations

import dataclasses
import pprint
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .. import exceptions as exc
from .. import names, protocol
from ..client.commands import BULK_CHUNK_BYTES, ClientOps
from ..ops import Op
from . import state as st
from .scan import JSON, KeyCursor, quoted, without_server_fields


class _Delete:
    """The marker a data step's function returns to delete the document."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()
"""Return this from a :class:`RunPython` function to delete the document."""

Transform = Callable[[JSON], Union[JSON, _Delete, None]]
"""A data step's function: the document in, the whole new document (or None: unchanged, or DELETE) out."""


@dataclass
class Context:
    """What a running step needs: where it runs, and the executor's bookkeeping hooks."""

    ops: ClientOps
    database: str
    state: st.State
    """The recorded state before the step (in the direction it runs)."""
    checkpoint: Callable[[Optional[str]], Op[None]]
    """Record progress after a batch (the last key done) and keep the migration lock."""
    resume_after: Optional[str] = None
    """The last key an interrupted run of this step finished, if any."""
    memo: Dict[str, Any] = field(default_factory=dict)
    """Saved with every checkpoint and given back on resume (a suspended schema...)."""
    report: Callable[[str, int, Optional[int]], None] = lambda label, done, total: None
    """Progress: ``report(label, documents done in this batch, total or None)``."""


class Operation:
    """One step of a migration."""

    reversible = True
    """Whether ``backwards`` can undo it."""

    def state_forwards(self, state: st.State) -> None:
        """Change ``state`` (in place) as this step changes the server."""

    def forwards(self, ctx: Context) -> Op[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    def backwards(self, ctx: Context) -> Op[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    def describe(self) -> str:
        """One line for plans and file headers."""
        return type(self).__name__

    def warning(self) -> Optional[str]:
        """What this step loses when run forwards, if anything (shown before it runs)."""
        return None

    def render(self) -> str:
        """Python source that rebuilds this step in a migration file."""
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            text = pprint.pformat(value, width=90, sort_dicts=True)
            parts.append(f"{f.name}={_indent(text)}")
        return f"m.{type(self).__name__}({', '.join(parts)})"


def _indent(text: str) -> str:
    return text.replace("\n", "\n        ")


# -- helpers that talk to the server ----------------------------------------------------


def _tolerate(op: Op[Any], *errors: type[BaseException]) -> Op[bool]:
    """Run ``op``; False instead of raising one of ``errors`` (a resumed step re-does work)."""
    try:
        yield from op
    except errors:
        return False
    return True


def _get_schema(ctx: Context, collection: str) -> Op[Optional[JSON]]:
    reply = yield from ctx.ops.command("get_collection_schema", database=ctx.database,
                                       collection=collection)
    return dict(reply.data) if reply.data else None


def _put_schema(ctx: Context, collection: str, schema: Optional[JSON], mode: str = "strict") -> Op[None]:
    if schema is None:
        yield from _tolerate(ctx.ops.command("delete_collection_schema", database=ctx.database,
                                             collection=collection), exc.NotFoundError)
        return
    yield from ctx.ops.command("set_collection_schema", database=ctx.database, collection=collection,
                               schema={"name": collection, "schema": dict(schema),
                                       "validation_mode": mode})


def _create_collection(ctx: Context, name: str, entry: st.Collection) -> Op[None]:
    """Create the collection with its indexes and schema; what exists already is kept."""
    yield from _tolerate(ctx.ops.create_collection(
        ctx.database, name, "edge" if entry.get("type") == "edge" else None), exc.AlreadyExistsError)
    for index_name, index in sorted(entry.get("indexes", {}).items()):
        yield from _add_index(ctx, name, index_name, index)
    if entry.get("schema") is not None:
        yield from _put_schema(ctx, name, entry["schema"])


def _add_index(ctx: Context, collection: str, name: str, index: JSON) -> Op[None]:
    yield from _tolerate(ctx.ops.create_index(ctx.database, collection, name, index["fields"],
                                              unique=index.get("unique", False),
                                              sparse=index.get("sparse", False)),
                         exc.AlreadyExistsError)


def _count(ctx: Context, collection: str) -> Op[Optional[int]]:
    stats = yield from ctx.ops.collection_stats(ctx.database, collection)
    count = stats.get("document_count")
    return int(count) if count is not None else None


def _suspend_schema(ctx: Context, collection: str) -> Op[None]:
    """Stop validating while documents are rewritten (old and new shapes both pass meanwhile)."""
    if "suspended_schema" in ctx.memo:
        return  # a resumed run: validation is already off, the record to restore is saved
    record = yield from _get_schema(ctx, collection)
    if record is None or record.get("validation_mode") == "off":
        return
    ctx.memo["suspended_schema"] = record
    yield from ctx.checkpoint(ctx.resume_after)
    yield from _put_schema(ctx, collection, record.get("schema"), "off")


def _restore_schema(ctx: Context, collection: str) -> Op[None]:
    record = ctx.memo.pop("suspended_schema", None)
    if record is not None:
        yield from _put_schema(ctx, collection, record.get("schema"),
                               record.get("validation_mode") or "strict")


def _replace_all(ctx: Context, collection: str, docs: List[JSON]) -> Op[None]:
    for chunk in protocol.chunks_by_size(docs, BULK_CHUNK_BYTES):
        try:
            yield from ctx.ops.query(ctx.database, f"FOR doc IN @docs REPLACE doc IN {quoted(collection)}",
                                     {"docs": chunk})
        except exc.NotFoundError:  # deleted meanwhile by someone else: rewrite the rest
            present = set((yield from _present(ctx, collection, [d["_key"] for d in chunk])))
            rest = [d for d in chunk if d["_key"] in present]
            if rest:
                yield from ctx.ops.query(
                    ctx.database, f"FOR doc IN @docs REPLACE doc IN {quoted(collection)}", {"docs": rest})


def _remove_all(ctx: Context, collection: str, keys: List[str]) -> Op[None]:
    sdbql = f"FOR k IN @keys REMOVE k IN {quoted(collection)}"
    try:
        yield from ctx.ops.query(ctx.database, sdbql, {"keys": keys})
    except exc.NotFoundError:
        present = (yield from _present(ctx, collection, keys))
        if present:
            yield from ctx.ops.query(ctx.database, sdbql, {"keys": present})


def _present(ctx: Context, collection: str, keys: Sequence[str]) -> Op[List[str]]:
    """The keys among ``keys`` that the collection holds (served by key lookups, not a scan)."""
    rows = yield from ctx.ops.query(
        ctx.database, f"FOR d IN {quoted(collection)} FILTER d._key IN @keys RETURN d._key",
        {"keys": list(keys)})
    return [str(k) for k in rows]


def rewrite(ctx: Context, collection: str, transform: Transform, batch_size: int,
            label: str) -> Op[int]:
    """Apply ``transform`` to every document, batch by batch; returns how many changed."""
    yield from _suspend_schema(ctx, collection)
    cursor = KeyCursor(ctx.ops, ctx.database, collection, batch_size=batch_size,
                       after=ctx.resume_after)
    total = yield from _count(ctx, collection)
    changed = 0
    while True:
        batch = yield from cursor.next_batch()
        if not batch:
            break
        replace: List[JSON] = []
        delete: List[str] = []
        for doc in batch:
            key = str(doc["_key"])
            result = transform(dict(doc))
            if result is DELETE:
                delete.append(key)
            elif isinstance(result, dict):
                new = without_server_fields(result)
                new["_key"] = key
                replace.append(new)
            elif result is not None:
                raise exc.ValidationError(
                    f"{label}: the function must return a dict, None or DELETE, got {result!r:.80}")
        if replace:
            yield from _replace_all(ctx, collection, replace)
        if delete:
            yield from _remove_all(ctx, collection, delete)
            cursor.removed(len(delete))
        changed += len(replace) + len(delete)
        yield from ctx.checkpoint(cursor.last_key)
        ctx.report(label, len(batch), total)
    yield from _restore_schema(ctx, collection)
    return changed


def copy_documents(ctx: Context, source: str, target: str, batch_size: int, label: str) -> Op[int]:
    """Copy every document (keys kept) in batches; documents already in ``target`` are skipped."""
    cursor = KeyCursor(ctx.ops, ctx.database, source, batch_size=batch_size, after=ctx.resume_after)
    total = yield from _count(ctx, source)
    copied = 0
    while True:
        batch = yield from cursor.next_batch()
        if not batch:
            break
        present = set((yield from _present(ctx, target, [str(d["_key"]) for d in batch])))
        docs = [without_server_fields(d) for d in batch if str(d["_key"]) not in present]
        if docs:
            copied += yield from ctx.ops.bulk_insert(ctx.database, target, docs)
        yield from ctx.checkpoint(cursor.last_key)
        ctx.report(label, len(batch), total)
    return copied


# -- schema steps -----------------------------------------------------------------------


@dataclass(frozen=True)
class CreateCollection(Operation):
    """Create a (document or edge) collection. Backwards drops it, with its documents."""

    name: str
    edge: bool = False

    def __post_init__(self) -> None:
        names.collection_name(self.name)

    def state_forwards(self, state: st.State) -> None:
        if self.name in state["collections"]:
            raise exc.ValidationError(f"CreateCollection: {self.name!r} exists in the state already")
        state["collections"][self.name] = st.collection_entry(self.edge)

    def forwards(self, ctx: Context) -> Op[None]:
        yield from _create_collection(ctx, self.name, st.collection_entry(self.edge))

    def backwards(self, ctx: Context) -> Op[None]:
        yield from _tolerate(ctx.ops.delete_collection(ctx.database, self.name), exc.NotFoundError)

    def describe(self) -> str:
        return f"create {'edge ' if self.edge else ''}collection {self.name}"


@dataclass(frozen=True)
class DropCollection(Operation):
    """Drop a collection and its documents. Backwards re-creates it empty (indexes, schema)."""

    name: str
    edge: bool = False
    indexes: Dict[str, JSON] = field(default_factory=dict)
    schema: Optional[JSON] = None

    def state_forwards(self, state: st.State) -> None:
        st.collection(state, self.name)
        del state["collections"][self.name]

    def forwards(self, ctx: Context) -> Op[None]:
        yield from _tolerate(ctx.ops.delete_collection(ctx.database, self.name), exc.NotFoundError)

    def backwards(self, ctx: Context) -> Op[None]:
        entry = st.collection_entry(self.edge, self.schema)
        entry["indexes"] = dict(self.indexes)
        yield from _create_collection(ctx, self.name, entry)

    def describe(self) -> str:
        return f"drop collection {self.name}"

    def warning(self) -> Optional[str]:
        return f"drops collection {self.name} and its documents (a rollback re-creates it empty)"


@dataclass(frozen=True)
class AddIndex(Operation):
    """Create a persistent index (unique and sparse as declared with ``Indexed``)."""

    collection: str
    name: str
    fields: List[str]
    unique: bool = False
    sparse: bool = False

    def state_forwards(self, state: st.State) -> None:
        st.collection(state, self.collection)["indexes"][self.name] = st.index_entry(
            self.fields, self.unique, self.sparse)

    def forwards(self, ctx: Context) -> Op[None]:
        yield from _add_index(ctx, self.collection, self.name, st.index_entry(
            self.fields, self.unique, self.sparse))

    def backwards(self, ctx: Context) -> Op[None]:
        yield from _tolerate(ctx.ops.delete_index(ctx.database, self.collection, self.name),
                             exc.NotFoundError)

    def describe(self) -> str:
        flags = "".join(f", {flag}" for flag in ("unique", "sparse") if getattr(self, flag))
        return f"add index {self.name} on {self.collection} ({', '.join(self.fields)}){flags}"


@dataclass(frozen=True)
class RemoveIndex(Operation):
    """Drop an index; backwards re-creates it from the definition kept here."""

    collection: str
    name: str
    fields: List[str]
    unique: bool = False
    sparse: bool = False

    def state_forwards(self, state: st.State) -> None:
        indexes = st.collection(state, self.collection)["indexes"]
        if self.name not in indexes:
            raise exc.ValidationError(f"RemoveIndex: {self.collection}.{self.name} is not in the state")
        del indexes[self.name]

    def forwards(self, ctx: Context) -> Op[None]:
        yield from _tolerate(ctx.ops.delete_index(ctx.database, self.collection, self.name),
                             exc.NotFoundError)

    def backwards(self, ctx: Context) -> Op[None]:
        yield from _add_index(ctx, self.collection, self.name, st.index_entry(
            self.fields, self.unique, self.sparse))

    def describe(self) -> str:
        return f"remove index {self.name} from {self.collection}"


@dataclass(frozen=True)
class SetSchema(Operation):
    """Push the models' JSON schema (strict validation), or remove it with ``schema=None``."""

    collection: str
    schema: Optional[JSON]
    previous: Optional[JSON] = None

    def state_forwards(self, state: st.State) -> None:
        st.collection(state, self.collection)["schema"] = self.schema

    def forwards(self, ctx: Context) -> Op[None]:
        yield from _put_schema(ctx, self.collection, self.schema)

    def backwards(self, ctx: Context) -> Op[None]:
        yield from _put_schema(ctx, self.collection, self.previous)

    def describe(self) -> str:
        if self.schema is None:
            return f"remove the JSON schema of {self.collection}"
        before = set((self.previous or {}).get("properties", {}))
        after = set(self.schema.get("properties", {}))
        changes = [f"+{f}" for f in sorted(after - before)] + [f"-{f}" for f in sorted(before - after)]
        detail = f" ({' '.join(changes)})" if changes and self.previous is not None else ""
        return f"set the JSON schema of {self.collection}{detail}"


# -- renames and data steps ----------------------------------------------------------------


@dataclass(frozen=True)
class RenameField(Operation):
    """Move a stored field to a new name in every document, in batches (declared explicitly)."""

    collection: str
    old: str
    new: str
    batch_size: int = 1000

    def __post_init__(self) -> None:
        names.field_segment(self.old)
        names.field_segment(self.new)

    def _move(self, old: str, new: str) -> Transform:
        def move(doc: JSON) -> Optional[JSON]:
            if old not in doc:
                return None
            doc[new] = doc.pop(old)
            return doc
        return move

    def forwards(self, ctx: Context) -> Op[None]:
        yield from rewrite(ctx, self.collection, self._move(self.old, self.new), self.batch_size,
                           f"{self.collection}: {self.old} -> {self.new}")

    def backwards(self, ctx: Context) -> Op[None]:
        yield from rewrite(ctx, self.collection, self._move(self.new, self.old), self.batch_size,
                           f"{self.collection}: {self.new} -> {self.old}")

    def describe(self) -> str:
        return f"rename field {self.collection}.{self.old} to {self.new}"


@dataclass(frozen=True)
class RenameCollection(Operation):
    """Give a collection a new name: a copy (keys, indexes, schema kept) in batches, then a drop.

    SoliDB 2.6.0 cannot rename a collection. References that other documents
    hold (``users/k`` in edges and ``Reference`` fields) are not rewritten:
    add a :class:`RunPython` step for them.
    """

    old: str
    new: str
    batch_size: int = 1000

    def __post_init__(self) -> None:
        names.collection_name(self.old)
        names.collection_name(self.new)

    def state_forwards(self, state: st.State) -> None:
        entry = st.collection(state, self.old)
        if self.new in state["collections"]:
            raise exc.ValidationError(f"RenameCollection: {self.new!r} exists in the state already")
        state["collections"][self.new] = state["collections"].pop(self.old)
        del entry

    def _move(self, ctx: Context, source: str, target: str) -> Op[None]:
        existing = {c["name"] for c in (yield from ctx.ops.list_collections(ctx.database))}
        if source not in existing and target in existing:
            return  # a resumed run that had finished the copy and dropped the source
        entry = dict(st.collection(ctx.state, source))
        schema = entry.get("schema")
        yield from _create_collection(ctx, target, dict(entry, schema=None))
        yield from copy_documents(ctx, source, target, self.batch_size, f"copy {source} -> {target}")
        if schema is not None:
            yield from _put_schema(ctx, target, schema)
        yield from _tolerate(ctx.ops.delete_collection(ctx.database, source), exc.NotFoundError)

    def forwards(self, ctx: Context) -> Op[None]:
        yield from self._move(ctx, self.old, self.new)

    def backwards(self, ctx: Context) -> Op[None]:
        yield from self._move(ctx, self.new, self.old)

    def describe(self) -> str:
        return f"rename collection {self.old} to {self.new}"


@dataclass(frozen=True, init=False)
class RunPython(Operation):
    """A data step: a function applied to every document of a collection, in batches.

    ``forwards(doc)`` gets the stored document (a dict) and returns the
    whole new document, ``None`` to leave it alone, or ``DELETE``. It
    should be idempotent: a step interrupted mid-batch redoes that batch.
    Without ``backwards`` the step cannot be rolled back; pass
    ``RunPython.noop`` when there is nothing to undo.

        m.RunPython("users", forwards=lambda d: {**d, "email": d["email"].lower()},
                    backwards=RunPython.noop)
    """

    collection: str
    forwards_fn: Transform
    backwards_fn: Optional[Transform] = None
    batch_size: int = 1000
    description: str = ""

    def __init__(self, collection: str, forwards: Transform, backwards: Optional[Transform] = None,
                 *, batch_size: int = 1000, description: str = "") -> None:
        names.system_collection_name(collection)
        object.__setattr__(self, "collection", collection)
        object.__setattr__(self, "forwards_fn", forwards)
        object.__setattr__(self, "backwards_fn", backwards)
        object.__setattr__(self, "batch_size", batch_size)
        object.__setattr__(self, "description", description)

    @staticmethod
    def noop(doc: JSON) -> None:
        """A function that changes nothing (a reversible step with nothing to undo)."""
        return None

    @property
    def reversible(self) -> bool:  # type: ignore[override]
        return self.backwards_fn is not None

    def _label(self) -> str:
        return self.description or getattr(self.forwards_fn, "__name__", "RunPython")

    def forwards(self, ctx: Context) -> Op[None]:
        if self.forwards_fn is not RunPython.noop:
            yield from rewrite(ctx, self.collection, self.forwards_fn, self.batch_size,
                               f"{self.collection}: {self._label()}")

    def backwards(self, ctx: Context) -> Op[None]:
        if self.backwards_fn is None:
            raise exc.ValidationError(f"{self.describe()} has no backwards function: it cannot be undone")
        if self.backwards_fn is not RunPython.noop:
            yield from rewrite(ctx, self.collection, self.backwards_fn, self.batch_size,
                               f"{self.collection}: undo {self._label()}")

    def describe(self) -> str:
        return f"run {self._label()} over {self.collection}"

    def render(self) -> str:
        raise exc.ValidationError("RunPython steps are written by hand, not generated")


def operation_summary(ops: Sequence[Operation]) -> List[Tuple[str, Optional[str]]]:
    """(description, warning) for each step."""
    return [(op.describe(), op.warning()) for op in ops]
