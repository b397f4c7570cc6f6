"""``client.vector``: vector indexes and nearest-neighbour search.

Searches run as one SDBQL query over the server's ``VECTOR_SEARCH``, which
returns each hit's document with its score in the same round trip; the
driver's ``vector_search`` returns only keys and scores. Metric names are
translated: the driver's ``create_vector_index`` understands exactly
``Cosine``, ``Euclidean`` and ``DotProduct`` and silently makes any other name
(such as the reference's ``"euclidean"``) a cosine index.

Scores are the metric's own value: cosine similarity and dot product (higher
is nearer) or Euclidean distance (lower is nearer); results come nearest first.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ... import exceptions as exc
from ... import protocol
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from . import _checks as check
from ._base import SubOps, unsupported

JSON = Dict[str, Any]

#: Every accepted metric spelling -> the server's name.
METRICS = {
    "cosine": "Cosine",
    "euclidean": "Euclidean",
    "l2": "Euclidean",
    "dot_product": "DotProduct",
    "dotproduct": "DotProduct",
    "dot": "DotProduct",
    "inner_product": "DotProduct",
}
#: The server's metric name -> the reference's.
REFERENCE_METRICS = {"Cosine": "cosine", "Euclidean": "euclidean", "DotProduct": "dot_product"}
#: Quantization kinds the reference names that the server does not implement.
UNSUPPORTED_QUANTIZATIONS = frozenset({"binary", "product", "pq"})
#: Most neighbours one search may ask for (the server's own cap).
MAX_K = 10_000
#: With an SDBQL filter, this many candidates per requested row are ranked
#: before filtering (at least ``MIN_FILTER_CANDIDATES``), as the server's own
#: equality filter over-fetches.
FILTER_OVERFETCH = 10
MIN_FILTER_CANDIDATES = 100
#: Bind variables this module uses; a filter's own ``bind_vars`` may not reuse them.
_RESERVED_VARS = frozenset({"vs_collection", "vs_index", "vs_vector", "vs_k", "vs_options",
                            "vs_limit", "vs_key"})


def server_metric(metric: str) -> str:
    """The server's name for a metric given in any accepted spelling."""
    name = check.text(metric, "metric")
    server = METRICS.get(name.lower()) or (name if name in REFERENCE_METRICS else None)
    if server is None:
        raise exc.ValidationError(
            f"unknown vector metric {metric!r}; use cosine, euclidean or dot_product"
        )
    return server


