"""Lazy, chainable queries over a model: ``User.objects.filter(age__gt=25)``.

Every chained call returns a new QuerySet (the original is never changed).
Nothing reaches the server until the QuerySet is iterated, counted, sliced to
a single item, or asked explicitly (``get``, ``exists``, ``update`` ...).
"""

from __future__ import annotations

import os
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Dict,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

from pydantic import ValidationError as PydanticValidationError

from .. import _context
from .. import exceptions as exc
from .._state import local_id, state_of
from ..client.cursors import MAX_BATCH, CursorPage, close_cursor, next_page, open_cursor
from ..ops import Op, current_transaction
from .aggregates import Aggregate
from .compiler import (
    CompiledQuery,
    SelectSpec,
    compile_aggregate,
    compile_count,
    compile_delete,
    compile_select,
    compile_update,
)
from .evaluator import eval_expr, read_path
from .expressions import (
    Everything,
    Expression,
    F,
    Not,
    OrderBy,
    Predicate,
    ShapeBuilder,
    expression_from_name,
    lookups_to_predicate,
    split_path,
    to_wire,
)
from .hooks import QuerySession, Runner

if TYPE_CHECKING:
    from ..database import Database
    from ..models import Document, Edge

D = TypeVar("D", bound="Document")

#: Rows fetched per round trip while iterating (a response must stay under 16 MiB).
DEFAULT_CHUNK_SIZE = 2000
REL_PREFIX = "__odm_rel__"
#: field kinds whose stored form is not their Python value (values() converts them)
_CONVERTED_KINDS = frozenset({"decimal", "datetime", "date", "time", "uuid"})


