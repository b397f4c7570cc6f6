"""``sync``: make the server match the models (create only), showing the difference first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Dict, List, Type

import typer

from .. import exceptions as exc
from ..database import Database
from ..migrations import state as st
from ..models import Document
from ..schema import json_schema
from .common import ModelsOption, UrlOption, database, handle_errors, load_models


@dataclass
class Diff:
    """What sync would create (``+``) and what differs that it leaves alone (``~``, ``!``)."""

    create: List[str] = field(default_factory=list)
    leave: List[str] = field(default_factory=list)


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "edge" else f"a {kind}"


def diff(db: Database, models: List[Type[Document]], *, schema: bool) -> Diff:
    out = Diff()
    listed = {c["name"]: c["type"] for c in db.client.list_collections(db.name)}
    for model in models:
        name = model.collection_name()
        kind = "edge" if model.is_edge() else "document"
        indexes: List[Dict[str, Any]] = []
        if name not in listed:
            out.create.append(f"+ {kind} collection {name}")
        else:
            if listed[name] != kind:
                out.leave.append(f"! {name} is {_a(listed[name])} collection on the server, but "
                                 f"{model.__name__} is {_a(kind)} model (sync cannot change that)")
            indexes = db.client.list_indexes(db.name, name)
        have = {i.get("name"): i for i in indexes}
        for index_name, fields, marker in model.indexes():
            found = have.get(index_name)
            flags = "".join(f", {f}" for f in ("unique", "sparse") if getattr(marker, f))
            if found is None:
                out.create.append(f"+ index {name}.{index_name} ({', '.join(fields)}){flags}")
            elif list(found.get("fields") or []) != fields or bool(found.get("unique")) != marker.unique:
                out.leave.append(f"~ index {name}.{index_name} differs on the server "
                                 "(sync never changes an index: use migrations)")
        if schema:
            record = _schema(db, name) if name in listed else None
            wanted = json_schema(model)
            if record is None:
                out.create.append(f"+ JSON schema of {name}")
            elif not st.same(record.get("schema"), wanted) or record.get("validation_mode") != "strict":
                out.create.append(f"~ JSON schema of {name} (replaced)")
    modelled = {m.collection_name() for m in models}
    for name in sorted(set(listed) - modelled):
        if not name.startswith("_"):
            out.leave.append(f"  {name} has no model (left as it is)")
    return out


def _schema(db: Database, collection: str) -> dict[str, object] | None:
    try:
        reply = db.client.command("get_collection_schema", database=db.name, collection=collection)
    except exc.NotFoundError:
        return None
    return dict(reply.data) if reply.data else None


@handle_errors
def sync(
    url: UrlOption = None,
    models: ModelsOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the difference and change nothing.")] = False,
    schema: Annotated[bool, typer.Option(help="Push the models' JSON schema (strict validation).")] = True,
) -> None:
    """Create the models' collections, edge collections, indexes and JSON schema on the server."""
    classes = load_models(models)
    with database(url) as db:
        db.register(*classes)
        found = diff(db, classes, schema=schema)
        for line in found.create + found.leave:
            typer.echo(line)
        if not found.create:
            typer.echo("In sync: nothing to create.")
            return
        if dry_run:
            typer.echo(f"Dry run: {len(found.create)} change(s) not made.")
            return
        made = db.sync(schema=schema)
        total = sum(len(v) for v in made.values())
        typer.echo(f"Synced: {len(made['collections'])} collection(s), {len(made['indexes'])} index(es), "
                   f"{len(made['schemas'])} schema(s) ({total} change(s)).")