def _vector(values: Any, what: str = "vector") -> List[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise exc.ValidationError(f"{what} must be a non-empty list of numbers")
    return [check.number(v, f"each {what} component") for v in values]


def _index_view(stats: Mapping[str, Any]) -> JSON:
    """An index as listed by the server, with the reference's names added."""
    view = dict(stats)
    view["dimensions"] = stats.get("dimension")
    metric = str(stats.get("metric"))
    view["metric"] = REFERENCE_METRICS.get(metric, metric.lower())
    view["quantization"] = str(stats.get("quantization") or "none").lower()
    return view


def _field(doc: Mapping[str, Any], path: str) -> Any:
    """Read a dotted field path from a document, as the server's index does."""
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class VectorOps(SubOps):
    """Vector indexes of the current database's collections, and searches over them."""

    __facades__ = ("VectorClient", "AsyncVectorClient")

    def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        dimensions: int,
        metric: str = "cosine",
        *,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
    ) -> Op[JSON]:
        """Create an HNSW vector index on ``field``; returns the index as the server lists it.

        ``metric`` is ``cosine``, ``euclidean`` or ``dot_product``. Documents
        whose ``field`` is not a list of exactly ``dimensions`` numbers are
        not indexed.
        """
        db = self._db
        fields: JSON = {
            "database": db,
            "collection": check.collection(collection),
            "name": check.text(name, "name"),
            "field": check.text(field, "field"),
            "dimensions": check.integer(dimensions, "dimensions", minimum=1),
            "metric": server_metric(metric),
            "m": None if m is None else check.integer(m, "m", minimum=2),
            "ef_construction": None if ef_construction is None
            else check.integer(ef_construction, "ef_construction", minimum=1),
        }
        return (yield from self._then_info("create_vector_index", fields, collection, name))

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filter: Optional[Union[str, Mapping[str, Any]]] = None,
        *,
        index_name: Optional[str] = None,
        bind_vars: Optional[Mapping[str, Any]] = None,
        ef_search: Optional[int] = None,
    ) -> Op[List[JSON]]:
        """The ``limit`` documents nearest to ``vector``, nearest first, as ``{doc, score}``.

        ``filter`` is an SDBQL condition on ``doc`` (``'doc.category == "x"'``,
        values via ``bind_vars``) applied to the nearest candidates, or a
        mapping of field -> value equalities. The index is the collection's
        only vector index of the vector's size unless ``index_name`` says.
        """
        db = self._db
        collection = check.collection(collection)
        query_vector = _vector(vector)
        limit = check.integer(limit, "limit", maximum=MAX_K)
        index = index_name or (yield from self._index_for(collection,
                                                          dimensions=len(query_vector)))
        options: JSON = {}
        if ef_search is not None:
            options["ef"] = check.integer(ef_search, "ef_search", minimum=1, maximum=MAX_K)
        variables: JSON = {"vs_collection": collection, "vs_index": check.text(index, "index_name"),
                           "vs_vector": query_vector}
        if filter is None or isinstance(filter, Mapping):
            if filter:
                options["filter"] = {check.text(k, "filter field"): v for k, v in filter.items()}
            variables.update(vs_k=limit, vs_options=options)
            rows = yield from self._sdbql(
                db, "RETURN VECTOR_SEARCH(@vs_collection, @vs_index, @vs_vector, @vs_k, "
                    "@vs_options)", variables)
            return [dict(r) for r in (rows[0] if rows else None) or []]
        condition = check.text(filter, "filter")
        extra = dict(bind_vars or {})
        clash = _RESERVED_VARS & set(extra)
        if clash:
            raise exc.ValidationError(f"bind_vars may not use the names {sorted(clash)}")
        variables.update(extra)
        variables.update(
            vs_k=min(MAX_K, max(limit * FILTER_OVERFETCH, MIN_FILTER_CANDIDATES)),
            vs_options=options, vs_limit=limit,
        )
        sdbql = (
            "FOR hit IN VECTOR_SEARCH(@vs_collection, @vs_index, @vs_vector, @vs_k, @vs_options) "
            "LET doc = hit.doc "
            f"FILTER ({condition}) "
            "LIMIT @vs_limit RETURN hit"
        )
        return [dict(r) for r in (yield from self._sdbql(db, sdbql, variables))]

    def search_by_document(
        self,
        collection: str,
        doc_key: str,
        field: str,
        limit: int = 5,
        *,
        index_name: Optional[str] = None,
    ) -> Op[List[JSON]]:
        """The ``limit`` documents most similar to document ``doc_key`` (itself excluded)."""
        db = self._db
        collection = check.collection(collection)
        field = check.text(field, "field")
        limit = check.integer(limit, "limit", maximum=MAX_K - 1)
        indexes_reply, doc_reply = check.all_ok((yield from self._batch([
            protocol.command("list_vector_indexes", database=db, collection=collection),
            protocol.command("get", database=db, collection=collection,
                             key=check.text(doc_key, "doc_key")),
        ])))
        if index_name is None:
            matching = [i for i in indexes_reply.data or [] if i.get("field") == field]
            if not matching:
                raise exc.NotFoundError(f"no vector index on {collection}.{field}")
            if len(matching) > 1:
                raise exc.ValidationError(
                    f"{len(matching)} vector indexes on {collection}.{field}; pass index_name="
                )
            index_name = str(matching[0]["name"])
        vector = _field(doc_reply.data or {}, field)
        if not isinstance(vector, list) or not vector:
            raise exc.ValidationError(f"document {doc_key!r} has no vector in {field!r}")
        rows = yield from self._sdbql(
            db,
            "FOR hit IN VECTOR_SEARCH(@vs_collection, @vs_index, @vs_vector, @vs_k, {}) "
            "FILTER hit.doc._key != @vs_key LIMIT @vs_limit RETURN hit",
            {"vs_collection": collection, "vs_index": index_name,
             "vs_vector": _vector(vector, "stored vector"), "vs_k": limit + 1,
             "vs_key": doc_key, "vs_limit": limit},
        )
        return [dict(r) for r in rows]

    def quantize(
        self, collection: str, index_name: str, quantization: str = "scalar"
    ) -> Op[JSON]:
        """Compress the index's vectors to 8-bit scalars (about 4x less memory); returns the index.

        Searches stay exact in ranking for well-separated data, with scores
        approximated. Only scalar quantization exists on solidb 2.6.0.
        """
        kind = check.text(quantization, "quantization").lower()
        if kind in UNSUPPORTED_QUANTIZATIONS:
            raise unsupported(f"vector.quantize(..., {quantization!r})",
                              "the server implements scalar quantization only")
        if kind != "scalar":
            raise exc.ValidationError(f"unknown quantization {quantization!r}; use 'scalar'")
        return (yield from self._then_info(
            "quantize_vector_index",
            {"database": self._db, "collection": check.collection(collection),
             "index_name": check.text(index_name, "index_name")},
            collection, index_name,
        ))

    def dequantize(self, collection: str, index_name: str) -> Op[JSON]:
        """Go back to full-precision vectors; returns the index."""
        return (yield from self._then_info(
            "dequantize_vector_index",
            {"database": self._db, "collection": check.collection(collection),
             "index_name": check.text(index_name, "index_name")},
            collection, index_name,
        ))

    def get_index_info(self, collection: str, name: str) -> Op[JSON]:
        """One index (field, dimensions, metric, quantization ...); NotFoundError if absent."""
        return check.pick((yield from self.list_indexes(collection)), name, "Vector index")

    def list_indexes(self, collection: str) -> Op[List[JSON]]:
        """The collection's vector indexes."""
        data = yield from self._data("list_vector_indexes", retry=True, database=self._db,
                                     collection=check.collection(collection))
        return [_index_view(i) for i in data or []]

    def delete_index(self, collection: str, name: str) -> Op[None]:
        """Drop a vector index; NotFoundError if there is none of that name."""
        db = self._db
        collection = check.collection(collection)
        name = check.text(name, "name")
        # The server drops a missing index without a word: list it in the
        # same round trip and say so instead.
        listed, _ = check.all_ok((yield from self._batch([
            protocol.command("list_vector_indexes", database=db, collection=collection),
            protocol.command("delete_vector_index", database=db, collection=collection,
                             name=name),
        ])))
        check.pick(listed.data or [], name, "Vector index")

    # -- helpers -------------------------------------------------------------

    def _then_info(self, cmd: str, fields: JSON, collection: str, name: str) -> Op[JSON]:
        """Run ``cmd`` and read the index back, in one round trip."""
        _, listed = check.all_ok((yield from self._batch([
            protocol.command(cmd, **fields),
            protocol.command("list_vector_indexes", database=fields["database"],
                             collection=fields["collection"]),
        ])))
        return check.pick((_index_view(i) for i in listed.data or []), name, "Vector index")

    def _index_for(self, collection: str, *, dimensions: int) -> Op[str]:
        """The collection's one vector index for vectors of this size."""
        indexes = yield from self._data("list_vector_indexes", retry=True, database=self._db,
                                        collection=collection)
        matching = [i for i in indexes or [] if i.get("dimension") == dimensions]
        if len(matching) == 1:
            return str(matching[0]["name"])
        if not matching:
            raise exc.NotFoundError(
                f"no vector index of dimension {dimensions} on collection {collection!r}"
            )
        raise exc.ValidationError(
            f"several vector indexes of dimension {dimensions} on {collection!r} "
            f"({sorted(str(i['name']) for i in matching)}); pass index_name="
        )


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class VectorClient(SyncFacade[VectorOps]):
    """Vector indexes of the current database's collections, and searches over them."""

    def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        dimensions: int,
        metric: str = "cosine",
        *,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
    ) -> JSON:
        """Create an HNSW vector index on ``field``; returns the index as the server lists it.

        ``metric`` is ``cosine``, ``euclidean`` or ``dot_product``. Documents
        whose ``field`` is not a list of exactly ``dimensions`` numbers are
        not indexed.
        """
        return self._executor.run(self._ops.create_index(
            collection,
            name,
            field,
            dimensions,
            metric,
            m=m,
            ef_construction=ef_construction,
        ))

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filter: Optional[Union[str, Mapping[str, Any]]] = None,
        *,
        index_name: Optional[str] = None,
        bind_vars: Optional[Mapping[str, Any]] = None,
        ef_search: Optional[int] = None,
    ) -> List[JSON]:
        """The ``limit`` documents nearest to ``vector``, nearest first, as ``{doc, score}``.

        ``filter`` is an SDBQL condition on ``doc`` (``'doc.category == "x"'``,
        values via ``bind_vars``) applied to the nearest candidates, or a
        mapping of field -> value equalities. The index is the collection's
        only vector index of the vector's size unless ``index_name`` says.
        """
        return self._executor.run(self._ops.search(
            collection,
            vector,
            limit,
            filter,
            index_name=index_name,
            bind_vars=bind_vars,
            ef_search=ef_search,
        ))

    def search_by_document(
        self,
        collection: str,
        doc_key: str,
        field: str,
        limit: int = 5,
        *,
        index_name: Optional[str] = None,
    ) -> List[JSON]:
        """The ``limit`` documents most similar to document ``doc_key`` (itself excluded)."""
        return self._executor.run(self._ops.search_by_document(
            collection,
            doc_key,
            field,
            limit,
            index_name=index_name,
        ))

    def quantize(self, collection: str, index_name: str, quantization: str = "scalar") -> JSON:
        """Compress the index's vectors to 8-bit scalars (about 4x less memory); returns the index.

        Searches stay exact in ranking for well-separated data, with scores
        approximated. Only scalar quantization exists on solidb 2.6.0.
        """
        return self._executor.run(self._ops.quantize(collection, index_name, quantization))

    def dequantize(self, collection: str, index_name: str) -> JSON:
        """Go back to full-precision vectors; returns the index."""
        return self._executor.run(self._ops.dequantize(collection, index_name))

    def get_index_info(self, collection: str, name: str) -> JSON:
        """One index (field, dimensions, metric, quantization ...); NotFoundError if absent."""
        return self._executor.run(self._ops.get_index_info(collection, name))

    def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's vector indexes."""
        return self._executor.run(self._ops.list_indexes(collection))

    def delete_index(self, collection: str, name: str) -> None:
        """Drop a vector index; NotFoundError if there is none of that name."""
        return self._executor.run(self._ops.delete_index(collection, name))


