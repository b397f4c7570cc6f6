"""The SDK reference's client methods as operations: what is sent and what comes back.

``Client`` and ``AsyncClient`` run these; each public method of theirs is one
line over the operation of the same name here (see ``facade.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, List

from .. import exceptions as exc
from .. import protocol
from ..ops import AUTO, Command, HttpRequest, Op, call, current_transaction, data, http
from . import routing, triggered
from .facade import AsyncFacade, SyncFacade
from .http import path as http_path
from .routing import ISOLATION_LEVELS
from .state import ClientState

JSON = dict[str, Any]

#: Bulk inserts are split so that no frame comes near the 16 MiB limit.
BULK_CHUNK_BYTES = 8 * 1024 * 1024


def _document(document: Any) -> JSON:
    if not isinstance(document, Mapping):
        raise exc.ValidationError(
            f"a document must be a mapping (a dict), got {type(document).__name__}"
        )
    return dict(document)


class ClientOps:
    """Operations for every core method of the low-level client."""

    # The facade generator wraps each method that returns ``Op[...]`` here.
    __facades__ = ("SyncClientMethods", "AsyncClientMethods")

    def __init__(self, state: ClientState) -> None:
        self._state = state

    # -- any command -------------------------------------------------------------

    def command(self, cmd: str, **fields: Any) -> Op[protocol.Reply]:
        """Send any driver command by name (fields set to None are left out); its reply.

        The escape hatch for commands this client has no method for. It runs
        in the caller's transaction like the methods do, and is sent again on
        a fresh connection only when the command is known to change nothing.
        """
        message = protocol.command(cmd, **fields)
        return (yield from call(Command(message, routing.retryable(message), AUTO)))

    # -- server ----------------------------------------------------------------

    def ping(self) -> Op[float]:
        """Round-trip latency to the server, in milliseconds."""
        started = time.perf_counter()
        yield from call(Command.of("ping", retry=True, tx=None))
        return (time.perf_counter() - started) * 1000.0

    # -- databases and collections -----------------------------------------------

    def list_databases(self) -> Op[List[str]]:
        return list((yield from data("list_databases", retry=True)) or [])

    def create_database(self, name: str) -> Op[None]:
        yield from data("create_database", name=name)

    def delete_database(self, name: str) -> Op[None]:
        yield from data("delete_database", name=name)

    def list_collections(self, database: str) -> Op[List[JSON]]:
        """Collections as ``{"name", "type"}`` maps, as the reference documents.

        The driver lists names only and no driver command reveals a
        collection's type (solidb 2.6.0), so the types come from the HTTP
        listing on the same port. A collection created or dropped between the
        two calls is left out, as if the listing had been taken a moment earlier.
        """
        names = list((yield from data("list_collections", retry=True, database=database)) or [])
        if not names:
            return []
        response = yield from http(
            HttpRequest("GET", http_path("_api", "database", database, "collection"))
        )
        body = response.body
        listed = body.get("collections") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            raise exc.ProtocolError(f"unexpected collection listing from HTTP: {body!r:.200}")
        types = {
            str(item["name"]): str(item.get("type") or "document")
            for item in listed
            if isinstance(item, dict) and "name" in item
        }
        return [{"name": name, "type": types[name]} for name in names if name in types]

    def create_collection(
        self, database: str, name: str, col_type: str | None = None, *, type: str | None = None
    ) -> Op[None]:
        """Create a collection; ``col_type="edge"`` makes an edge collection."""
        yield from data("create_collection", database=database, name=name, type=col_type or type)

    def delete_collection(self, database: str, name: str) -> Op[None]:
        yield from data("delete_collection", database=database, name=name)

    def collection_stats(self, database: str, name: str) -> Op[JSON]:
        return dict((yield from data("collection_stats", retry=True, database=database,
                                     name=name)) or {})

    # -- documents -------------------------------------------------------------------

    def insert(
        self, database: str, collection: str, document: Mapping[str, Any], key: str | None = None
    ) -> Op[JSON]:
        """Insert and return the stored document, with its ``_key``.

        Inside a transaction the document is staged and returned as it will
        be stored once the transaction commits.
        """
        body = _document(document)
        protocol.check_document(body)
        watched = triggered.cached(self._state, database, collection)
        if watched is None:
            watched = yield from triggered.watching(self._state, database, collection)
        if watched and not (yield from triggered.in_transaction_op(
                self._state, database, collection, watched)):
            return (yield from triggered.http_insert(database, collection, body, key))
        return dict((yield from data("insert", database=database, collection=collection,
                                     key=key, document=body)) or {})

    def get(self, database: str, collection: str, key: str) -> Op[JSON]:
        return dict((yield from data("get", retry=True, database=database,
                                     collection=collection, key=key)))

    def update(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> Op[None]:
        """Merge ``document`` into the stored one, or replace it with ``merge=False``."""
        yield from self.update_returning(database, collection, key, document, merge)

    def update_returning(
        self, database: str, collection: str, key: str, document: Mapping[str, Any],
        merge: bool = True,
    ) -> Op[JSON]:
        """:meth:`update`, returning the stored document (the server answers with it)."""
        if not merge:
            return (yield from self.replace(database, collection, key, document))
        body = _document(document)
        protocol.check_document(body)
        watched = triggered.cached(self._state, database, collection)
        if watched is None:
            watched = yield from triggered.watching(self._state, database, collection)
        if watched and not (yield from triggered.in_transaction_op(
                self._state, database, collection, watched)):
            return (yield from triggered.http_update(database, collection, key, body))
        return dict((yield from data("update", database=database, collection=collection,
                                     key=key, document=body, merge=True)) or {})

    def replace(
        self, database: str, collection: str, key: str, document: Mapping[str, Any]
    ) -> Op[JSON]:
        """Replace the whole document, keeping its key; returns the stored document.

        The server's ``update`` merges even with ``merge=false`` (solidb 2.6.0),
        so a replace is a delete and an insert of the same key in one
        transaction: atomic, and NotFoundError when there is nothing to replace.
        Inside the caller's transaction both are staged in it; if the insert is
        then refused, the staged delete stays in that transaction, which the
        caller rolls back on the error.
        """
        body = _document(document)
        protocol.check_document(body)
        watched = triggered.cached(self._state, database, collection)
        if watched is None:
            watched = yield from triggered.watching(self._state, database, collection)
        if watched and not (yield from triggered.in_transaction_op(
                self._state, database, collection, watched)):
            # The HTTP replace is atomic on its own and fires the update triggers.
            return (yield from triggered.http_update(database, collection, key, body,
                                                     replace=True))
        if (yield from current_transaction()) is not None:
            yield from data("delete", database=database, collection=collection, key=key)
            return dict((yield from data("insert", database=database, collection=collection,
                                         key=key, document=body)) or {})
        begun = yield from call(Command.of("begin_transaction", tx=None, database=database))
        tx_id = begun.tx_id
        if not tx_id:
            raise exc.ProtocolError("begin_transaction answered without a tx_id")
        fields = {"database": database, "collection": collection, "key": key}
        # One round trip for both; a refused delete voids the insert because
        # the transaction is then rolled back, not committed.
        try:
            batch = yield from call(Command.of(
                "batch", tx=tx_id,
                commands=[protocol.command("delete", **fields),
                          protocol.command("insert", **fields, document=body)],
            ))
            results = [protocol.interpret(r) for r in batch.responses]
        except exc.SoliDBError:
            yield from call(Command.of("rollback_transaction", tx=tx_id, tx_id=tx_id))
            raise
        yield from call(Command.of("commit_transaction", tx=tx_id, tx_id=tx_id))
        return dict(results[-1].data or {})

    def delete(self, database: str, collection: str, key: str) -> Op[None]:
        watched = triggered.cached(self._state, database, collection)
        if watched is None:
            watched = yield from triggered.watching(self._state, database, collection)
        if watched and not (yield from triggered.in_transaction_op(
                self._state, database, collection, watched)):
            return (yield from triggered.http_delete(database, collection, key))
        yield from data("delete", database=database, collection=collection, key=key)

    def list(
        self, database: str, collection: str, limit: int = 50, offset: int = 0
    ) -> Op[List[JSON]]:
        """One page of documents, in key order."""
        return (yield from self.list_page(database, collection, limit, offset))[0]

    def list_documents(
        self, database: str, collection: str, limit: int = 50, offset: int = 0
    ) -> Op[List[JSON]]:
        """The official SDK's name for :meth:`list`."""
        return (yield from self.list(database, collection, limit, offset))

    def list_page(
        self, database: str, collection: str, limit: int = 50, offset: int = 0
    ) -> Op[tuple[List[JSON], int]]:
        """One page of documents and the collection's total document count."""
        if limit < 0 or offset < 0:
            raise exc.ValidationError("limit and offset must not be negative")
        reply = yield from call(Command.of("list", retry=True, database=database,
                                           collection=collection, limit=limit, offset=offset))
        return list(reply.data or []), int(reply.count or 0)

    def bulk_insert(
        self, database: str, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> Op[int]:
        """Insert many documents; returns how many were inserted.

        Each frame is all-or-nothing on the server; frames are cut at about
        8 MiB, so a larger call is atomic per frame, not as a whole. Inside a
        transaction the documents are staged in it instead (one round trip).
        """
        # every frame's documents, before the first frame goes
        docs = protocol.check_documents([dict(d) for d in documents])
        watched = triggered.cached(self._state, database, collection)
        if watched is None:
            watched = yield from triggered.watching(self._state, database, collection)
        if watched and not (yield from triggered.in_transaction_op(
                self._state, database, collection, watched)):
            return (yield from self._insert_each_over_http(database, collection, docs))
        if (yield from current_transaction()) is not None:
            commands = [
                protocol.command("insert", database=database, collection=collection, document=d)
                for d in docs
            ]
            for reply in (yield from self.batch(commands)):
                if isinstance(reply, exc.SoliDBError):
                    raise reply
            return len(docs)
        if not docs:
            return 0
        total = 0
        for chunk in protocol.chunks_by_size(docs, BULK_CHUNK_BYTES):
            reply = yield from call(Command.of("bulk_insert", database=database,
                                               collection=collection, documents=chunk))
            total += int(reply.count or 0)
        return total

    def _insert_each_over_http(self, database: str, collection: str, docs: List[JSON]
                               ) -> Op[int]:
        """``bulk_insert`` into a collection with triggers: one HTTP insert per document.

        That fires the triggers but is not all-or-nothing per frame: when one
        insert fails, the documents before it stay, and the error says how many.
        """
        for done, doc in enumerate(docs):
            try:
                yield from triggered.http_insert(database, collection, doc, None)
            except exc.SoliDBError as err:
                err.add_note(f"{done} of {len(docs)} documents were inserted before this one "
                             f"(one HTTP insert each: {collection!r} has triggers)")
                raise
        return len(docs)

    def batch(
        self, commands: Sequence[Mapping[str, Any]], *, tx_id: str | None = None
    ) -> Op[List[protocol.Reply | exc.SoliDBError]]:
        """Run several commands in one round trip, in order, not atomically.

        Returns one item per command: its ``Reply``, or the error it raised.
        Inside a transaction (the caller's, or the one named by ``tx_id``)
        document writes are staged in it. Outside one, writes to collections
        with triggers go over HTTP (which fires them), in their place in the order.
        """
        plan = yield from triggered.batch_plan(self._state, commands)
        if any(plan):
            in_tx = tx_id is not None or (yield from current_transaction()) is not None
            if in_tx:
                for command, watched in zip(commands, plan, strict=True):
                    if watched:
                        triggered.not_fired(self._state, str(command["collection"]), watched,
                                            "a write inside a transaction")
            else:
                return (yield from self._batch_routed(commands, plan))
        return (yield from self._batch_driver(commands, tx_id))

    def _batch_routed(self, commands: Sequence[Mapping[str, Any]],
                      plan: List[tuple[str, ...]]) -> Op[List[protocol.Reply | exc.SoliDBError]]:
        """A batch outside transactions whose writes to collections with triggers go over HTTP."""
        results: List[protocol.Reply | exc.SoliDBError] = []
        pending: List[Mapping[str, Any]] = []
        for command, watched in zip(commands, plan, strict=True):
            if not watched:
                pending.append(command)
                continue
            if pending:
                results.extend((yield from self._batch_driver(pending, None)))
                pending = []
            if command["cmd"] == "bulk_insert":
                docs = [dict(d) for d in command.get("documents") or []]
                try:
                    count = yield from self._insert_each_over_http(
                        command["database"], command["collection"], docs)
                    results.append(protocol.Reply(status="ok", count=count))
                except exc.SoliDBError as err:
                    results.append(err)
                continue
            try:
                results.append((yield from triggered.http_write(command)))
            except exc.SoliDBError as err:
                results.append(err)
        if pending:
            results.extend((yield from self._batch_driver(pending, None)))
        return results

    def _batch_driver(
        self, commands: Sequence[Mapping[str, Any]], tx_id: str | None
    ) -> Op[List[protocol.Reply | exc.SoliDBError]]:
        message = protocol.command("batch", commands=[dict(c) for c in commands])
        reply = yield from call(Command(message, False, tx_id if tx_id is not None else AUTO))
        results: List[protocol.Reply | exc.SoliDBError] = []
        for response in reply.responses:
            try:
                results.append(protocol.interpret(response))
            except exc.SoliDBError as err:
                results.append(err)
        return results

    # -- queries -------------------------------------------------------------------------

    def query(
        self, database: str, sdbql: str, bind_vars: Mapping[str, Any] | None = None
    ) -> Op[List[Any]]:
        """Run SDBQL with bind variables and return the result rows.

        An SDBQL write does not fire triggers (solidb 2.6.0): one that names a
        collection with triggers warns first (see ``triggered.py``).
        """
        yield from triggered.check_sdbql(self._state, database, sdbql)
        reply = yield from call(Command.of("query", database=database, sdbql=sdbql,
                                           bind_vars=dict(bind_vars) if bind_vars else None))
        return list(reply.data or [])

    def explain(
        self, database: str, sdbql: str, bind_vars: Mapping[str, Any] | None = None
    ) -> Op[JSON]:
        return dict((yield from data("explain", retry=True, database=database, sdbql=sdbql,
                                     bind_vars=dict(bind_vars) if bind_vars else None)) or {})

    # -- transactions ----------------------------------------------------------------------

    def begin_transaction(
        self,
        database: str,
        isolation: str | None = None,
        *,
        isolation_level: str | None = None,
    ) -> Op[str]:
        """Start a transaction and return its id.

        Until it is committed or rolled back, the inserts, updates, deletes
        and queries made through this client in the caller's context (this
        thread, this asyncio task and the tasks it starts) run inside it, on
        one connection kept for it. Other threads and tasks are not affected.
        """
        level_name = isolation or isolation_level or "read_committed"
        level = ISOLATION_LEVELS.get(level_name)
        if level is None:
            raise exc.ValidationError(
                f"unknown isolation level {level_name!r}; use one of {sorted(ISOLATION_LEVELS)}"
            )
        reply = yield from call(Command.of("begin_transaction", database=database,
                                           isolation_level=level))
        if not reply.tx_id:
            raise exc.ProtocolError("begin_transaction answered without a tx_id")
        return reply.tx_id

    def commit_transaction(self, tx_id: str) -> Op[None]:
        yield from call(Command.of("commit_transaction", tx=tx_id, tx_id=tx_id))

    def rollback_transaction(self, tx_id: str) -> Op[None]:
        yield from call(Command.of("rollback_transaction", tx=tx_id, tx_id=tx_id))

    # -- indexes ---------------------------------------------------------------------------

    def create_index(
        self,
        database: str,
        collection: str,
        name: str,
        fields: Sequence[str],
        unique: bool = False,
        sparse: bool = False,
    ) -> Op[JSON]:
        return dict((yield from data("create_index", database=database, collection=collection,
                                     name=name, fields=list(fields), unique=unique,
                                     sparse=sparse)) or {})

    def list_indexes(self, database: str, collection: str) -> Op[List[JSON]]:
        return list((yield from data("list_indexes", retry=True, database=database,
                                     collection=collection)) or [])

    def delete_index(self, database: str, collection: str, name: str) -> Op[None]:
        yield from data("delete_index", database=database, collection=collection, name=name)


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class SyncClientMethods(SyncFacade[ClientOps]):
    """Operations for every core method of the low-level client."""

    def command(self, cmd: str, **fields: Any) -> protocol.Reply:
        """Send any driver command by name (fields set to None are left out); its reply.

        The escape hatch for commands this client has no method for. It runs
        in the caller's transaction like the methods do, and is sent again on
        a fresh connection only when the command is known to change nothing.
        """
        return self._executor.run(self._ops.command(cmd, **fields))

    def ping(self) -> float:
        """Round-trip latency to the server, in milliseconds."""
        return self._executor.run(self._ops.ping())

    def list_databases(self) -> List[str]:
        return self._executor.run(self._ops.list_databases())

    def create_database(self, name: str) -> None:
        return self._executor.run(self._ops.create_database(name))

    def delete_database(self, name: str) -> None:
        return self._executor.run(self._ops.delete_database(name))

    def list_collections(self, database: str) -> List[JSON]:
        """Collections as ``{"name", "type"}`` maps, as the reference documents.

        The driver lists names only and no driver command reveals a
        collection's type (solidb 2.6.0), so the types come from the HTTP
        listing on the same port. A collection created or dropped between the
        two calls is left out, as if the listing had been taken a moment earlier.
        """
        return self._executor.run(self._ops.list_collections(database))

    def create_collection(
        self,
        database: str,
        name: str,
        col_type: str | None = None,
        *,
        type: str | None = None,
    ) -> None:
        """Create a collection; ``col_type="edge"`` makes an edge collection."""
        return self._executor.run(self._ops.create_collection(database, name, col_type, type=type))

    def delete_collection(self, database: str, name: str) -> None:
        return self._executor.run(self._ops.delete_collection(database, name))

    def collection_stats(self, database: str, name: str) -> JSON:
        return self._executor.run(self._ops.collection_stats(database, name))

    def insert(
        self,
        database: str,
        collection: str,
        document: Mapping[str, Any],
        key: str | None = None,
    ) -> JSON:
        """Insert and return the stored document, with its ``_key``.

        Inside a transaction the document is staged and returned as it will
        be stored once the transaction commits.
        """
        return self._executor.run(self._ops.insert(database, collection, document, key))

    def get(self, database: str, collection: str, key: str) -> JSON:
        return self._executor.run(self._ops.get(database, collection, key))

    def update(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> None:
        """Merge ``document`` into the stored one, or replace it with ``merge=False``."""
        return self._executor.run(self._ops.update(database, collection, key, document, merge))

    def update_returning(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> JSON:
        """:meth:`update`, returning the stored document (the server answers with it)."""
        return self._executor.run(self._ops.update_returning(
            database,
            collection,
            key,
            document,
            merge,
        ))

    def replace(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
    ) -> JSON:
        """Replace the whole document, keeping its key; returns the stored document.

        The server's ``update`` merges even with ``merge=false`` (solidb 2.6.0),
        so a replace is a delete and an insert of the same key in one
        transaction: atomic, and NotFoundError when there is nothing to replace.
        Inside the caller's transaction both are staged in it; if the insert is
        then refused, the staged delete stays in that transaction, which the
        caller rolls back on the error.
        """
        return self._executor.run(self._ops.replace(database, collection, key, document))

    def delete(self, database: str, collection: str, key: str) -> None:
        return self._executor.run(self._ops.delete(database, collection, key))

    def list(self, database: str, collection: str, limit: int = 50, offset: int = 0) -> List[JSON]:
        """One page of documents, in key order."""
        return self._executor.run(self._ops.list(database, collection, limit, offset))

    def list_documents(
        self,
        database: str,
        collection: str,
        limit: int = 50,
        offset: int = 0,
    ) -> List[JSON]:
        """The official SDK's name for :meth:`list`."""
        return self._executor.run(self._ops.list_documents(database, collection, limit, offset))

    def list_page(
        self,
        database: str,
        collection: str,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[List[JSON], int]:
        """One page of documents and the collection's total document count."""
        return self._executor.run(self._ops.list_page(database, collection, limit, offset))

    def bulk_insert(
        self,
        database: str,
        collection: str,
        documents: Iterable[Mapping[str, Any]],
    ) -> int:
        """Insert many documents; returns how many were inserted.

        Each frame is all-or-nothing on the server; frames are cut at about
        8 MiB, so a larger call is atomic per frame, not as a whole. Inside a
        transaction the documents are staged in it instead (one round trip).
        """
        return self._executor.run(self._ops.bulk_insert(database, collection, documents))

    def batch(
        self,
        commands: Sequence[Mapping[str, Any]],
        *,
        tx_id: str | None = None,
    ) -> List[protocol.Reply | exc.SoliDBError]:
        """Run several commands in one round trip, in order, not atomically.

        Returns one item per command: its ``Reply``, or the error it raised.
        Inside a transaction (the caller's, or the one named by ``tx_id``)
        document writes are staged in it. Outside one, writes to collections
        with triggers go over HTTP (which fires them), in their place in the order.
        """
        return self._executor.run(self._ops.batch(commands, tx_id=tx_id))

    def query(
        self,
        database: str,
        sdbql: str,
        bind_vars: Mapping[str, Any] | None = None,
    ) -> List[Any]:
        """Run SDBQL with bind variables and return the result rows.

        An SDBQL write does not fire triggers (solidb 2.6.0): one that names a
        collection with triggers warns first (see ``triggered.py``).
        """
        return self._executor.run(self._ops.query(database, sdbql, bind_vars))

    def explain(
        self,
        database: str,
        sdbql: str,
        bind_vars: Mapping[str, Any] | None = None,
    ) -> JSON:
        return self._executor.run(self._ops.explain(database, sdbql, bind_vars))

    def begin_transaction(
        self,
        database: str,
        isolation: str | None = None,
        *,
        isolation_level: str | None = None,
    ) -> str:
        """Start a transaction and return its id.

        Until it is committed or rolled back, the inserts, updates, deletes
        and queries made through this client in the caller's context (this
        thread, this asyncio task and the tasks it starts) run inside it, on
        one connection kept for it. Other threads and tasks are not affected.
        """
        return self._executor.run(self._ops.begin_transaction(
            database,
            isolation,
            isolation_level=isolation_level,
        ))

    def commit_transaction(self, tx_id: str) -> None:
        return self._executor.run(self._ops.commit_transaction(tx_id))

    def rollback_transaction(self, tx_id: str) -> None:
        return self._executor.run(self._ops.rollback_transaction(tx_id))

    def create_index(
        self,
        database: str,
        collection: str,
        name: str,
        fields: Sequence[str],
        unique: bool = False,
        sparse: bool = False,
    ) -> JSON:
        return self._executor.run(self._ops.create_index(
            database,
            collection,
            name,
            fields,
            unique,
            sparse,
        ))

    def list_indexes(self, database: str, collection: str) -> List[JSON]:
        return self._executor.run(self._ops.list_indexes(database, collection))

    def delete_index(self, database: str, collection: str, name: str) -> None:
        return self._executor.run(self._ops.delete_index(database, collection, name))


class AsyncClientMethods(AsyncFacade[ClientOps]):
    """Operations for every core method of the low-level client."""

    async def command(self, cmd: str, **fields: Any) -> protocol.Reply:
        """Send any driver command by name (fields set to None are left out); its reply.

        The escape hatch for commands this client has no method for. It runs
        in the caller's transaction like the methods do, and is sent again on
        a fresh connection only when the command is known to change nothing.
        """
        return await self._executor.run(self._ops.command(cmd, **fields))

    async def ping(self) -> float:
        """Round-trip latency to the server, in milliseconds."""
        return await self._executor.run(self._ops.ping())

    async def list_databases(self) -> List[str]:
        return await self._executor.run(self._ops.list_databases())

    async def create_database(self, name: str) -> None:
        return await self._executor.run(self._ops.create_database(name))

    async def delete_database(self, name: str) -> None:
        return await self._executor.run(self._ops.delete_database(name))

    async def list_collections(self, database: str) -> List[JSON]:
        """Collections as ``{"name", "type"}`` maps, as the reference documents.

        The driver lists names only and no driver command reveals a
        collection's type (solidb 2.6.0), so the types come from the HTTP
        listing on the same port. A collection created or dropped between the
        two calls is left out, as if the listing had been taken a moment earlier.
        """
        return await self._executor.run(self._ops.list_collections(database))

    async def create_collection(
        self,
        database: str,
        name: str,
        col_type: str | None = None,
        *,
        type: str | None = None,
    ) -> None:
        """Create a collection; ``col_type="edge"`` makes an edge collection."""
        return await self._executor.run(self._ops.create_collection(
            database,
            name,
            col_type,
            type=type,
        ))

    async def delete_collection(self, database: str, name: str) -> None:
        return await self._executor.run(self._ops.delete_collection(database, name))

    async def collection_stats(self, database: str, name: str) -> JSON:
        return await self._executor.run(self._ops.collection_stats(database, name))

    async def insert(
        self,
        database: str,
        collection: str,
        document: Mapping[str, Any],
        key: str | None = None,
    ) -> JSON:
        """Insert and return the stored document, with its ``_key``.

        Inside a transaction the document is staged and returned as it will
        be stored once the transaction commits.
        """
        return await self._executor.run(self._ops.insert(database, collection, document, key))

    async def get(self, database: str, collection: str, key: str) -> JSON:
        return await self._executor.run(self._ops.get(database, collection, key))

    async def update(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> None:
        """Merge ``document`` into the stored one, or replace it with ``merge=False``."""
        return await self._executor.run(self._ops.update(
            database,
            collection,
            key,
            document,
            merge,
        ))

    async def update_returning(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
        merge: bool = True,
    ) -> JSON:
        """:meth:`update`, returning the stored document (the server answers with it)."""
        return await self._executor.run(self._ops.update_returning(
            database,
            collection,
            key,
            document,
            merge,
        ))

    async def replace(
        self,
        database: str,
        collection: str,
        key: str,
        document: Mapping[str, Any],
    ) -> JSON:
        """Replace the whole document, keeping its key; returns the stored document.

        The server's ``update`` merges even with ``merge=false`` (solidb 2.6.0),
        so a replace is a delete and an insert of the same key in one
        transaction: atomic, and NotFoundError when there is nothing to replace.
        Inside the caller's transaction both are staged in it; if the insert is
        then refused, the staged delete stays in that transaction, which the
        caller rolls back on the error.
        """
        return await self._executor.run(self._ops.replace(database, collection, key, document))

    async def delete(self, database: str, collection: str, key: str) -> None:
        return await self._executor.run(self._ops.delete(database, collection, key))

    async def list(
        self,
        database: str,
        collection: str,
        limit: int = 50,
        offset: int = 0,
    ) -> List[JSON]:
        """One page of documents, in key order."""
        return await self._executor.run(self._ops.list(database, collection, limit, offset))

    async def list_documents(
        self,
        database: str,
        collection: str,
        limit: int = 50,
        offset: int = 0,
    ) -> List[JSON]:
        """The official SDK's name for :meth:`list`."""
        return await self._executor.run(self._ops.list_documents(
            database,
            collection,
            limit,
            offset,
        ))

    async def list_page(
        self,
        database: str,
        collection: str,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[List[JSON], int]:
        """One page of documents and the collection's total document count."""
        return await self._executor.run(self._ops.list_page(database, collection, limit, offset))

    async def bulk_insert(
        self,
        database: str,
        collection: str,
        documents: Iterable[Mapping[str, Any]],
    ) -> int:
        """Insert many documents; returns how many were inserted.

        Each frame is all-or-nothing on the server; frames are cut at about
        8 MiB, so a larger call is atomic per frame, not as a whole. Inside a
        transaction the documents are staged in it instead (one round trip).
        """
        return await self._executor.run(self._ops.bulk_insert(database, collection, documents))

    async def batch(
        self,
        commands: Sequence[Mapping[str, Any]],
        *,
        tx_id: str | None = None,
    ) -> List[protocol.Reply | exc.SoliDBError]:
        """Run several commands in one round trip, in order, not atomically.

        Returns one item per command: its ``Reply``, or the error it raised.
        Inside a transaction (the caller's, or the one named by ``tx_id``)
        document writes are staged in it. Outside one, writes to collections
        with triggers go over HTTP (which fires them), in their place in the order.
        """
        return await self._executor.run(self._ops.batch(commands, tx_id=tx_id))

    async def query(
        self,
        database: str,
        sdbql: str,
        bind_vars: Mapping[str, Any] | None = None,
    ) -> List[Any]:
        """Run SDBQL with bind variables and return the result rows.

        An SDBQL write does not fire triggers (solidb 2.6.0): one that names a
        collection with triggers warns first (see ``triggered.py``).
        """
        return await self._executor.run(self._ops.query(database, sdbql, bind_vars))

    async def explain(
        self,
        database: str,
        sdbql: str,
        bind_vars: Mapping[str, Any] | None = None,
    ) -> JSON:
        return await self._executor.run(self._ops.explain(database, sdbql, bind_vars))

    async def begin_transaction(
        self,
        database: str,
        isolation: str | None = None,
        *,
        isolation_level: str | None = None,
    ) -> str:
        """Start a transaction and return its id.

        Until it is committed or rolled back, the inserts, updates, deletes
        and queries made through this client in the caller's context (this
        thread, this asyncio task and the tasks it starts) run inside it, on
        one connection kept for it. Other threads and tasks are not affected.
        """
        return await self._executor.run(self._ops.begin_transaction(
            database,
            isolation,
            isolation_level=isolation_level,
        ))

    async def commit_transaction(self, tx_id: str) -> None:
        return await self._executor.run(self._ops.commit_transaction(tx_id))

    async def rollback_transaction(self, tx_id: str) -> None:
        return await self._executor.run(self._ops.rollback_transaction(tx_id))

    async def create_index(
        self,
        database: str,
        collection: str,
        name: str,
        fields: Sequence[str],
        unique: bool = False,
        sparse: bool = False,
    ) -> JSON:
        return await self._executor.run(self._ops.create_index(
            database,
            collection,
            name,
            fields,
            unique,
            sparse,
        ))

    async def list_indexes(self, database: str, collection: str) -> List[JSON]:
        return await self._executor.run(self._ops.list_indexes(database, collection))

    async def delete_index(self, database: str, collection: str, name: str) -> None:
        return await self._executor.run(self._ops.delete_index(database, collection, name))