class QuerySet(Generic[D]):
    """A lazy, chainable query over one model's collection.

    Each chained call returns a new QuerySet and leaves the original as it
    was, so a QuerySet can be kept, shared and refined. Nothing reaches the
    server until it is iterated, counted, sliced to a single item or asked
    for a result (``get``, ``exists``, ``update``...); ``sdbql`` and
    ``bind_vars`` show what it will send.

        adults = User.objects.filter(age__gte=18).exclude(name__startswith="B")
        print(adults.order_by("-age")[:10].sdbql)
        for user in adults.order_by("-age")[:10]:
            ...
    """

    def __init__(self, model: Type[D], using: Optional[Database] = None) -> None:
        self.model = model
        self._db = using
        self._where: List[Predicate] = []
        self._order: List[OrderBy] = []
        self._offset: Optional[int] = None
        self._limit: Optional[int] = None
        self._projection: Tuple[Any, ...] = ("doc",)
        self._values_keys: Tuple[str, ...] = ()
        self._flat = False
        self._as_tuples = False
        self._only: Optional[Tuple[str, ...]] = None
        self._distinct = False
        self._traversal: Optional[Tuple[Any, ...]] = None
        self._select_related: Tuple[str, ...] = ()
        self._prefetch_related: Tuple[str, ...] = ()
        self._empty = False
        self._result_cache: Optional[List[Any]] = None
        self._session: Optional[QuerySession] = None
        #: a QuerySet keeps what it fetched; the shared Manager never does
        self._keeps_results = True
        #: set on the committed-data query a session overlays (no overlay of its own)
        self._bypass_overlay = False
        #: build models without validation (``trusted()``)
        self._trusted = False

    # -- cloning --------------------------------------------------------------

    def _clone(self) -> QuerySet[D]:
        clone: QuerySet[D] = QuerySet.__new__(QuerySet)  # a Manager's clones are QuerySets
        clone.__dict__.update(self.__dict__)
        clone._keeps_results = True
        clone._where = list(self._where)
        clone._order = list(self._order)
        clone._result_cache = None
        clone.__dict__.pop("_page_cache", None)
        return clone

    @property
    def db(self) -> Database:
        """Where this query runs: the database given to ``using()``, its session's, or the model's."""
        if self._db is not None:
            return self._db
        if self._session is not None:
            return self._session.db
        return self.model.database()

    def _active_session(self) -> Optional[QuerySession]:
        """The session results go through: the QuerySet's own, or the context's ``with``."""
        if self._session is not None:
            return self._session
        if not _context.open_sessions():
            return None
        return cast(Optional[QuerySession], _context.current_session_for(self.db))

    def _runner(self) -> Runner:
        """Who runs this QuerySet's operations: its session, or its database."""
        session = self._active_session()
        return session if session is not None else self.db

    def _overlaid(self) -> Optional[QuerySession]:
        """The session whose unflushed/uncommitted changes this QuerySet's results must show."""
        if self._bypass_overlay:
            return None
        session = self._active_session()
        if session is None or not session.touches(self.model):
            return None
        return session

    def _overlaid_op(self) -> Op[Optional[List[Any]]]:
        """Objects with the session's unflushed/uncommitted changes applied, if it has any."""
        session = self._overlaid()
        if session is None:
            return None
        return cast(Optional[List[Any]], (yield from session.overlay_op(self)))

    # -- the seam sessions use ---------------------------------------------------

    def with_session(self, session: QuerySession) -> QuerySet[D]:
        """This query with results going through ``session`` (its identity map and changes)."""
        clone = self._clone()
        clone._session = session
        return clone

    @property
    def where(self) -> Tuple[Predicate, ...]:
        """The filter conditions, all of which a result meets."""
        return tuple(self._where)

    @property
    def ordering(self) -> Tuple[OrderBy, ...]:
        """The ``order_by`` terms, first key first."""
        return tuple(self._order)

    @property
    def window(self) -> Tuple[Optional[int], Optional[int]]:
        """(offset, limit) of the slice taken, None where none was."""
        return self._offset, self._limit

    def committed_documents_op(self, session: QuerySession) -> Op[List[Any]]:
        """Every stored document matching the filters, whole, through ``session``.

        No slice, projection or overlay: the session applies its own changes
        on top, then filters, orders and slices the result itself.
        """
        base = self._clone()
        base._session = session
        base._bypass_overlay = True
        base._offset = base._limit = None
        base._projection = ("doc",)
        base._distinct = False
        base._only = None
        return (yield from base._fetch_op())

    def using(self, db: Database) -> QuerySet[D]:
        """Run this query against another database."""
        clone = self._clone()
        clone._db = db
        return clone

    # -- building ---------------------------------------------------------------

    def all(self) -> QuerySet[D]:
        """A copy of this QuerySet: every document, when called on ``Model.objects``.

        On a reverse relation that a prefetch loaded (``user.post_set.all()``),
        the copy keeps the loaded documents, as in Django.
        """
        clone = self._clone()
        if self.__dict__.get("_prefetched"):
            clone._result_cache = self._result_cache
            clone.__dict__["_prefetched"] = True
        return clone

    def with_results(self, objs: Sequence[D]) -> QuerySet[D]:
        """This QuerySet holding ``objs`` as its results (what a prefetch loaded for it)."""
        clone = self._clone()
        clone._result_cache = list(objs)
        clone.__dict__["_prefetched"] = True
        return clone

    def none(self) -> QuerySet[D]:
        """A QuerySet that matches nothing and still chains (as Django's ``none()``)."""
        clone = self._clone()
        clone._empty = True
        return clone

    def filter(self, *conditions: Union[Predicate, bool], **lookups: Any) -> QuerySet[D]:
        """Keep documents matching every condition (``Q``, expressions, lookups)."""
        predicate = lookups_to_predicate(conditions, lookups)
        clone = self._clone()
        if predicate is not None:
            self._check_not_sliced("filter")
            self._check_fields(predicate)
            clone._where.append(predicate)
        return clone

    def exclude(self, *conditions: Union[Predicate, bool], **lookups: Any) -> QuerySet[D]:
        """Drop documents matching all the conditions (null fields stay, as in Django)."""
        predicate = lookups_to_predicate(conditions, lookups)
        clone = self._clone()
        if predicate is not None:
            self._check_not_sliced("exclude")
            self._check_fields(predicate)
            clone._where.append(Not(predicate))
        return clone

    def order_by(self, *fields: Union[str, OrderBy, Expression, int]) -> QuerySet[D]:
        """``order_by("-age", "name")`` or ``order_by(-User.age)``; replaces earlier ordering.

        Nulls and missing fields come first in ascending order; values of
        different kinds order as null < bool < number < string < list < object.
        """
        self._check_not_sliced("order_by")
        clone = self._clone()
        clone._order = [self._order_term(f) for f in fields]
        return clone  # names are resolved when the query compiles (annotate() may name aggregates)

    @staticmethod
    def _order_term(term: Union[str, OrderBy, Expression, int]) -> OrderBy:
        if isinstance(term, OrderBy):
            return term
        if isinstance(term, Expression):
            return term.asc()
        if isinstance(term, str):
            if term.startswith("-"):
                return expression_from_name(term[1:]).desc()
            return expression_from_name(term.lstrip("+")).asc()
        raise exc.ValidationError(f"cannot order by {term!r}")

    def reverse(self) -> QuerySet[D]:
        """The same query in the opposite order (descending by key when none was given)."""
        clone = self._clone()
        clone._order = [-o for o in (self._order or [F("_key").asc()])]
        return clone

    def distinct(self) -> QuerySet[D]:
        """Drop duplicate results: useful after ``values()`` or over a traversal."""
        clone = self._clone()
        clone._distinct = True
        return clone

    def values(self, *fields: str) -> QuerySet[Any]:
        """Rows as dicts of the named fields (all stored fields when none are named)."""
        clone: QuerySet[Any] = self._clone()
        clone._set_values(fields)
        clone._as_tuples = False
        clone._flat = False
        return clone

    def values_list(self, *fields: str, flat: bool = False) -> QuerySet[Any]:
        """Rows as tuples; ``flat=True`` with one field gives plain values."""
        if flat and len(fields) != 1:
            raise exc.ValidationError("values_list(flat=True) takes exactly one field")
        clone: QuerySet[Any] = self._clone()
        clone._set_values(fields)
        clone._as_tuples = True
        clone._flat = flat
        return clone

    def _set_values(self, fields: Sequence[str]) -> None:
        if not fields:
            fields = tuple(self.model.model_fields)
        paths = tuple(self.model.wire_path(split_path(f)) for f in fields)
        self._values_keys = tuple(fields)
        self._projection = ("values", tuple(f"v{i}" for i in range(len(fields))), paths)
        # values come back as the fields' Python types (a Decimal, a datetime), as in Django
        specs = [self.model.field_spec(split_path(f)) for f in fields]
        self.__dict__["_values_specs"] = tuple(
            s if s is not None and s.kind in _CONVERTED_KINDS else None for s in specs)

    def trusted(self) -> QuerySet[D]:
        """Build the models without validating them: for data this application wrote itself.

        Only models whose fields are all stored as their Python values (str,
        int, float, bool, lists of those) skip validation; any other model is
        validated as usual. Validators and constraints do not run. See
        docs/performance.md for when this is safe and what it skips.
        """
        clone = self._clone()
        clone._trusted = True
        return clone

    def only(self, *fields: str) -> QuerySet[D]:
        """Load only these fields (plus the system ones); saving writes only them."""
        clone = self._clone()
        wire = tuple(self.model.wire_name(f) for f in fields)
        keep = ("_key", "_id", "_rev", *wire)
        if self.model.is_edge():
            keep += ("_from", "_to")
        clone._only = wire
        clone._projection = ("only", keep)
        return clone

    def _check_relations(self, fields: Sequence[str]) -> None:
        refs = self.model.references()
        reverse = self.model.reverse_relations()
        for name in fields:
            if name not in refs and name not in reverse:
                known = sorted({*refs, *reverse})
                raise exc.FieldError(
                    f"{self.model.__name__}.{name} is neither a Reference field nor a reverse "
                    f"relation; its relations: {', '.join(known) or '(none)'}"
                )

    def select_related(self, *fields: str) -> QuerySet[D]:
        """Load related documents in the same query: a ``DOCUMENT()`` join for a Reference,
        a subquery for a reverse relation (``select_related("post_set")``)."""
        self._check_relations(fields)
        clone = self._clone()
        clone._select_related = tuple(dict.fromkeys((*self._select_related, *fields)))
        return clone

    def prefetch_related(self, *fields: str) -> QuerySet[D]:
        """Load related documents with one more query per relation, after the main one
        (a Reference's targets, or a reverse relation's referring documents)."""
        self._check_relations(fields)
        clone = self._clone()
        clone._prefetch_related = tuple(dict.fromkeys((*self._prefetch_related, *fields)))
        return clone

    def traverse(
        self,
        start: Union[str, Document],
        edge: Type[Edge],
        *,
        direction: str = "outbound",
        min_depth: int = 1,
        max_depth: int = 1,
    ) -> QuerySet[D]:
        """Documents of this model reachable from ``start`` over ``edge`` (composes with filters)."""
        start_id = local_id(start) if isinstance(start, str) else start.ref
        if not start_id:
            raise exc.ValidationError("traversal start needs a saved document or an id")
        if direction not in ("outbound", "inbound", "any"):
            raise exc.ValidationError("direction is 'outbound', 'inbound' or 'any'")
        clone = self._clone()
        clone._traversal = (direction, min_depth, max_depth, start_id, edge.collection_name())
        return clone

    def _builder(self) -> ShapeBuilder:
        """A shape builder that resolves names and prepares values through the model."""
        return ShapeBuilder(self.model.wire_path, self.model.field_spec)

    def _check_fields(self, predicate: Predicate) -> None:
        """Refuse unknown names and unusable values now, as Django does at filter().

        Shaping the condition resolves every name (``FieldError``) and prepares
        every value through its field (``ValidationError``); the compiler does
        the same again, from the cache, when the query runs.
        """
        predicate.shape(self._builder())

    def _check_not_sliced(self, what: str) -> None:
        if self._offset is not None or self._limit is not None:
            raise exc.ValidationError(f"cannot {what} a query once a slice has been taken")

    # -- compiling ---------------------------------------------------------------

    def _spec(self) -> SelectSpec:
        refs = self.model.references()
        reverse = self.model.reverse_relations()
        joins: List[Tuple[Any, ...]] = []
        for name in self._select_related:
            if name in refs:
                joins.append((self.model.wire_name(name), refs[name].target.collection_name(),
                              REL_PREFIX + name))
            else:
                relation = reverse[name]
                joins.append(("reverse", relation.stored_field,
                              relation.source.collection_name(), REL_PREFIX + name,
                              self.model.collection_name()))
        return SelectSpec(
            collection=self.model.collection_name(),
            where=tuple(self._where) if not self._empty else (Not(Everything()),),
            order=tuple(self._order),
            offset=self._offset,
            limit=self._limit,
            projection=self._projection,
            distinct=self._distinct,
            traversal=self._traversal,
            joins=tuple(joins),
            resolve=self.model.wire_path,
            describe=self.model.field_spec,
        )

    def compile(self) -> CompiledQuery:
        """The SDBQL text and bind variables this QuerySet sends."""
        return compile_select(self._spec())

    def _page(self, offset: int, limit: Optional[int]) -> CompiledQuery:
        """The query for one page (``limit`` None: to the end); a QuerySet never changes once built."""
        cache = self.__dict__.setdefault("_page_cache", {})
        compiled = cache.get((offset, limit))
        if compiled is None:
            page = self._clone()
            page._offset, page._limit = offset, limit
            compiled = cache[(offset, limit)] = page.compile()
        return compiled  # type: ignore[no-any-return]

    @property
    def sdbql(self) -> str:
        """The SDBQL text this QuerySet sends, with ``@p0``-style placeholders (nothing is sent)."""
        return self.compile().sdbql

    @property
    def bind_vars(self) -> Dict[str, Any]:
        """The values for the placeholders in ``sdbql``: user input never becomes query text."""
        return self.compile().bind_vars

    def __str__(self) -> str:
        return self.sdbql

    def _query_op(self, compiled: CompiledQuery) -> Op[List[Any]]:
        db = self.db
        return (yield from db.ops.query(db.name, compiled.sdbql, compiled.bind_vars))

    # -- slicing -------------------------------------------------------------------

    @overload
    def __getitem__(self, item: int) -> D: ...

    @overload
    def __getitem__(self, item: slice) -> QuerySet[D]: ...

    def __getitem__(self, item: Union[int, slice]) -> Union[D, QuerySet[D]]:
        """``qs[10:20]`` is a QuerySet with an offset and limit (nothing is sent yet);
        ``qs[0]`` fetches one document (``IndexError`` if there is none). Negative
        indexes and steps are refused, as in Django.
        """
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise exc.ValidationError("slices with a step are not supported")
            start, stop = item.start or 0, item.stop
            if start < 0 or (stop is not None and stop < 0):
                raise exc.ValidationError("negative indexing is not supported")
            clone = self._clone()
            base = clone._offset or 0
            new_offset = base + start
            if stop is not None:
                new_limit = max(stop - start, 0)
                if clone._limit is not None:
                    new_limit = min(new_limit, max(clone._limit - start, 0))
            else:
                new_limit = None if clone._limit is None else max(clone._limit - start, 0)
            clone._offset = new_offset or None
            clone._limit = new_limit
            if self._result_cache is not None:
                # the slice of what was fetched, on a query that is sliced too:
                # terminals that run a query (first(), get() ...) see the slice
                clone._result_cache = self._result_cache[item]
            return clone
        if not isinstance(item, int):
            raise TypeError("QuerySet indices must be integers or slices")
        if item < 0:
            raise exc.ValidationError("negative indexing is not supported")
        if self._result_cache is not None:
            return self._result_cache[item]  # type: ignore[no-any-return]
        rows = list(self[item : item + 1])
        if not rows:
            raise IndexError("QuerySet index out of range")
        return rows[0]

    # -- fetching --------------------------------------------------------------------

    def _hydrate_op(self, rows: List[Any]) -> Op[List[Any]]:
        out = self._hydrate(rows)
        if self._prefetch_related and out and self._projection[0] != "values":
            yield from self._prefetch_op(out)
        return out

    def _hydrate(self, rows: List[Any]) -> List[Any]:
        """Rows as model instances (or values), without prefetching."""
        kind = self._projection[0]
        if kind == "values":
            keys = self._values_keys
            slots = self._projection[1]
            specs = self.__dict__.get("_values_specs") or ()
            if any(specs):
                rows = [dict(row) for row in rows]
                for spec, slot in zip(specs, slots, strict=False):
                    if spec is not None:
                        for row in rows:
                            row[slot] = spec.from_stored(row.get(slot))
            if self._as_tuples:
                if self._flat:
                    return [row[slots[0]] for row in rows]
                return [tuple(row[s] for s in slots) for row in rows]
            return [{k: row[s] for k, s in zip(keys, slots, strict=False)} for row in rows]
        db = self.db
        model = self.model
        loaded = frozenset(self._projection[1]) if kind == "only" else None
        session = self._active_session()
        related_rows: List[Dict[str, Any]] = []
        if self._select_related:
            related_rows = [
                {n: row.pop(REL_PREFIX + n, None) for n in self._select_related} for row in rows
            ]
        out: List[Any] = model.from_wire_many(rows, db, loaded, trusted=self._trusted)
        if related_rows:
            refs = model.references()
            reverse = model.reverse_relations()
            for obj, related in zip(out, related_rows, strict=False):
                cache = state_of(obj).related
                for name, value in related.items():
                    if name in reverse:  # a list of the referring documents
                        source = reverse[name].source
                        cache[name] = source.from_wire_many(list(value or []), db)
                        continue
                    target = refs[name].target
                    cache[name] = target.from_wire(value, db) if value else None
        if session is not None:
            out = [session.adopt(obj) for obj in out]
        return out

    def _prefetch_op(self, objs: List[Any]) -> Op[None]:
        db = self.db
        refs = self.model.references()
        reverse = self.model.reverse_relations()
        for name in self._prefetch_related:
            if name in reverse:
                yield from self._prefetch_reverse_op(objs, name, reverse[name])
                continue
            ids = sorted({getattr(o, name) for o in objs if getattr(o, name)})
            target = refs[name].target
            found: Dict[str, Any] = {}
            if ids:
                rows = yield from db.ops.query(
                    db.name, "FOR i IN @ids LET x = DOCUMENT(i) FILTER x != null RETURN x",
                    {"ids": ids},
                )
                found = {local_id(r["_id"]): target.from_wire(r, db) for r in rows}
            for obj in objs:
                state_of(obj).related[name] = found.get(getattr(obj, name))

    def _prefetch_reverse_op(self, objs: List[Any], name: str, relation: Any) -> Op[None]:
        """One query for the documents referring to any of ``objs``, grouped by referent."""
        refs = sorted({o.ref for o in objs if o.ref})
        found: Dict[str, List[Any]] = {ref: [] for ref in refs}
        if refs:
            related_qs = relation.source.objects.using(self.db).filter(
                **{f"{relation.field}__in": refs})
            session = self._active_session()
            if session is not None:
                related_qs = related_qs.with_session(session)
            for doc in (yield from related_qs._fetch_op()):
                found.setdefault(getattr(doc, relation.field), []).append(doc)
        for obj in objs:
            state_of(obj).related[name] = found.get(obj.ref, []) if obj.ref else []

    def _project_objects(self, objs: List[Any]) -> List[Any]:
        """Apply values()/values_list()/distinct to objects the session produced."""
        if self._projection[0] != "values":
            return objs

        paths = self._projection[2]
        rows = [{f"v{i}": read_path(o.stored_view(), p) for i, p in enumerate(paths)}
                for o in objs]
        out = self._hydrate(rows)
        if self._distinct:
            unique: List[Any] = []
            for row in out:
                if row not in unique:
                    unique.append(row)
            out = unique
        return out

    def _page_op(self, offset: int, take: int) -> Op[Tuple[List[Any], bool]]:
        """One page of results and whether more may follow.

        When the session overlays its changes, or for distinct(), everything
        comes at once (more is False).
        """
        overlaid = yield from self._overlaid_op()
        if overlaid is not None:
            return self._project_objects(overlaid), False
        if self._distinct:
            rows = yield from self._query_op(self.compile())
            return (yield from self._hydrate_op(rows[0] if rows else [])), False
        if self._limit is not None and offset + take >= (self._offset or 0) + self._limit:
            # the page ends the slice: nothing can follow it, so no extra row is asked for
            rows = yield from self._query_op(self._page(offset, take))
            return (yield from self._hydrate_op(rows)), False
        rows = yield from self._query_op(self._page(offset, take + 1))  # one more: a next page?
        return (yield from self._hydrate_op(rows[:take])), len(rows) > take

    def _pages(self, chunk_size: int) -> Iterator[Tuple[int, int]]:
        """(offset, size) of each page to fetch; the caller stops when a page says no more."""
        if chunk_size < 1:
            raise exc.ValidationError("chunk_size must be at least 1")
        offset = self._offset or 0
        remaining = self._limit
        while remaining is None or remaining > 0:
            take = chunk_size if remaining is None else min(chunk_size, remaining)
            yield offset, take
            offset += take
            if remaining is not None:
                remaining -= take

    def _fetch_op(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Op[List[Any]]:
        """Every result, as one operation: one page, then a cursor (or more pages) for the rest."""
        out: List[Any] = []
        batches = _Batches(self, chunk_size, query_first=True)
        try:
            while not batches.done:
                out.extend((yield from batches.next_op()))
        finally:
            if batches.cursor_id is not None:  # left before its end: free the server's copy
                yield from close_cursor(batches.cursor_id)
        return out

    def _rest_op(self, skip: int, chunk_size: int) -> Op[Optional[CursorPage]]:
        """A server-side cursor over the results after the first ``skip``; None where none can serve.

        The server evaluates a FILTER over the whole collection before it
        applies LIMIT, so each ``LIMIT offset, n`` page costs a full
        evaluation: reading N results in pages is quadratic. A cursor evaluates
        once and hands the result out in batches, all from one snapshot.
        Transactions keep paging (their reads belong on their own connection),
        and so do multi-host clients (a cursor lives on one node).
        """
        if chunk_size < 1:
            raise exc.ValidationError("chunk_size must be at least 1")
        if self.db.multi_host or self._distinct or self._overlaid() is not None:
            return None
        if (yield from current_transaction()) is not None:
            return None
        remaining = None if self._limit is None else self._limit - skip
        if remaining is not None and remaining <= 0:
            return None
        compiled = self._page((self._offset or 0) + skip, remaining)
        return (yield from open_cursor(self.db.name, compiled.sdbql, compiled.bind_vars,
                                       chunk_size))

    def _fetch_all(self) -> List[Any]:
        if self._result_cache is None:
            self._result_cache = self._runner().run(self._fetch_op())
        return self._result_cache

    def iterator(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[D]:
        """Stream results ``chunk_size`` at a time, without caching them on the QuerySet.

        Outside transactions the results come from one server-side cursor (one
        evaluation, one snapshot, kept by the server for five idle minutes);
        inside one, and in a session with pending changes, page by page.
        """
        return self._iterate(chunk_size, query_first=False)

    def _iterate(self, chunk_size: int, *, query_first: bool) -> Iterator[Any]:
        """The results, one batch per round trip (see ``_Batches``)."""
        runner = self._runner()
        batches = _Batches(self, chunk_size, query_first=query_first)
        try:
            while not batches.done:
                yield from runner.run(batches.next_op())
        finally:
            if batches.cursor_id is not None:  # left before its end: free the server's copy
                runner.run(close_cursor(batches.cursor_id))

    def aiterator(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[D]:
        """:meth:`iterator` for ``async for``: one awaited round trip per batch."""
        return self._aiterate(chunk_size, query_first=False)

    async def _aiterate(self, chunk_size: int, *, query_first: bool) -> AsyncIterator[Any]:
        """:meth:`_iterate`, awaited."""
        runner = self._runner()
        batches = _Batches(self, chunk_size, query_first=query_first)
        try:
            while not batches.done:
                for obj in await runner.arun(batches.next_op()):
                    yield obj
        finally:
            if batches.cursor_id is not None:  # left before its end: free the server's copy
                await runner.arun(close_cursor(batches.cursor_id))

    def __iter__(self) -> Iterator[D]:
        """Results page by page; once iterated to the end they are kept (as in Django)."""
        if self._result_cache is not None:
            return iter(self._result_cache)
        return self._stream()

    def _stream(self) -> Iterator[D]:
        # list(qs) takes the iterator first and asks len(qs) next, which fetches
        # and keeps the results; the stream then starts from those, not again.
        if self._result_cache is not None:
            yield from self._result_cache
            return
        seen: List[Any] = []
        for obj in self._iterate(DEFAULT_CHUNK_SIZE, query_first=True):
            seen.append(obj)
            yield obj
        if self._keeps_results:
            self._result_cache = seen

    async def __aiter__(self) -> AsyncIterator[D]:
        """``async for obj in qs``: the results, kept once complete (as ``__iter__`` does)."""
        if self._result_cache is not None:
            for obj in self._result_cache:
                yield obj
            return
        seen: List[Any] = []
        async for obj in self._aiterate(DEFAULT_CHUNK_SIZE, query_first=True):
            seen.append(obj)
            yield obj
        if self._keeps_results:
            self._result_cache = seen

    async def alist(self) -> List[D]:
        """Every result as a list, in one awaited call (``list(qs)`` for async code)."""
        if self._result_cache is None:
            rows: List[Any] = await self._runner().arun(self._fetch_op())
            if not self._keeps_results:
                return rows
            self._result_cache = rows
        return list(self._result_cache)

    def __len__(self) -> int:
        """Fetches every result and keeps them; ``count()`` asks the server for the number only."""
        return len(self._fetch_all())

    def __bool__(self) -> bool:
        """Fetches every result and keeps them; ``exists()`` asks the server for one key only."""
        return bool(self._fetch_all())

    def __repr__(self) -> str:
        rows = list(self[:21]) if self._result_cache is None else self._result_cache[:21]
        text = ", ".join(repr(r) for r in rows[:20])
        more = ", ..." if len(rows) > 20 else ""
        return f"<QuerySet [{text}{more}]>"

    # -- single results -------------------------------------------------------------
    #
    # Every terminal is an operation (``_x_op``); ``x()`` runs it blocking and
    # ``ax()`` awaits it, on the QuerySet's session or database.

    def get(self, *conditions: Union[Predicate, bool], **lookups: Any) -> D:
        """Exactly one document, else ``DoesNotExist`` / ``MultipleObjectsReturned``.

        ``get(key=...)`` on an unfiltered QuerySet is a direct read by key.
        """
        key = self._direct_key(conditions, lookups)
        if key is not None:  # the common read: one operation layer less
            return self._runner().run(self._get_by_key_op(key))
        return self._runner().run(self._get_op(conditions, lookups))

    async def aget(self, *conditions: Union[Predicate, bool], **lookups: Any) -> D:
        """:meth:`get`, awaitable."""
        key = self._direct_key(conditions, lookups)
        if key is not None:
            return cast(D, await self._runner().arun(self._get_by_key_op(key)))
        return cast(D, await self._runner().arun(self._get_op(conditions, lookups)))

    def _direct_key(self, conditions: Sequence[Union[Predicate, bool]],
                    lookups: Mapping[str, Any]) -> Optional[str]:
        """The key of a ``get(key=...)`` that can be a direct read, else None."""
        if (
            not conditions and len(lookups) == 1 and not self._where and not self._empty
            and self._traversal is None and self._projection == ("doc",)
            and not self._select_related and not self._prefetch_related
        ):
            ((name, value),) = lookups.items()
            if name in ("key", "pk", "_key") and isinstance(value, str):
                return value
        return None

    def _get_op(self, conditions: Sequence[Union[Predicate, bool]],
                lookups: Mapping[str, Any]) -> Op[D]:
        key = self._direct_key(conditions, lookups)
        if key is not None:
            return (yield from self._get_by_key_op(key))
        qs = self.filter(*conditions, **lookups) if (conditions or lookups) else self
        rows = yield from qs[:2]._fetch_op()
        if not rows:
            raise self._does_not_exist(f"{self.model.__name__} matching query does not exist")
        if len(rows) > 1:
            raise self._multiple(
                f"get() returned more than one {self.model.__name__}"
            )
        return cast(D, rows[0])

    def _does_not_exist(self, message: str) -> exc.DoesNotExist:
        """The model's own ``DoesNotExist`` (``User.DoesNotExist``), a subclass of the shared one."""
        error: type = getattr(self.model, "DoesNotExist", exc.DoesNotExist)
        return cast(exc.DoesNotExist, error(message))

    def _multiple(self, message: str) -> exc.MultipleObjectsReturned:
        error: type = getattr(self.model, "MultipleObjectsReturned", exc.MultipleObjectsReturned)
        return cast(exc.MultipleObjectsReturned, error(message))

    def _get_by_key_op(self, key: str) -> Op[D]:
        """A direct read (the session's object when one is active)."""
        session = self._active_session()
        if session is not None:
            found = yield from session.get_op(self.model, key)
            if found is None:
                raise self._does_not_exist(f"{self.model.__name__} with key {key!r} does not exist")
            return found
        db = self.db
        try:
            row = yield from db.ops.get(db.name, self.model.collection_name(), key)
        except exc.NotFoundError as err:
            if "Document with key" not in str(err):
                raise
            raise self._does_not_exist(
                f"{self.model.__name__} with key {key!r} does not exist"
            ) from err
        return self.model.from_wire(row, db)

    def latest(self, *fields: str) -> D:
        """The document with the greatest value of ``fields`` (or ``Meta.get_latest_by``);
        ``DoesNotExist`` when there is none, as in Django."""
        return self._runner().run(self._latest_op(fields, latest=True))

    async def alatest(self, *fields: str) -> D:
        """:meth:`latest`, awaitable."""
        return cast(D, await self._runner().arun(self._latest_op(fields, latest=True)))

    def earliest(self, *fields: str) -> D:
        """The document with the smallest value of ``fields`` (or ``Meta.get_latest_by``)."""
        return self._runner().run(self._latest_op(fields, latest=False))

    async def aearliest(self, *fields: str) -> D:
        """:meth:`earliest`, awaitable."""
        return cast(D, await self._runner().arun(self._latest_op(fields, latest=False)))

    def _latest_op(self, fields: Sequence[str], *, latest: bool) -> Op[D]:
        if not fields:
            meta = getattr(self.model, "Meta", None)
            by = getattr(meta, "get_latest_by", None)
            if not by:
                raise exc.ValidationError(
                    f"{'latest' if latest else 'earliest'}() needs field names, "
                    f"or Meta.get_latest_by on {self.model.__name__}"
                )
            fields = (by,) if isinstance(by, str) else tuple(by)
        self._check_not_sliced("latest() / earliest()")
        terms = []
        for name in fields:
            descending = name.startswith("-")
            if latest:
                descending = not descending
            terms.append(("-" if descending else "") + name.lstrip("-"))
        # nulls sort first ascending: Django's latest() skips them, so filter them out
        qs = self.filter(**{f"{n.lstrip('-')}__isnull": False for n in fields}).order_by(*terms)
        rows = yield from qs[:1]._fetch_op()
        if not rows:
            raise self._does_not_exist(f"{self.model.__name__} matching query does not exist")
        return cast(D, rows[0])

    def first(self) -> Optional[D]:
        """The first result in this ordering (by key when unordered), or None."""
        return self._runner().run(self._edge_op(last=False))

    async def afirst(self) -> Optional[D]:
        """:meth:`first`, awaitable."""
        return cast(Optional[D], await self._runner().arun(self._edge_op(last=False)))

    def last(self) -> Optional[D]:
        """The last result in this ordering (by key when unordered), or None."""
        return self._runner().run(self._edge_op(last=True))

    async def alast(self) -> Optional[D]:
        """:meth:`last`, awaitable."""
        return cast(Optional[D], await self._runner().arun(self._edge_op(last=True)))

    def _edge_op(self, *, last: bool) -> Op[Optional[D]]:
        if last:
            qs = self.reverse() if self._order else self.order_by("-_key")
        else:
            qs = self if self._order else self.order_by("_key")
        rows = yield from qs[:1]._fetch_op()
        return rows[0] if rows else None

    def count(self) -> int:
        """The number of matches, counted by the server (or the results, once fetched)."""
        if self._result_cache is not None:
            return len(self._result_cache)
        return self._runner().run(self._count_op())

    async def acount(self) -> int:
        """:meth:`count`, awaitable."""
        if self._result_cache is not None:
            return len(self._result_cache)
        return cast(int, await self._runner().arun(self._count_op()))

    def _count_op(self) -> Op[int]:
        if self._empty:
            return 0
        overlaid = yield from self._overlaid_op()
        if overlaid is not None:
            return len(self._project_objects(overlaid))
        rows = yield from self._query_op(compile_count(self._spec()))
        return int(rows[0]) if rows else 0

    def exists(self) -> bool:
        """Whether anything matches, fetching at most one key."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        return self._runner().run(self._exists_op())

    async def aexists(self) -> bool:
        """:meth:`exists`, awaitable."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        return cast(bool, await self._runner().arun(self._exists_op()))

    def _exists_op(self) -> Op[bool]:
        overlaid = yield from self._overlaid_op()
        if overlaid is not None:
            return bool(overlaid)
        qs = self.values("key")[:1]
        return bool((yield from qs._query_op(qs.compile())))

    def in_bulk(self, keys: Optional[Iterable[str]] = None) -> Dict[str, D]:
        """``{key: document}`` for the given keys (or every matching document)."""
        qs = self.filter(key__in=list(keys)) if keys is not None else self
        return {obj.key: obj for obj in qs._runner().run(qs._fetch_op()) if obj.key is not None}

    async def ain_bulk(self, keys: Optional[Iterable[str]] = None) -> Dict[str, D]:
        """:meth:`in_bulk`, awaitable."""
        qs = self.filter(key__in=list(keys)) if keys is not None else self
        objs = await qs._runner().arun(qs._fetch_op())
        return {obj.key: obj for obj in objs if obj.key is not None}

    # -- aggregation --------------------------------------------------------------------

    def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> Dict[str, Any]:
        """``aggregate(Avg("age"), oldest=Max("age"))`` -> ``{"age__avg": ..., "oldest": ...}``."""
        return self._runner().run(self._aggregate_op(args, kwargs))

    async def aaggregate(self, *args: Aggregate, **kwargs: Aggregate) -> Dict[str, Any]:
        """:meth:`aggregate`, awaitable."""
        return cast(Dict[str, Any], await self._runner().arun(self._aggregate_op(args, kwargs)))

    def _aggregate_op(self, args: Sequence[Aggregate], kwargs: Mapping[str, Aggregate]
                      ) -> Op[Dict[str, Any]]:
        named: Dict[str, Aggregate] = {a.default_alias(): a for a in args}
        named.update(kwargs)
        if not named:
            raise exc.ValidationError("aggregate() needs at least one aggregate")
        self._refuse_with_pending("aggregate()")
        items = list(named.items())
        aggregates = [(f"a{i}", a.func, a.expression) for i, (_, a) in enumerate(items)]
        specs = self._aggregate_specs([a for _, a in items])
        scales = [a.scale(s) for (_, a), s in zip(items, specs, strict=True)]
        compiled = compile_aggregate(self._spec(), [], aggregates, scales=scales)
        rows = (yield from self._query_op(compiled)) if not self._empty else []
        row = rows[0] if rows else {}
        return {name: agg.finish(row, f"a{i}", specs[i]) for i, (name, agg) in enumerate(items)}

    def _aggregate_specs(self, aggregates: Sequence[Aggregate]) -> List[Any]:
        """The model field each aggregate reads (None for ``Count()`` or an expression).

        ``Sum``/``Avg`` of a field that holds no numbers (a date, a text) is refused,
        as Django refuses it.
        """
        builder = self._builder()
        specs = [a.expression.spec(builder) if a.expression is not None else None
                 for a in aggregates]
        for agg, spec in zip(aggregates, specs, strict=True):
            if agg.func in ("sum", "avg") and spec is not None and spec.kind not in (
                    "number", "decimal", "any", "bool"):
                raise exc.FieldError(
                    f"{type(agg).__name__} needs a number field; {spec.label} is a "
                    f"{spec.kind} field")
        return specs

    def annotate(self, **aggregates: Aggregate) -> List[Dict[str, Any]]:
        """Group by the fields named in ``values(...)`` and aggregate each group.

        Returns a list of dicts, ordered by the group values (or by
        ``order_by`` names given before, which may name aggregates).
        """
        return self._runner().run(self._annotate_op(aggregates))

    async def aannotate(self, **aggregates: Aggregate) -> List[Dict[str, Any]]:
        """:meth:`annotate`, awaitable."""
        return cast(List[Dict[str, Any]],
                    await self._runner().arun(self._annotate_op(aggregates)))

    def _annotate_op(self, aggregates: Mapping[str, Aggregate]) -> Op[List[Dict[str, Any]]]:
        if self._projection[0] != "values" or self._as_tuples:
            raise exc.ValidationError("annotate() groups by values(...): call values() first")
        if not aggregates:
            raise exc.ValidationError("annotate() needs at least one aggregate")
        self._refuse_with_pending("annotate()")
        keys = self._values_keys
        paths = self._projection[2]
        groups = [(f"g{i}", F(p)) for i, p in enumerate(paths)]
        items = list(aggregates.items())
        aggs = [(f"a{i}", a.func, a.expression) for i, (_, a) in enumerate(items)]
        specs = self._aggregate_specs([a for _, a in items])
        scales = [a.scale(s) for (_, a), s in zip(items, specs, strict=True)]
        order: List[Tuple[str, bool]] = []
        names_to_slot = {k: f"g{i}" for i, k in enumerate(keys)}
        names_to_slot.update({n: f"a{i}" for i, (n, _) in enumerate(items)})
        for term in self._order:
            expr = term.expression
            if not isinstance(expr, F) or len(expr.path) != 1 or expr.path[0] not in names_to_slot:
                raise exc.ValidationError("annotate() can order only by grouped or aggregate names")
            order.append((names_to_slot[str(expr.path[0])], term.descending))
        base = self._clone()
        base._projection = ("doc",)
        base._order = []
        compiled = compile_aggregate(base._spec(), groups, aggs, order, scales=scales)
        rows = (yield from self._query_op(compiled)) if not self._empty else []
        out = []
        group_specs = self.__dict__.get("_values_specs") or ()
        for row in rows:
            item = {k: row.get(f"g{i}") for i, k in enumerate(keys)}
            for k, spec in zip(keys, group_specs, strict=False):
                if spec is not None:  # a group value in the field's type, as values() gives
                    item[k] = spec.from_stored(item[k])
            for i, (name, agg) in enumerate(items):
                item[name] = agg.finish(row, f"a{i}", specs[i])
            out.append(item)
        return out

    def _refuse_with_pending(self, what: str) -> None:
        session = self._active_session()
        if session is not None and session.touches(self.model):
            raise exc.SessionError(
                f"{what} runs on the server, which cannot see this session's uncommitted "
                f"changes to {self.model.__name__}: commit first"
            )

    # -- writes -------------------------------------------------------------------------

    def update(self, **fields: Any) -> int:
        """Set fields on every matching document in one statement; returns how many.

        Values may be F expressions: ``update(views=F("views") + 1)``.
        """
        return self._runner().run(self._update_op(fields))

    async def aupdate(self, **fields: Any) -> int:
        """:meth:`update`, awaitable."""
        return cast(int, await self._runner().arun(self._update_op(fields)))

    def _update_op(self, fields: Mapping[str, Any]) -> Op[int]:
        self._check_not_sliced("update")
        session = self._active_session()
        if session is not None:
            return (yield from self._update_in_session_op(fields))
        changes = {self.model.wire_name(k): v for k, v in fields.items()}
        for name, value in fields.items():
            if name in ("key", "id", "rev", "_key", "_id", "_rev"):
                raise exc.ValidationError(f"cannot update the system field {name!r}")
            if not isinstance(value, Expression) and name in self.model.model_fields:
                _check_field_value(self.model, name, value)
                changes[self.model.wire_name(name)] = _dump_field(self.model, name, value)
        compiled = compile_update(self._spec(), changes)
        return len((yield from self._query_op(compiled)))

    def delete(self) -> int:
        """Delete every matching document in one statement; returns how many."""
        return self._runner().run(self._delete_op())

    async def adelete(self) -> int:
        """:meth:`delete`, awaitable."""
        return cast(int, await self._runner().arun(self._delete_op()))

    def _delete_op(self) -> Op[int]:
        self._check_not_sliced("delete")
        session = self._active_session()
        if session is not None:
            objs = yield from self._fetch_op()
            for obj in objs:
                session.delete(obj)
            return len(objs)
        compiled = compile_delete(self._spec())
        return len((yield from self._query_op(compiled)))

    def _update_in_session_op(self, fields: Mapping[str, Any]) -> Op[int]:
        """The server refuses a writing query inside a transaction: change the objects instead.

        Every matching object is loaded into the session and changed there;
        the writes are staged at the next flush, atomically with the rest.
        """
        objs = yield from self._fetch_op()
        for obj in objs:
            view = obj.stored_view()
            for name, value in fields.items():
                if isinstance(value, Expression):
                    builder = self._builder()
                    shape = value.shape(builder)
                    value = eval_expr(shape, view, builder.values)
                setattr(obj, name, value)
        return len(objs)

    def explain(self) -> Dict[str, Any]:
        """The server's plan for this query."""
        return self.db.run(self._explain_op())

    async def aexplain(self) -> Dict[str, Any]:
        """:meth:`explain`, awaitable."""
        return cast(Dict[str, Any], await self.db.arun(self._explain_op()))

    def _explain_op(self) -> Op[Dict[str, Any]]:
        compiled = self.compile()
        db = self.db
        return (yield from db.ops.explain(db.name, compiled.sdbql, compiled.bind_vars))

    # -- creation helpers ---------------------------------------------------------------

    def create(self, **fields: Any) -> D:
        """Build a model instance from ``fields``, insert it, and return it saved."""
        obj = self.model(**fields)
        return obj.insert(using=self._db)

    async def acreate(self, **fields: Any) -> D:
        """:meth:`create`, awaitable."""
        obj = self.model(**fields)
        return await obj.ainsert(using=self._db)

    def bulk_create(self, objs: Iterable[D], batch_size: Optional[int] = None) -> List[D]:
        """Insert many documents with the bulk command: each batch is all-or-nothing.

        Keys are assigned client-side (random 128-bit hex) when missing, so
        the returned objects carry them.
        """
        return self.db.run(self._bulk_create_op(list(objs), batch_size))

    async def abulk_create(self, objs: Iterable[D], batch_size: Optional[int] = None
                           ) -> List[D]:
        """:meth:`bulk_create`, awaitable."""
        return cast(List[D], await self.db.arun(self._bulk_create_op(list(objs), batch_size)))

    def _bulk_create_op(self, items: List[D], batch_size: Optional[int]) -> Op[List[D]]:
        if batch_size is not None and batch_size < 1:
            raise exc.ValidationError("batch_size must be at least 1")
        db = self.db
        collection = self.model.collection_name()
        for obj in items:
            if not isinstance(obj, self.model):
                raise exc.ValidationError(f"bulk_create takes {self.model.__name__} objects")
        missing = [obj for obj in items if obj.key is None]
        entropy = os.urandom(16 * len(missing)).hex()  # one random 128-bit key each
        for i, obj in enumerate(missing):
            object.__setattr__(obj, "key", entropy[32 * i : 32 * (i + 1)])
        docs = self.model.to_wire_many(list(items))
        size = batch_size or len(docs) or 1
        for start in range(0, len(docs), size):
            yield from db.ops.bulk_insert(db.name, collection, docs[start : start + size])
        self.model.saved_in_bulk(list(items), docs, db)  # the bulk command answers only a count
        return items

    def get_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                      **lookups: Any) -> Tuple[D, bool]:
        """``(document, created)``: the one matching ``lookups``, else a new one.

        The new document has the plain (non-``__``) lookups as fields plus
        ``defaults``. When another writer creates it first and a unique index
        refuses the insert, the existing document is returned instead.

            user, created = User.objects.get_or_create(email="ann@example.com",
                                                       defaults={"name": "Ann"})
        """
        try:
            return self.get(**lookups), False
        except exc.DoesNotExist:
            pass
        try:
            return self.create(**self._create_fields(defaults, lookups)), True
        except exc.AlreadyExistsError:
            return self.get(**lookups), False

    async def aget_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                             **lookups: Any) -> Tuple[D, bool]:
        """:meth:`get_or_create`, awaitable."""
        try:
            return await self.aget(**lookups), False
        except exc.DoesNotExist:
            pass
        try:
            return await self.acreate(**self._create_fields(defaults, lookups)), True
        except exc.AlreadyExistsError:
            return await self.aget(**lookups), False

    @staticmethod
    def _create_fields(defaults: Optional[Mapping[str, Any]],
                       lookups: Mapping[str, Any]) -> Dict[str, Any]:
        fields = {k: v for k, v in lookups.items() if "__" not in k}
        fields.update(defaults or {})
        return fields

    def update_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                         **lookups: Any) -> Tuple[D, bool]:
        """``(document, created)``: the one matching ``lookups`` with ``defaults`` written to it,
        else a new one, as ``get_or_create`` makes it.
        """
        try:
            obj = self.get(**lookups)
        except exc.DoesNotExist:
            return self.get_or_create(defaults, **lookups)
        if defaults:
            obj.update(using=self._db, **dict(defaults))
        return obj, False

    async def aupdate_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                                **lookups: Any) -> Tuple[D, bool]:
        """:meth:`update_or_create`, awaitable."""
        try:
            obj = await self.aget(**lookups)
        except exc.DoesNotExist:
            return await self.aget_or_create(defaults, **lookups)
        if defaults:
            await obj.aupdate(using=self._db, **dict(defaults))
        return obj, False

    def raw(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[D]:
        """Run your own SDBQL; each returned document becomes a model instance."""
        return self.db.run(self._raw_op(sdbql, bind_vars))

    async def araw(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[D]:
        """:meth:`raw`, awaitable."""
        return cast(List[D], await self.db.arun(self._raw_op(sdbql, bind_vars)))

    def _raw_op(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]]) -> Op[List[D]]:
        db = self.db
        rows = yield from db.ops.query(db.name, sdbql, bind_vars)
        return [self.model.from_wire(r, db) for r in rows if isinstance(r, dict)]