class AsyncVectorClient(AsyncFacade[VectorOps]):
    """Vector indexes of the current database's collections, and searches over them."""

    async def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        dimensions: int,
        metric: str = "cosine",
        *,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
    ) -> JSON:
        """Create an HNSW vector index on ``field``; returns the index as the server lists it.

        ``metric`` is ``cosine``, ``euclidean`` or ``dot_product``. Documents
        whose ``field`` is not a list of exactly ``dimensions`` numbers are
        not indexed.
        """
        return await self._executor.run(self._ops.create_index(
            collection,
            name,
            field,
            dimensions,
            metric,
            m=m,
            ef_construction=ef_construction,
        ))

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int = 10,
        filter: Optional[Union[str, Mapping[str, Any]]] = None,
        *,
        index_name: Optional[str] = None,
        bind_vars: Optional[Mapping[str, Any]] = None,
        ef_search: Optional[int] = None,
    ) -> List[JSON]:
        """The ``limit`` documents nearest to ``vector``, nearest first, as ``{doc, score}``.

        ``filter`` is an SDBQL condition on ``doc`` (``'doc.category == "x"'``,
        values via ``bind_vars``) applied to the nearest candidates, or a
        mapping of field -> value equalities. The index is the collection's
        only vector index of the vector's size unless ``index_name`` says.
        """
        return await self._executor.run(self._ops.search(
            collection,
            vector,
            limit,
            filter,
            index_name=index_name,
            bind_vars=bind_vars,
            ef_search=ef_search,
        ))

    async def search_by_document(
        self,
        collection: str,
        doc_key: str,
        field: str,
        limit: int = 5,
        *,
        index_name: Optional[str] = None,
    ) -> List[JSON]:
        """The ``limit`` documents most similar to document ``doc_key`` (itself excluded)."""
        return await self._executor.run(self._ops.search_by_document(
            collection,
            doc_key,
            field,
            limit,
            index_name=index_name,
        ))

    async def quantize(
        self,
        collection: str,
        index_name: str,
        quantization: str = "scalar",
    ) -> JSON:
        """Compress the index's vectors to 8-bit scalars (about 4x less memory); returns the index.

        Searches stay exact in ranking for well-separated data, with scores
        approximated. Only scalar quantization exists on solidb 2.6.0.
        """
        return await self._executor.run(self._ops.quantize(collection, index_name, quantization))

    async def dequantize(self, collection: str, index_name: str) -> JSON:
        """Go back to full-precision vectors; returns the index."""
        return await self._executor.run(self._ops.dequantize(collection, index_name))

    async def get_index_info(self, collection: str, name: str) -> JSON:
        """One index (field, dimensions, metric, quantization ...); NotFoundError if absent."""
        return await self._executor.run(self._ops.get_index_info(collection, name))

    async def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's vector indexes."""
        return await self._executor.run(self._ops.list_indexes(collection))

    async def delete_index(self, collection: str, name: str) -> None:
        """Drop a vector index; NotFoundError if there is none of that name."""
        return await self._executor.run(self._ops.delete_index(collection, name))
