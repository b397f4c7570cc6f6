"""``client.collections_mgmt``: maintenance, statistics, JSON schema, export and import.

All of it runs over the driver. Three reference calls need a little more
than one command on the pinned server: ``set_schema`` wraps the JSON Schema in
the ``{"name", "schema", "validation_mode"}`` record the driver expects,
``import_data`` creates a missing target collection (as the server's HTTP
import does) and sends large imports in frames under the size limit, and
``repair`` of an unsharded collection, which the server's shard repair
refuses, recounts it and rebuilds its indexes.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ... import exceptions as exc
from ... import protocol
from ...ops import Op
from ..commands import BULK_CHUNK_BYTES
from ..facade import AsyncFacade, SyncFacade
from ._base import SubOps

JSON = Dict[str, Any]

EXPORT_FORMATS = ("json", "jsonl")
VALIDATION_MODES = ("strict", "lenient", "off")


def _name(collection: Any) -> str:
    if not isinstance(collection, str) or not collection:
        raise exc.ValidationError("collection must be a non-empty string")
    return collection


def _format(format: str) -> str:
    if format not in EXPORT_FORMATS:
        raise exc.ValidationError(f"format must be one of {list(EXPORT_FORMATS)}, got {format!r}")
    return format


def _documents(data: Union[str, bytes, Iterable[Mapping[str, Any]]], format: str) -> List[JSON]:
    """The documents in ``data``: a list of maps for json, NDJSON text for jsonl."""
    if format == "jsonl":
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        if not isinstance(data, str):
            raise exc.ValidationError("jsonl data must be text with one JSON document per line")
        docs = []
        for number, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except ValueError as err:
                    raise exc.ValidationError(f"line {number} is not JSON: {err}") from err
    else:
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as err:
                raise exc.ValidationError(f"json data does not parse: {err}") from err
        if isinstance(data, Mapping):
            data = [data]
        docs = list(data)
    for doc in docs:
        if not isinstance(doc, Mapping):
            raise exc.ValidationError(f"every document must be a JSON object, got {doc!r:.80}")
    return [dict(d) for d in docs]


class CollectionsMgmtOps(SubOps):
    """Collection maintenance in the current database."""

    __facades__ = ("CollectionsMgmtClient", "AsyncCollectionsMgmtClient")

    def truncate(self, collection: str) -> Op[None]:
        """Delete every document of the collection, keeping its indexes and schema."""
        yield from self._call("truncate_collection", database=self._db, collection=_name(collection))

    def compact(self, collection: str) -> Op[None]:
        """Reclaim disk space of deleted and overwritten documents."""
        yield from self._call("compact_collection", database=self._db, collection=_name(collection))

    def repair(self, collection: str) -> Op[JSON]:
        """Fix what can drift out of step; returns ``{"status": "repaired", "report"}``.

        For a sharded collection that is the server's shard repair (duplicate
        and misplaced documents). The server refuses that for an unsharded
        collection ("Missing shard config"), whose own bookkeeping is its
        cached document count and its index entries, so there the cached
        count is recalculated and the indexes are rebuilt instead; the result
        then also carries ``document_count``.
        """
        db, name = self._db, _name(collection)
        if (yield from self._data("get_collection_sharding", database=db, collection=name)):
            return dict((yield from self._data("repair_collection", database=db,
                                               collection=name)) or {})
        recounted = yield from self._call("recount_collection", database=db, collection=name)
        count = int(recounted.count or 0)
        indexed = yield from self._data("rebuild_indexes", database=db, collection=name)
        return {
            "status": "repaired",
            "report": (
                f"{db}.{name} is not sharded: document count recalculated ({count}), "
                f"indexes rebuilt over {indexed} documents"
            ),
            "document_count": count,
        }

    def stats(self, collection: str) -> Op[JSON]:
        """Document count and disk usage of the collection."""
        return dict((yield from self._data("collection_stats", retry=True, database=self._db,
                                           name=_name(collection))) or {})

    def set_schema(
        self,
        collection: str,
        schema: Mapping[str, Any],
        *,
        validation_mode: str = "strict",
    ) -> Op[None]:
        """Validate documents against a JSON Schema from now on.

        ``"strict"`` refuses invalid documents (SchemaValidationError),
        ``"lenient"`` stores them and logs a warning, ``"off"`` keeps the
        schema without enforcing it.
        """
        if not isinstance(schema, Mapping):
            raise exc.ValidationError("schema must be a JSON Schema object")
        if validation_mode not in VALIDATION_MODES:
            raise exc.ValidationError(
                f"validation_mode must be one of {list(VALIDATION_MODES)}, got {validation_mode!r}"
            )
        name = _name(collection)
        yield from self._call(
            "set_collection_schema",
            database=self._db,
            collection=name,
            schema={"name": name, "schema": dict(schema), "validation_mode": validation_mode},
        )

    def get_schema(self, collection: str) -> Op[Optional[JSON]]:
        """``{"name", "schema", "validation_mode"}``, or None when there is no schema."""
        data = yield from self._data("get_collection_schema", retry=True, database=self._db,
                                     collection=_name(collection))
        return dict(data) if data else None

    def delete_schema(self, collection: str) -> Op[None]:
        """Stop validating the collection's documents."""
        yield from self._call("delete_collection_schema", database=self._db, collection=_name(collection))

    def export(self, collection: str, format: str = "json") -> Op[Union[List[JSON], str]]:
        """Every document, system fields included: a list (json) or NDJSON text (jsonl).

        The server sends the export as one reply, so a collection of more
        than about 16 MiB is refused with a ServerError; page through it with
        ``client.list`` or an SDBQL query instead.
        """
        fmt = _format(format)
        docs = list((yield from self._data("export_collection", database=self._db,
                                           collection=_name(collection))) or [])
        if fmt == "jsonl":
            return "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
        return docs

    def import_data(
        self,
        collection: str,
        data: Union[str, bytes, Iterable[Mapping[str, Any]]],
        format: str = "json",
    ) -> Op[int]:
        """Insert exported documents (keys kept); returns how many were imported.

        The collection is created when it does not exist. Documents whose key
        exists already make the import fail. Imports larger than about 8 MiB
        go in several frames, each atomic on its own.
        """
        name = _name(collection)
        docs = _documents(data, _format(format))
        db = self._db
        if not docs:
            return 0
        listed = yield from self._data("list_collections", retry=True, database=db)
        if name not in set(listed or []):
            try:
                yield from self._call("create_collection", database=db, name=name)
            except exc.AlreadyExistsError:
                pass  # created meanwhile: just as good
        total = 0
        for chunk in protocol.chunks_by_size(docs, BULK_CHUNK_BYTES):
            reply = yield from self._call("import_collection", database=db, collection=name,
                                          documents=chunk)
            total += int(reply.count or 0)
        return total


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class CollectionsMgmtClient(SyncFacade[CollectionsMgmtOps]):
    """Collection maintenance in the current database."""

    def truncate(self, collection: str) -> None:
        """Delete every document of the collection, keeping its indexes and schema."""
        return self._executor.run(self._ops.truncate(collection))

    def compact(self, collection: str) -> None:
        """Reclaim disk space of deleted and overwritten documents."""
        return self._executor.run(self._ops.compact(collection))

    def repair(self, collection: str) -> JSON:
        """Fix what can drift out of step; returns ``{"status": "repaired", "report"}``.

        For a sharded collection that is the server's shard repair (duplicate
        and misplaced documents). The server refuses that for an unsharded
        collection ("Missing shard config"), whose own bookkeeping is its
        cached document count and its index entries, so there the cached
        count is recalculated and the indexes are rebuilt instead; the result
        then also carries ``document_count``.
        """
        return self._executor.run(self._ops.repair(collection))

    def stats(self, collection: str) -> JSON:
        """Document count and disk usage of the collection."""
        return self._executor.run(self._ops.stats(collection))

    def set_schema(
        self,
        collection: str,
        schema: Mapping[str, Any],
        *,
        validation_mode: str = "strict",
    ) -> None:
        """Validate documents against a JSON Schema from now on.

        ``"strict"`` refuses invalid documents (SchemaValidationError),
        ``"lenient"`` stores them and logs a warning, ``"off"`` keeps the
        schema without enforcing it.
        """
        return self._executor.run(self._ops.set_schema(
            collection,
            schema,
            validation_mode=validation_mode,
        ))

    def get_schema(self, collection: str) -> Optional[JSON]:
        """``{"name", "schema", "validation_mode"}``, or None when there is no schema."""
        return self._executor.run(self._ops.get_schema(collection))

    def delete_schema(self, collection: str) -> None:
        """Stop validating the collection's documents."""
        return self._executor.run(self._ops.delete_schema(collection))

    def export(self, collection: str, format: str = "json") -> Union[List[JSON], str]:
        """Every document, system fields included: a list (json) or NDJSON text (jsonl).

        The server sends the export as one reply, so a collection of more
        than about 16 MiB is refused with a ServerError; page through it with
        ``client.list`` or an SDBQL query instead.
        """
        return self._executor.run(self._ops.export(collection, format))

    def import_data(
        self,
        collection: str,
        data: Union[str, bytes, Iterable[Mapping[str, Any]]],
        format: str = "json",
    ) -> int:
        """Insert exported documents (keys kept); returns how many were imported.

        The collection is created when it does not exist. Documents whose key
        exists already make the import fail. Imports larger than about 8 MiB
        go in several frames, each atomic on its own.
        """
        return self._executor.run(self._ops.import_data(collection, data, format))