class _Batches:
    """The steps of one read of a QuerySet's results, each an operation returning a batch.

    With ``query_first`` (list(), a for loop: most results are small) the
    first page is a query; the rest, or with iterator() everything, comes
    from one server-side cursor in batches (the server's largest when the
    rows are all kept), or from further pages where no cursor can serve
    (see ``QuerySet._rest_op``). ``cursor_id`` is the cursor still to read:
    whoever stops early frees it.
    """

    def __init__(self, qs: QuerySet[Any], chunk_size: int, *, query_first: bool) -> None:
        self.qs = qs
        self.pages = qs._pages(chunk_size)
        self.cursor_batch = MAX_BATCH if query_first else chunk_size
        self.skip = 0  # rows the first page read
        self.step = "first" if query_first else "cursor"
        self.cursor_id: Optional[str] = None
        self.done = qs._empty or qs._limit == 0  # qs[3:3] asks for nothing

    def next_op(self) -> Op[List[Any]]:
        """The next batch; ``done`` once there is none after it."""
        qs = self.qs
        if self.step == "first":
            objs = yield from self._page_op()
            self.step = "cursor"
            return objs
        if self.step == "pages":
            return (yield from self._page_op())
        if self.step == "cursor":
            page = yield from qs._rest_op(self.skip, self.cursor_batch)
            if page is None:  # no cursor here: page by page
                self.step = "pages"
                return (yield from self._page_op())
            self.step = "next"
        else:
            assert self.cursor_id is not None
            page = yield from next_page(self.cursor_id)
        self.cursor_id = page.cursor_id
        self.done = page.cursor_id is None
        return (yield from qs._hydrate_op(page.rows))

    def _page_op(self) -> Op[List[Any]]:
        found = next(self.pages, None)
        if found is None:
            self.done = True
            return []
        offset, take = found
        objs, more = yield from self.qs._page_op(offset, take)
        self.skip += take
        self.done = not more
        return objs


class Manager(QuerySet[D]):
    """``Model.objects``: the starting point of every query on a model.

    One Manager is shared by every use of ``Model.objects``, so it never
    keeps results: iterating it runs a fresh query each time.
    """

    def __init__(self, model: Type[D], using: Optional[Database] = None) -> None:
        super().__init__(model, using)
        self._keeps_results = False

    def _fetch_all(self) -> List[Any]:
        return self._runner().run(self._fetch_op())


def _check_field_value(model: Type[Document], name: str, value: Any) -> None:
    """Validate one field value against the model, as assignment would."""
    try:
        model.__pydantic_validator__.validate_assignment(
            model.model_construct(), name, value
        )
    except PydanticValidationError as err:
        raise exc.ValidationError(str(err)) from err


def _dump_field(model: Type[Document], name: str, value: Any) -> Any:
    """The value as stored (a Decimal as a number, a datetime in UTC ...)."""
    spec = model.field_spec((name,))
    return spec.prepare(value) if spec is not None else to_wire(value)
