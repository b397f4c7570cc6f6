"""``client.ttl``: indexes that expire documents a fixed time after a timestamp field.

A document expires once ``field + expire_after_seconds <= now`` (server
time), where ``field`` holds Unix seconds (a non-negative integer) or an
RFC 3339 string; documents without such a value never expire.

The server sweeps expired documents every 60 seconds, using expiry entries it
computes when a document is written while the index exists. So documents
written before an index was created, or before ``update_expiration``
re-created it, are not swept until rewritten; :meth:`TTLClient.run_cleanup`
removes them, since it reads the rule, not the entries. Neither the driver nor
HTTP has a cleanup command or a way to change an index on solidb 2.6.0:
``run_cleanup`` is one SDBQL ``REMOVE`` of what the rule says has expired, and
``update_expiration`` drops and re-creates the index in one batch.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ... import names, protocol
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from . import _checks as check
from ._base import SubOps

JSON = Dict[str, Any]

#: The server stores the period as an unsigned 64-bit number of seconds.
MAX_SECONDS = 2**63 - 1
#: What ``chrono::DateTime::parse_from_rfc3339`` accepts, the only strings the
#: server's sweep reads as a time.
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _seconds(value: Any) -> int:
    return check.integer(value, "expire_after_seconds", maximum=MAX_SECONDS)


def cleanup_query(collection: str, indexes: List[JSON]) -> Tuple[str, JSON]:
    """SDBQL removing the documents that any of ``indexes`` says have expired.

    Mirrors the server's sweep: integer Unix seconds or an RFC 3339 string,
    truncated to whole seconds, against the server's clock.
    """
    name = names.collection_name(collection)
    variables: JSON = {"rfc3339": RFC3339}
    conditions = []
    for i, index in enumerate(indexes):
        value = names.field_access("d", tuple(str(index["field"]).split(".")))
        variables[f"after{i}"] = int(index["expire_after_seconds"])
        conditions.append(
            f"(IS_NUMBER({value}) AND {value} >= 0 AND {value} == FLOOR({value})"
            f" ? {value} + @after{i} <= now"
            f" : (IS_STRING({value}) AND REGEX_TEST({value}, @rfc3339)"
            f" ? FLOOR(DATE_TIMESTAMP({value}) / 1000) >= 0"
            f" AND FLOOR(DATE_TIMESTAMP({value}) / 1000) + @after{i} <= now : false))"
        )
    sdbql = (
        "LET now = FLOOR(DATE_NOW() / 1000) "
        f"FOR d IN {name} FILTER {' OR '.join(conditions)} "
        f"REMOVE d IN {name} RETURN 1"
    )
    return sdbql, variables


class TTLOps(SubOps):
    """TTL indexes of the current database's collections."""

    __facades__ = ("TTLClient", "AsyncTTLClient")

    def create_index(
        self, collection: str, name: str, field: str, expire_after_seconds: int
    ) -> Op[JSON]:
        """Expire documents ``expire_after_seconds`` after the time in ``field``; returns the index."""
        db = self._db
        collection = check.collection(collection)
        name = check.text(name, "name")
        _, listed = check.all_ok((yield from self._batch([
            protocol.command("create_ttl_index", database=db, collection=collection, name=name,
                             field=check.text(field, "field"),
                             expire_after_seconds=_seconds(expire_after_seconds)),
            protocol.command("list_ttl_indexes", database=db, collection=collection),
        ])))
        return check.pick(listed.data or [], name, "TTL index")

    def update_expiration(
        self, collection: str, name: str, expire_after_seconds: int
    ) -> Op[JSON]:
        """Change an index's period; returns the index.

        The server cannot alter an index, so it is dropped and re-created in
        one batch. Existing documents then expire through :meth:`run_cleanup`
        (the server's sweep only knows documents written from now on).
        """
        db = self._db
        collection = check.collection(collection)
        seconds = _seconds(expire_after_seconds)
        current = yield from self.get_index_info(collection, name)
        replies = yield from self._batch([
            protocol.command("delete_ttl_index", database=db, collection=collection, name=name),
            protocol.command("create_ttl_index", database=db, collection=collection, name=name,
                             field=current["field"], expire_after_seconds=seconds),
            protocol.command("list_ttl_indexes", database=db, collection=collection),
        ])
        dropped, created = replies[0], replies[1]
        if isinstance(created, Exception) and not isinstance(dropped, Exception):
            # Put the old index back rather than leave the collection without one.
            yield from self._call("create_ttl_index", database=db, collection=collection,
                                  name=name, field=current["field"],
                                  expire_after_seconds=current["expire_after_seconds"])
        listed = check.all_ok(replies)[2]
        return check.pick(listed.data or [], name, "TTL index")

    def get_index_info(self, collection: str, name: str) -> Op[JSON]:
        """One index: ``{name, field, expire_after_seconds}``; NotFoundError if absent."""
        return check.pick((yield from self.list_indexes(collection)), check.text(name, "name"),
                          "TTL index")

    def run_cleanup(self, collection: str) -> Op[JSON]:
        """Remove the expired documents now; returns ``{"deleted": n}``."""
        db = self._db
        indexes = yield from self.list_indexes(collection)
        if not indexes:
            return {"deleted": 0}
        sdbql, variables = cleanup_query(collection, indexes)
        return {"deleted": len((yield from self._sdbql(db, sdbql, variables)))}

    def list_indexes(self, collection: str) -> Op[List[JSON]]:
        """The collection's TTL indexes."""
        return list((yield from self._data("list_ttl_indexes", retry=True, database=self._db,
                                           collection=check.collection(collection))) or [])

    def delete_index(self, collection: str, name: str) -> Op[None]:
        """Drop a TTL index; NotFoundError if there is none of that name."""
        yield from self._call("delete_ttl_index", database=self._db,
                              collection=check.collection(collection),
                              name=check.text(name, "name"))


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class TTLClient(SyncFacade[TTLOps]):
    """TTL indexes of the current database's collections."""

    def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        expire_after_seconds: int,
    ) -> JSON:
        """Expire documents ``expire_after_seconds`` after the time in ``field``; returns the index."""
        return self._executor.run(self._ops.create_index(
            collection,
            name,
            field,
            expire_after_seconds,
        ))

    def update_expiration(self, collection: str, name: str, expire_after_seconds: int) -> JSON:
        """Change an index's period; returns the index.

        The server cannot alter an index, so it is dropped and re-created in
        one batch. Existing documents then expire through :meth:`run_cleanup`
        (the server's sweep only knows documents written from now on).
        """
        return self._executor.run(self._ops.update_expiration(
            collection,
            name,
            expire_after_seconds,
        ))

    def get_index_info(self, collection: str, name: str) -> JSON:
        """One index: ``{name, field, expire_after_seconds}``; NotFoundError if absent."""
        return self._executor.run(self._ops.get_index_info(collection, name))

    def run_cleanup(self, collection: str) -> JSON:
        """Remove the expired documents now; returns ``{"deleted": n}``."""
        return self._executor.run(self._ops.run_cleanup(collection))

    def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's TTL indexes."""
        return self._executor.run(self._ops.list_indexes(collection))

    def delete_index(self, collection: str, name: str) -> None:
        """Drop a TTL index; NotFoundError if there is none of that name."""
        return self._executor.run(self._ops.delete_index(collection, name))


