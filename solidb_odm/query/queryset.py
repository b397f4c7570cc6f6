"""Lazy, chainable queries over a model: ``User.objects.filter(age__gt=25)``.

Every chained call returns a new QuerySet (the original is never changed).
Nothing reaches the server until the QuerySet is iterated, counted, sliced to
a single item, or asked explicitly (``get``, ``exists``, ``update`` ...).
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
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
    overload,
)

from .. import _context
from .. import exceptions as exc
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
from .expressions import (
    Everything,
    Expression,
    F,
    Not,
    OrderBy,
    Predicate,
    ShapeBuilder,
    lookups_to_predicate,
    split_path,
)

if TYPE_CHECKING:
    from ..database import Database
    from ..models import Document, Edge

D = TypeVar("D", bound="Document")

#: Rows fetched per round trip while iterating (a response must stay under 16 MiB).
DEFAULT_CHUNK_SIZE = 2000
REL_PREFIX = "__odm_rel__"


class QuerySet(Generic[D]):
    """A query over one model's collection; see the module docstring."""

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
        self._session: Any = None
        #: a QuerySet keeps what it fetched; the shared Manager never does
        self._keeps_results = True
        #: set on the committed-data query a session overlays (no overlay of its own)
        self._bypass_overlay = False

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
        if self._db is not None:
            return self._db
        if self._session is not None:
            return self._session.db  # type: ignore[no-any-return]
        return self.model.database()

    def _active_session(self) -> Any:
        """The session results go through: the QuerySet's own, or the thread's ``with``."""
        if self._session is not None:
            return self._session
        if not _context.open_sessions():
            return None
        return _context.current_for(self.db)

    def _overlaid(self) -> Optional[List[Any]]:
        """Objects with the session's unflushed/uncommitted changes applied, if it has any."""
        if self._bypass_overlay:
            return None
        session = self._active_session()
        if session is None or not session._touches(self.model):
            return None
        return session._overlay(self)  # type: ignore[no-any-return]

    def using(self, db: Database) -> QuerySet[D]:
        """Run this query against another database."""
        clone = self._clone()
        clone._db = db
        return clone

    # -- building ---------------------------------------------------------------

    def all(self) -> QuerySet[D]:
        return self._clone()

    def none(self) -> QuerySet[D]:
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
        return clone

    @staticmethod
    def _order_term(term: Union[str, OrderBy, Expression, int]) -> OrderBy:
        if isinstance(term, OrderBy):
            return term
        if isinstance(term, Expression):
            return term.asc()
        if isinstance(term, str):
            if term.startswith("-"):
                return F(term[1:]).desc()
            return F(term.lstrip("+")).asc()
        raise exc.ValidationError(f"cannot order by {term!r}")

    def reverse(self) -> QuerySet[D]:
        clone = self._clone()
        clone._order = [-o for o in (self._order or [F("_key").asc()])]
        return clone

    def distinct(self) -> QuerySet[D]:
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

    def select_related(self, *fields: str) -> QuerySet[D]:
        """Load referenced documents in the same query (a DOCUMENT() join)."""
        refs = self.model.references()
        for name in fields:
            if name not in refs:
                raise exc.ValidationError(f"{self.model.__name__}.{name} is not a Reference field")
        clone = self._clone()
        clone._select_related = tuple(dict.fromkeys((*self._select_related, *fields)))
        return clone

    def prefetch_related(self, *fields: str) -> QuerySet[D]:
        """Load referenced documents with one more query per field, after the main one."""
        refs = self.model.references()
        for name in fields:
            if name not in refs:
                raise exc.ValidationError(f"{self.model.__name__}.{name} is not a Reference field")
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
        from ..models import local_id

        start_id = local_id(start) if isinstance(start, str) else start.ref
        if not start_id:
            raise exc.ValidationError("traversal start needs a saved document or an id")
        if direction not in ("outbound", "inbound", "any"):
            raise exc.ValidationError("direction is 'outbound', 'inbound' or 'any'")
        clone = self._clone()
        clone._traversal = (direction, min_depth, max_depth, start_id, edge.collection_name())
        return clone

    def _check_fields(self, predicate: Predicate) -> None:
        """Refuse paths into fields that cannot hold them now, as Django does at filter()."""
        for path in predicate.fields():
            self.model.wire_path(path)

    def _check_not_sliced(self, what: str) -> None:
        if self._offset is not None or self._limit is not None:
            raise exc.ValidationError(f"cannot {what} a query once a slice has been taken")

    # -- compiling ---------------------------------------------------------------

    def _spec(self) -> SelectSpec:
        joins = tuple(
            (self.model.wire_name(name), refs_target, REL_PREFIX + name)
            for name in self._select_related
            for refs_target in [self.model.references()[name].target.collection_name()]
        )
        return SelectSpec(
            collection=self.model.collection_name(),
            where=tuple(self._where) if not self._empty else (Not(Everything()),),
            order=tuple(self._order),
            offset=self._offset,
            limit=self._limit,
            projection=self._projection,
            distinct=self._distinct,
            traversal=self._traversal,
            joins=joins,
            resolve=self.model.wire_path,
        )

    def compile(self) -> CompiledQuery:
        """The SDBQL text and bind variables this QuerySet sends."""
        return compile_select(self._spec())

    def _page(self, offset: int, limit: int) -> CompiledQuery:
        """The query for one page, memoised: a QuerySet never changes once built."""
        cache = self.__dict__.setdefault("_page_cache", {})
        compiled = cache.get((offset, limit))
        if compiled is None:
            page = self._clone()
            page._offset, page._limit = offset, limit
            compiled = cache[(offset, limit)] = page.compile()
        return compiled  # type: ignore[no-any-return]

    @property
    def sdbql(self) -> str:
        return self.compile().sdbql

    @property
    def bind_vars(self) -> Dict[str, Any]:
        return self.compile().bind_vars

    def __str__(self) -> str:
        return self.sdbql

    def _run(self, compiled: CompiledQuery) -> List[Any]:
        db = self.db
        return db.client.query(db.name, compiled.sdbql, compiled.bind_vars)

    # -- slicing -------------------------------------------------------------------

    @overload
    def __getitem__(self, item: int) -> D: ...

    @overload
    def __getitem__(self, item: slice) -> QuerySet[D]: ...

    def __getitem__(self, item: Union[int, slice]) -> Union[D, QuerySet[D]]:
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise exc.ValidationError("slices with a step are not supported")
            start, stop = item.start or 0, item.stop
            if start < 0 or (stop is not None and stop < 0):
                raise exc.ValidationError("negative indexing is not supported")
            if self._result_cache is not None:
                clone = self._clone()
                clone._result_cache = self._result_cache[item]
                return clone
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

    def _hydrate(self, rows: List[Any]) -> List[Any]:
        from ..models import state_of
        kind = self._projection[0]
        if kind == "values":
            keys = self._values_keys
            slots = self._projection[1]
            if self._as_tuples:
                if self._flat:
                    return [row[slots[0]] for row in rows]
                return [tuple(row[s] for s in slots) for row in rows]
            return [{k: row[s] for k, s in zip(keys, slots)} for row in rows]
        db = self.db
        model = self.model
        loaded = frozenset(self._projection[1]) if kind == "only" else None
        session = self._active_session()
        related_rows: List[Dict[str, Any]] = []
        if self._select_related:
            related_rows = [
                {n: row.pop(REL_PREFIX + n, None) for n in self._select_related} for row in rows
            ]
        out: List[Any] = model.from_wire_many(rows, db, loaded)
        if related_rows:
            refs = model.references()
            for obj, related in zip(out, related_rows):
                cache = state_of(obj).related
                for name, value in related.items():
                    target = refs[name].target
                    cache[name] = target.from_wire(value, db) if value else None
        if session is not None:
            out = [session._adopt(obj) for obj in out]
        if self._prefetch_related and out:
            self._prefetch(out)
        return out

    def _prefetch(self, objs: List[Any]) -> None:
        from ..models import local_id, state_of

        db = self.db
        refs = self.model.references()
        for name in self._prefetch_related:
            ids = sorted({getattr(o, name) for o in objs if getattr(o, name)})
            target = refs[name].target
            found: Dict[str, Any] = {}
            if ids:
                rows = db.client.query(
                    db.name, "FOR i IN @ids LET x = DOCUMENT(i) FILTER x != null RETURN x",
                    {"ids": ids},
                )
                found = {local_id(r["_id"]): target.from_wire(r, db) for r in rows}
            for obj in objs:
                state_of(obj).related[name] = found.get(getattr(obj, name))

    def _project_objects(self, objs: List[Any]) -> List[Any]:
        """Apply values()/values_list()/distinct to objects the session produced."""
        if self._projection[0] != "values":
            return objs
        from ..session import _stored_view
        from .evaluator import read_path

        paths = self._projection[2]
        rows = [{f"v{i}": read_path(_stored_view(o), p) for i, p in enumerate(paths)}
                for o in objs]
        out = self._hydrate(rows)
        if self._distinct:
            unique: List[Any] = []
            for row in out:
                if row not in unique:
                    unique.append(row)
            out = unique
        return out

    def _fetch_all(self) -> List[Any]:
        if self._result_cache is None:
            self._result_cache = list(self.iterator())
        return self._result_cache

    def iterator(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[D]:
        """Stream results page by page, without caching them on the QuerySet."""
        if self._empty:
            return
        if chunk_size < 1:
            raise exc.ValidationError("chunk_size must be at least 1")
        overlaid = self._overlaid()
        if overlaid is not None:
            yield from self._project_objects(overlaid)
            return
        if self._distinct:
            rows = self._run(self.compile())
            yield from self._hydrate(rows[0] if rows else [])
            return
        offset = self._offset or 0
        remaining = self._limit
        while remaining is None or remaining > 0:
            take = chunk_size if remaining is None else min(chunk_size, remaining)
            rows = self._run(self._page(offset, take + 1))  # one more row: is there a next page?
            yield from self._hydrate(rows[:take])
            if len(rows) <= take:
                return
            offset += take
            if remaining is not None:
                remaining -= take

    def __iter__(self) -> Iterator[D]:
        """Results page by page; once iterated to the end they are kept (as in Django)."""
        if self._result_cache is not None:
            return iter(self._result_cache)
        return self._stream()

    def _stream(self) -> Iterator[D]:
        seen: List[Any] = []
        for obj in self.iterator():
            seen.append(obj)
            yield obj
        if self._keeps_results:
            self._result_cache = seen

    def __len__(self) -> int:
        return len(self._fetch_all())

    def __bool__(self) -> bool:
        return bool(self._fetch_all())

    def __repr__(self) -> str:
        rows = list(self[:21]) if self._result_cache is None else self._result_cache[:21]
        text = ", ".join(repr(r) for r in rows[:20])
        more = ", ..." if len(rows) > 20 else ""
        return f"<QuerySet [{text}{more}]>"

    # -- single results -------------------------------------------------------------

    def get(self, *conditions: Union[Predicate, bool], **lookups: Any) -> D:
        """Exactly one document, else ``DoesNotExist`` / ``MultipleObjectsReturned``.

        ``get(key=...)`` on an unfiltered QuerySet is a direct read by key.
        """
        if (
            not conditions and len(lookups) == 1 and not self._where and not self._empty
            and self._traversal is None and self._projection == ("doc",)
            and not self._select_related and not self._prefetch_related
        ):
            ((name, value),) = lookups.items()
            if name in ("key", "pk", "_key") and isinstance(value, str):
                return self._get_by_key(value)
        qs = self.filter(*conditions, **lookups) if (conditions or lookups) else self
        rows = list(qs[:2])
        if not rows:
            raise exc.DoesNotExist(f"{self.model.__name__} matching query does not exist")
        if len(rows) > 1:
            raise exc.MultipleObjectsReturned(
                f"get() returned more than one {self.model.__name__}"
            )
        return rows[0]

    def _get_by_key(self, key: str) -> D:
        """A direct read (the session's object when one is active)."""
        session = self._active_session()
        if session is not None:
            found = session.get(self.model, key)
            if found is None:
                raise exc.DoesNotExist(f"{self.model.__name__} with key {key!r} does not exist")
            return found  # type: ignore[no-any-return]
        db = self.db
        try:
            row = db.client.get(db.name, self.model.collection_name(), key)
        except exc.NotFoundError as err:
            if "Document with key" not in str(err):
                raise
            raise exc.DoesNotExist(
                f"{self.model.__name__} with key {key!r} does not exist"
            ) from err
        return self.model.from_wire(row, db)

    def first(self) -> Optional[D]:
        qs = self if self._order else self.order_by("_key")
        rows = list(qs[:1])
        return rows[0] if rows else None

    def last(self) -> Optional[D]:
        qs = self.reverse() if self._order else self.order_by("-_key")
        rows = list(qs[:1])
        return rows[0] if rows else None

    def count(self) -> int:
        if self._result_cache is not None:
            return len(self._result_cache)
        if self._empty:
            return 0
        overlaid = self._overlaid()
        if overlaid is not None:
            return len(self._project_objects(overlaid))
        compiled = compile_count(self._spec())
        rows = self._run(compiled)
        return int(rows[0]) if rows else 0

    def exists(self) -> bool:
        if self._result_cache is not None:
            return bool(self._result_cache)
        overlaid = self._overlaid()
        if overlaid is not None:
            return bool(overlaid)
        qs = self.values("key")[:1]
        return bool(qs._run(qs.compile()))

    def in_bulk(self, keys: Optional[Iterable[str]] = None) -> Dict[str, D]:
        """``{key: document}`` for the given keys (or every matching document)."""
        qs = self.filter(key__in=list(keys)) if keys is not None else self
        return {obj.key: obj for obj in qs if obj.key is not None}

    # -- aggregation --------------------------------------------------------------------

    def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> Dict[str, Any]:
        """``aggregate(Avg("age"), oldest=Max("age"))`` -> ``{"age__avg": ..., "oldest": ...}``."""
        named: Dict[str, Aggregate] = {a.default_alias(): a for a in args}
        named.update(kwargs)
        if not named:
            raise exc.ValidationError("aggregate() needs at least one aggregate")
        self._refuse_with_pending("aggregate()")
        items = list(named.items())
        aggregates = [(f"a{i}", a.func, a.expression) for i, (_, a) in enumerate(items)]
        compiled = compile_aggregate(self._spec(), [], aggregates)
        rows = self._run(compiled) if not self._empty else []
        row = rows[0] if rows else {}
        return {name: agg.finish(row, f"a{i}") for i, (name, agg) in enumerate(items)}

    def annotate(self, **aggregates: Aggregate) -> List[Dict[str, Any]]:
        """Group by the fields named in ``values(...)`` and aggregate each group.

        Returns a list of dicts, ordered by the group values (or by
        ``order_by`` names given before, which may name aggregates).
        """
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
        compiled = compile_aggregate(base._spec(), groups, aggs, order)
        rows = self._run(compiled) if not self._empty else []
        out = []
        for row in rows:
            item = {k: row.get(f"g{i}") for i, k in enumerate(keys)}
            for i, (name, agg) in enumerate(items):
                item[name] = agg.finish(row, f"a{i}")
            out.append(item)
        return out

    def _refuse_with_pending(self, what: str) -> None:
        session = self._active_session()
        if session is not None and session._touches(self.model):
            raise exc.SessionError(
                f"{what} runs on the server, which cannot see this session's uncommitted "
                f"changes to {self.model.__name__}: commit first"
            )

    # -- writes -------------------------------------------------------------------------

    def update(self, **fields: Any) -> int:
        """Set fields on every matching document in one statement; returns how many.

        Values may be F expressions: ``update(views=F("views") + 1)``.
        """
        self._check_not_sliced("update")
        session = self._active_session()
        if session is not None:
            return self._update_in_session(session, fields)
        changes = {self.model.wire_name(k): v for k, v in fields.items()}
        for name, value in fields.items():
            if name in ("key", "id", "rev", "_key", "_id", "_rev"):
                raise exc.ValidationError(f"cannot update the system field {name!r}")
            if not isinstance(value, Expression) and name in self.model.model_fields:
                _check_field_value(self.model, name, value)
                changes[self.model.wire_name(name)] = _dump_field(self.model, name, value)
        compiled = compile_update(self._spec(), changes)
        return len(self._run(compiled))

    def delete(self) -> int:
        """Delete every matching document in one statement; returns how many."""
        self._check_not_sliced("delete")
        session = self._active_session()
        if session is not None:
            objs = list(self)
            for obj in objs:
                session.delete(obj)
            return len(objs)
        compiled = compile_delete(self._spec())
        return len(self._run(compiled))

    def _update_in_session(self, session: Any, fields: Mapping[str, Any]) -> int:
        """The server refuses a writing query inside a transaction: change the objects instead.

        Every matching object is loaded into the session and changed there;
        the writes are staged at the next flush, atomically with the rest.
        """
        from ..session import _stored_view
        from .evaluator import eval_expr

        objs = list(self)
        for obj in objs:
            view = _stored_view(obj)
            for name, value in fields.items():
                if isinstance(value, Expression):
                    builder = ShapeBuilder(self.model.wire_path)
                    shape = value.shape(builder)
                    value = eval_expr(shape, view, builder.values)
                setattr(obj, name, value)
        return len(objs)

    def explain(self) -> Dict[str, Any]:
        """The server's plan for this query."""
        compiled = self.compile()
        db = self.db
        return db.client.explain(db.name, compiled.sdbql, compiled.bind_vars)

    # -- creation helpers ---------------------------------------------------------------

    def create(self, **fields: Any) -> D:
        obj = self.model(**fields)
        obj.insert(using=self._db)
        return obj

    def bulk_create(self, objs: Iterable[D], batch_size: Optional[int] = None) -> List[D]:
        """Insert many documents with the bulk command: each batch is all-or-nothing.

        Keys are assigned client-side (UUIDs) when missing, so the returned
        objects carry them.
        """
        import os

        from ..models import OdmState, _attach

        items = list(objs)
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
        docs = [obj.to_wire() for obj in items]
        size = batch_size or len(docs) or 1
        for start in range(0, len(docs), size):
            db.client.bulk_insert(db.name, collection, docs[start : start + size])
        setattr_ = object.__setattr__
        for obj, doc in zip(items, docs):
            doc_id = f"{db.name}:{collection}/{doc['_key']}"
            setattr_(obj, "id", doc_id)
            setattr_(obj, "rev", None)  # the bulk command answers only a count
            _attach(obj, OdmState(db, {**doc, "_id": doc_id}))
        return items

    def get_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                      **lookups: Any) -> Tuple[D, bool]:
        try:
            return self.get(**lookups), False
        except exc.DoesNotExist:
            pass
        fields = {k: v for k, v in lookups.items() if "__" not in k}
        fields.update(defaults or {})
        try:
            return self.create(**fields), True
        except exc.AlreadyExistsError:
            return self.get(**lookups), False

    def update_or_create(self, defaults: Optional[Mapping[str, Any]] = None,
                         **lookups: Any) -> Tuple[D, bool]:
        try:
            obj = self.get(**lookups)
        except exc.DoesNotExist:
            return self.get_or_create(defaults, **lookups)
        if defaults:
            obj.update(using=self._db, **dict(defaults))
        return obj, False

    def raw(self, sdbql: str, bind_vars: Optional[Mapping[str, Any]] = None) -> List[D]:
        """Run your own SDBQL; each returned document becomes a model instance."""
        db = self.db
        rows = db.client.query(db.name, sdbql, bind_vars)
        return [self.model.from_wire(r, db) for r in rows if isinstance(r, dict)]


class Manager(QuerySet[D]):
    """``Model.objects``: the starting point of every query on a model.

    One Manager is shared by every use of ``Model.objects``, so it never
    keeps results: iterating it runs a fresh query each time.
    """

    def __init__(self, model: Type[D], using: Optional[Database] = None) -> None:
        super().__init__(model, using)
        self._keeps_results = False

    def _fetch_all(self) -> List[Any]:
        return list(self.iterator())


def _check_field_value(model: Type[Document], name: str, value: Any) -> None:
    """Validate one field value against the model, as assignment would."""
    from pydantic import ValidationError as PydanticValidationError

    try:
        model.__pydantic_validator__.validate_assignment(
            model.model_construct(), name, value
        )
    except PydanticValidationError as err:
        raise exc.ValidationError(str(err)) from err


def _dump_field(model: Type[Document], name: str, value: Any) -> Any:
    from .expressions import to_wire

    return to_wire(value)