class AsyncCollectionsMgmtClient(AsyncFacade[CollectionsMgmtOps]):
    """Collection maintenance in the current database."""

    async def truncate(self, collection: str) -> None:
        """Delete every document of the collection, keeping its indexes and schema."""
        return await self._executor.run(self._ops.truncate(collection))

    async def compact(self, collection: str) -> None:
        """Reclaim disk space of deleted and overwritten documents."""
        return await self._executor.run(self._ops.compact(collection))

    async def repair(self, collection: str) -> JSON:
        """Fix what can drift out of step; returns ``{"status": "repaired", "report"}``.

        For a sharded collection that is the server's shard repair (duplicate
        and misplaced documents). The server refuses that for an unsharded
        collection ("Missing shard config"), whose own bookkeeping is its
        cached document count and its index entries, so there the cached
        count is recalculated and the indexes are rebuilt instead; the result
        then also carries ``document_count``.
        """
        return await self._executor.run(self._ops.repair(collection))

    async def stats(self, collection: str) -> JSON:
        """Document count and disk usage of the collection."""
        return await self._executor.run(self._ops.stats(collection))

    async def set_schema(
        self,
        collection: str,
        schema: Mapping[str, Any],
        *,
        validation_mode: str = "strict",
    ) -> None:
        """Validate documents against a JSON Schema from now on.

        ``"strict"`` refuses invalid documents (SchemaValidationError),
        ``"lenient"`` stores them and logs a warning, ``"off"`` keeps the
        schema without enforcing it.
        """
        return await self._executor.run(self._ops.set_schema(
            collection,
            schema,
            validation_mode=validation_mode,
        ))

    async def get_schema(self, collection: str) -> Optional[JSON]:
        """``{"name", "schema", "validation_mode"}``, or None when there is no schema."""
        return await self._executor.run(self._ops.get_schema(collection))

    async def delete_schema(self, collection: str) -> None:
        """Stop validating the collection's documents."""
        return await self._executor.run(self._ops.delete_schema(collection))

    async def export(self, collection: str, format: str = "json") -> Union[List[JSON], str]:
        """Every document, system fields included: a list (json) or NDJSON text (jsonl).

        The server sends the export as one reply, so a collection of more
        than about 16 MiB is refused with a ServerError; page through it with
        ``client.list`` or an SDBQL query instead.
        """
        return await self._executor.run(self._ops.export(collection, format))

    async def import_data(
        self,
        collection: str,
        data: Union[str, bytes, Iterable[Mapping[str, Any]]],
        format: str = "json",
    ) -> int:
        """Insert exported documents (keys kept); returns how many were imported.

        The collection is created when it does not exist. Documents whose key
        exists already make the import fail. Imports larger than about 8 MiB
        go in several frames, each atomic on its own.
        """
        return await self._executor.run(self._ops.import_data(collection, data, format))
