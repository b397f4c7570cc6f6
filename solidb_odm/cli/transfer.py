"""``export`` and ``import``: JSON Lines, streamed in batches, resumable after an interruption.

Export reads the collection in key order (``KeyCursor``); with ``--resume``
it reads the last complete line of the file and continues after its key,
dropping a half-written last line. Import keeps a checkpoint file next to
the input (the byte offset after the last batch the server stored) and
skips documents whose ``_key`` the collection already holds, so a rerun
after a crash neither stops nor duplicates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Dict, List, Optional

import typer

from .. import exceptions as exc
from .. import names
from ..database import Database
from ..migrations.scan import KeyCursor, quoted, without_server_fields
from .common import UrlOption, database, fail, handle_errors
from .progress import bar

BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Documents per round trip.")]


def _newline_before(handle: BinaryIO, end: int) -> int:
    """The position of the last newline before ``end``, or -1."""
    while end > 0:
        start = max(0, end - (1 << 16))
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found
        end = start
    return -1


def _last_key(path: Path) -> Optional[str]:
    """The ``_key`` of the last complete line; a half-written last line is cut off."""
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        last = _newline_before(handle, size)
        if last + 1 != size:  # interrupted mid-line: drop the partial document
            handle.truncate(last + 1)
        if last < 0:
            return None
        begin = _newline_before(handle, last) + 1
        handle.seek(begin)
        line = handle.read(last - begin)
    try:
        return str(json.loads(line)["_key"])
    except (ValueError, KeyError, TypeError) as err:
        raise fail(f"{path}: the last line is not an exported document ({err})") from err


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


@handle_errors
def export(
    collection: Annotated[str, typer.Argument(help="The collection to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSON Lines file to write.")],
    url: UrlOption = None,
    batch_size: BatchOption = 1000,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted export of this file.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the file if it exists.")] = False,
) -> None:
    """Write a collection as JSON Lines, one document per line, in key order."""
    names.system_collection_name(collection)
    after: Optional[str] = None
    written = 0
    if output.exists() and output.stat().st_size and not overwrite:
        if not resume:
            raise fail(f"{output} exists: pass --resume to continue it or --overwrite to replace it")
        after = _last_key(output)
        written = _lines(output)
    with database(url) as db:
        total = _count(db, collection)
        cursor = KeyCursor(db.ops, db.name, collection, batch_size=batch_size, after=after)
        mode = "ab" if resume and not overwrite else "wb"
        with output.open(mode) as handle, bar() as progress:
            task = progress.add_task(f"export {collection}", total=total, completed=written)
            while True:
                batch = db.run(cursor.next_batch())
                if not batch:
                    break
                handle.write(b"".join(
                    json.dumps(without_server_fields(d), ensure_ascii=False).encode() + b"\n"
                    for d in batch))
                handle.flush()
                written += len(batch)
                progress.update(task, advance=len(batch))
    typer.echo(f"Exported {written} document(s) of {collection} to {output}"
               + (f" (resumed after {after})" if after else ""))


def _count(db: Database, collection: str) -> Optional[int]:
    try:
        stats = db.client.collection_stats(db.name, collection)
    except exc.NotFoundError as err:
        raise fail(f"collection {collection!r} does not exist in {db.name}") from err
    count = stats.get("document_count")
    return int(count) if count is not None else None


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def _read_checkpoint(path: Path, db: Database, collection: str) -> Dict[str, Any]:
    marker = checkpoint_path(path)
    if not marker.exists():
        return {"offset": 0, "imported": 0, "skipped": 0}
    saved = dict(json.loads(marker.read_text()))
    if (saved.get("database"), saved.get("collection")) != (db.name, collection):
        raise fail(f"{marker} belongs to an import into {saved.get('database')}.{saved.get('collection')}: "
                   "delete it to start over")
    return saved


def _write_checkpoint(path: Path, record: Dict[str, Any]) -> None:
    marker = checkpoint_path(path)
    scratch = marker.with_name(marker.name + ".tmp")
    scratch.write_text(json.dumps(record))
    os.replace(scratch, marker)


def _store(db: Database, collection: str, docs: List[Dict[str, Any]]) -> int:
    """Insert the documents whose key the collection does not hold yet; how many were inserted."""
    keys = [str(d["_key"]) for d in docs if "_key" in d]
    present: set[str] = set()
    if keys:
        present = {str(k) for k in db.query(
            f"FOR d IN {quoted(collection)} FILTER d._key IN @keys RETURN d._key", {"keys": keys})}
    fresh = [d for d in docs if str(d.get("_key")) not in present or "_key" not in d]
    return db.client.bulk_insert(db.name, collection, fresh) if fresh else 0


@handle_errors
def import_(
    collection: Annotated[str, typer.Argument(help="The collection to import into.")],
    source: Annotated[Path, typer.Argument(help="A JSON Lines file (one document per line).")],
    url: UrlOption = None,
    batch_size: BatchOption = 1000,
    edge: Annotated[bool, typer.Option(
        "--edge", help="Create the collection as an edge collection.")] = False,
) -> None:
    """Insert the documents of a JSON Lines file, resuming where an interrupted run stopped."""
    names.system_collection_name(collection)
    if not source.is_file():
        raise fail(f"{source}: no such file")
    size = source.stat().st_size
    with database(url) as db:
        if collection not in db.collection_names():
            db.create_collection(collection, edge=edge)
        record = _read_checkpoint(source, db, collection)
        record.update(database=db.name, collection=collection)
        offset = int(record["offset"])
        with source.open("rb") as handle, bar() as progress:
            task = progress.add_task(f"import {collection}", total=size, completed=offset)
            handle.seek(offset)
            batch: List[Dict[str, Any]] = []
            consumed = 0
            number = int(record.get("line", 0))
            for raw in handle:
                number += 1
                consumed += len(raw)
                if not raw.strip():
                    continue
                try:
                    doc = json.loads(raw)
                except ValueError as err:
                    raise fail(f"{source}:{number}: not JSON ({err})") from err
                if not isinstance(doc, dict):
                    raise fail(f"{source}:{number}: not a JSON object")
                batch.append(without_server_fields(doc))
                if len(batch) >= batch_size:
                    _flush(db, collection, source, batch, record, consumed, number)
                    progress.update(task, advance=consumed)
                    batch, consumed = [], 0
            _flush(db, collection, source, batch, record, consumed, number)
            progress.update(task, advance=consumed)
    checkpoint_path(source).unlink(missing_ok=True)
    typer.echo(f"Imported {record['imported']} document(s) into {collection}"
               + (f"; {record['skipped']} already there" if record["skipped"] else ""))


def _flush(db: Database, collection: str, source: Path, batch: List[Dict[str, Any]],
           record: Dict[str, Any], consumed: int, line: int) -> None:
    if batch:
        inserted = _store(db, collection, batch)
        record["imported"] = int(record["imported"]) + inserted
        record["skipped"] = int(record["skipped"]) + len(batch) - inserted
    record["offset"] = int(record["offset"]) + consumed
    record["line"] = line
    _write_checkpoint(source, record)