class AsyncTTLClient(AsyncFacade[TTLOps]):
    """TTL indexes of the current database's collections."""

    async def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        expire_after_seconds: int,
    ) -> JSON:
        """Expire documents ``expire_after_seconds`` after the time in ``field``; returns the index."""
        return await self._executor.run(self._ops.create_index(
            collection,
            name,
            field,
            expire_after_seconds,
        ))

    async def update_expiration(
        self,
        collection: str,
        name: str,
        expire_after_seconds: int,
    ) -> JSON:
        """Change an index's period; returns the index.

        The server cannot alter an index, so it is dropped and re-created in
        one batch. Existing documents then expire through :meth:`run_cleanup`
        (the server's sweep only knows documents written from now on).
        """
        return await self._executor.run(self._ops.update_expiration(
            collection,
            name,
            expire_after_seconds,
        ))

    async def get_index_info(self, collection: str, name: str) -> JSON:
        """One index: ``{name, field, expire_after_seconds}``; NotFoundError if absent."""
        return await self._executor.run(self._ops.get_index_info(collection, name))

    async def run_cleanup(self, collection: str) -> JSON:
        """Remove the expired documents now; returns ``{"deleted": n}``."""
        return await self._executor.run(self._ops.run_cleanup(collection))

    async def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's TTL indexes."""
        return await self._executor.run(self._ops.list_indexes(collection))

    async def delete_index(self, collection: str, name: str) -> None:
        """Drop a TTL index; NotFoundError if there is none of that name."""
        return await self._executor.run(self._ops.delete_index(collection, name))
