"""The only code in the package that writes SDBQL text.

A query is first reduced to its *shape*: a hashable tuple that holds its
structure, the names in it and the type of each value, but no value. The text
depends on the shape alone, so it is rendered once per shape and cached; the
values travel as bind variables ``@p0``, ``@p1`` ... in the order the shape
builder collected them.

Rules the rendered text keeps, because the server needs them:

- every FILTER condition is total: it never errors and is always a boolean
  (the server treats an error inside FILTER as false, which would make
  ``NOT`` lie);
- each top-level conjunct gets its own FILTER clause (an index-served FILTER
  may skip the rest of its own clause);
- negation is always parenthesised (``NOT`` binds tighter than comparison);
- fields are read with bracket access (``d["order"]``), safe for keywords;
- collection names are validated and back-quoted; nothing else is inlined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import exceptions as exc
from .. import names
from .expressions import (
    DEREF,
    And,
    Expression,
    OrderBy,
    Path,
    Predicate,
    ShapeBuilder,
    list_position,
)
from .lookups import get_lookup
from .registry import get_transform

Shape = Tuple[Any, ...]
DOC = "d"


@dataclass(frozen=True)
class CompiledQuery:
    """SDBQL text and its bind variables, ready for ``client.query``."""

    sdbql: str
    bind_vars: Dict[str, Any]

    def __iter__(self) -> Any:  # lets ``sdbql, binds = qs.compile()`` work
        return iter((self.sdbql, self.bind_vars))


@dataclass
class SelectSpec:
    """What a QuerySet asks for, before it becomes a shape."""

    collection: str
    where: Sequence[Predicate] = ()
    order: Sequence[OrderBy] = ()
    offset: Optional[int] = None
    limit: Optional[int] = None
    #: ("doc",) | ("values", names, paths) | ("only", keep-names)
    projection: Tuple[Any, ...] = ("doc",)
    distinct: bool = False
    #: ("outbound"|"inbound"|"any", min, max, start_id, edge_collection) or None
    traversal: Optional[Tuple[Any, ...]] = None
    #: (field alias, target collection, output name) per select_related join, or
    #: ("reverse", referring field, referring collection, output name, own collection)
    joins: Sequence[Tuple[Any, ...]] = field(default_factory=tuple)
    #: maps Python field paths to stored ones (not part of the shape)
    resolve: Optional[Callable[[Path], Path]] = None
    #: gives the field spec of a Python path, to prepare values (not part of the shape)
    describe: Optional[Callable[[Path], Any]] = None


# -- shapes ------------------------------------------------------------------


def _source_shape(spec: SelectSpec, builder: ShapeBuilder) -> Shape:
    collection = names.collection_name(spec.collection)
    if spec.traversal is None:
        return ("scan", collection)
    direction, low, high, start, edges = spec.traversal
    if direction not in ("outbound", "inbound", "any"):
        raise exc.ValidationError(f"unknown traversal direction {direction!r}")
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
        raise exc.ValidationError("traversal depth must be 0 <= min <= max")
    return ("traverse", direction, low, high, builder.param(start),
            names.collection_name(edges), collection)


def _join_shape(join: Tuple[Any, ...]) -> Shape:
    """A select_related join, every name validated (they are written into the text)."""
    if join[0] == "reverse":
        _, referring, collection, out, own = join
        return ("reverse", names.field_segment(referring), names.collection_name(collection),
                names.field_segment(out), names.collection_name(own))
    alias, collection, out = join
    return (names.field_segment(alias), names.collection_name(collection),
            names.field_segment(out))


def select_shape(spec: SelectSpec, builder: ShapeBuilder) -> Shape:
    """The shape of a SELECT: source, filters, order, slice, projection."""
    source = _source_shape(spec, builder)
    filters: List[Shape] = []
    for predicate in spec.where:
        shaped = predicate.shape(builder)
        # one FILTER clause per top-level conjunct
        filters.extend(shaped[1] if shaped[0] == "and" else (shaped,))
    order = tuple((o.expression.shape(builder), o.descending) for o in spec.order)
    window: Shape = ()
    if spec.offset is not None or spec.limit is not None:
        window = (builder.param(spec.offset or 0),
                  builder.param(spec.limit if spec.limit is not None else 2**53))
    joins = tuple(_join_shape(join) for join in spec.joins)
    if window and not filters and not spec.distinct and source[0] == "scan":
        ordered_kind = _index_ordered_kind(spec, builder)
        if ordered_kind is not None:
            source = ("scan-ordered", source[1], ordered_kind in ("number", "decimal"))
    return ("select", source, tuple(filters), order, window, spec.projection,
            spec.distinct, joins)


#: Field kinds whose index orders its entries as SORT does: scalars (lists and objects are
#: keyed by their JSON text), and no free text (the index key puts "a" after "a\x00b": a
#: string holding NUL is out of order; tests/query/test_index_order.py). Datetimes, dates,
#: times and uuids are fixed-form text the ODM writes.
_INDEX_ORDERED_KINDS = frozenset({"number", "decimal", "datetime", "date", "time", "uuid", "bool"})


def _index_ordered_kind(spec: SelectSpec, builder: ShapeBuilder) -> Optional[str]:
    """The field kind when ``order_by("-f")[i:j]`` alone is on a top-level field whose index
    orders right, so that the server may read the page from it (see
    :func:`_render_index_ordered`); None otherwise."""
    if len(spec.order) != 1 or not spec.order[0].descending:
        return None
    expression = spec.order[0].expression
    shaped = expression.shape(ShapeBuilder(spec.resolve, spec.describe))
    if shaped[0] != "field" or len(shaped[1]) != 1 or not isinstance(shaped[1][0], str):
        return None
    kind = getattr(expression.spec(builder), "kind", None)
    return kind if kind in _INDEX_ORDERED_KINDS else None


# -- rendering -----------------------------------------------------------------


def field_text(path: Path) -> str:
    """SDBQL reading ``path`` from the document: ``d["a"]["b"]``.

    Names use bracket access (safe for keywords such as ``order``). A list
    position reads from a list only: the server's ``x[0]`` on an *object*
    reads its key ``"0"``, so ``tags__0`` is rendered as
    ``(IS_ARRAY(d["tags"]) ? d["tags"][0] : null)``, which is null for
    anything that is not a list, as a list position is documented to be.

    A Reference followed (``DEREF``) reads the referenced document:
    ``author__username`` is ``DOCUMENT(d["author"])["username"]``, null when
    the reference is not a string or the document is gone.
    """
    text = DOC
    for segment in path:
        if segment is DEREF:
            text = f"(IS_STRING({text}) ? DOCUMENT({text}) : null)"
            continue
        if isinstance(segment, int) and not isinstance(segment, bool):
            position = list_position(segment)
            text = f"(IS_ARRAY({text}) ? {text}[{position}] : null)"
        else:
            text += f'["{names.field_segment(segment)}"]'
    return text


def render_expr(shape: Shape) -> Tuple[str, str]:
    """Render a value expression; returns (text, value type for guards)."""
    tag = shape[0]
    if tag == "field":
        return field_text(shape[1]), "expr"
    if tag == "param":
        return f"@p{shape[2]}", shape[1]
    if tag == "const":
        return ("true" if shape[1] else "false"), "bool"
    if tag == "list":  # values and fields, as a list built for each document
        return "[" + ", ".join(render_expr(a)[0] for a in shape[1]) + "]", "exprs"
    if tag == "alts":  # equal values of several spellings, as a list
        return "[" + ", ".join(render_expr(a)[0] for a in shape[1]) + "]", "alts"
    if tag == "pair":
        low, ltype = render_expr(shape[1])
        high, _ = render_expr(shape[2])
        return f"{low},{high}", ltype
    if tag == "arith":
        lhs, _ = render_expr(shape[2])
        rhs, _ = render_expr(shape[3])
        op = shape[1]
        guard = f"IS_NUMBER({lhs}) AND IS_NUMBER({rhs})"
        if op in ("/", "%"):
            guard += f" AND {rhs} != 0"
        return f"(({guard}) ? ({lhs} {op} {rhs}) : null)", "expr"
    if tag == "transform":
        inner, _ = render_expr(shape[2])
        return get_transform(shape[1]).render(inner, shape[3]), "expr"
    raise exc.ValidationError(f"cannot render expression {tag!r}")  # pragma: no cover


def _exists(path: Path, flag: bool) -> str:
    parent = field_text(path[:-1])
    last = path[-1]
    if isinstance(last, int):
        test = f"(IS_ARRAY({parent}) AND LENGTH({parent}) > {last})"
    else:
        test = f'(IS_OBJECT({parent}) AND HAS({parent}, "{names.field_segment(last)}"))'
    return test if flag else f"(NOT {test})"


def render_predicate(shape: Shape) -> str:
    tag = shape[0]
    if tag == "true":
        return "true"
    if tag == "and":
        return "(" + " AND ".join(render_predicate(c) for c in shape[1]) + ")" if shape[1] else "true"
    if tag == "or":
        return "(" + " OR ".join(render_predicate(c) for c in shape[1]) + ")" if shape[1] else "false"
    if tag == "not":
        return f"(NOT {render_predicate(shape[1])})"
    if tag == "lookup":
        name, lhs_shape, rhs_shape = shape[1], shape[2], shape[3]
        if name == "exists":
            if lhs_shape[0] != "field":
                raise exc.ValidationError("exists applies to a field, not an expression")
            return _exists(lhs_shape[1], bool(rhs_shape[1]))
        lhs, _ = render_expr(lhs_shape)
        rhs, rhs_type = render_expr(rhs_shape)
        return get_lookup(name).render(lhs, rhs, rhs_type)
    raise exc.ValidationError(f"cannot render condition {tag!r}")  # pragma: no cover


def _render_source(source: Shape) -> str:
    if source[0] == "scan":
        return f"FOR {DOC} IN `{source[1]}`"
    _, direction, low, high, start, edges, collection = source
    start_text, _ = render_expr(start)
    # Traversals return vertices from any collection: keep the model's own
    # (the server reports _id as "db:collection/key").
    return (
        f"FOR {DOC} IN {low}..{high} {direction.upper()} {start_text} `{edges}`\n"
        f'FILTER IS_OBJECT({DOC}) AND (STARTS_WITH({DOC}["_id"], "{collection}/")'
        f' OR CONTAINS({DOC}["_id"], ":{collection}/"))'
    )


def _render_join(join: Shape) -> str:
    if join[0] == "reverse":
        # the referring documents, in one subquery per row (references hold "collection/key")
        _, referring, collection, out, own = join
        return (f'"{out}": (FOR r IN `{collection}` FILTER r["{referring}"] == '
                f'CONCAT("{own}/", {DOC}["_key"]) RETURN r)')
    alias, _collection, out = join
    return f'"{out}": (IS_STRING({DOC}["{alias}"]) ? DOCUMENT({DOC}["{alias}"]) : null)'


def _render_projection(projection: Tuple[Any, ...], joins: Sequence[Shape]) -> str:
    kind = projection[0]
    if kind == "values":
        keys, paths = projection[1], projection[2]
        items = ", ".join(f'"{k}": {field_text(p)}' for k, p in zip(keys, paths, strict=False))
        return "{" + items + "}"
    if kind == "one":  # count(): one constant per row
        return "1"
    if kind == "only":
        keep = ", ".join(f'"{names.field_segment(k)}"' for k in projection[1])
        return f"KEEP({DOC}, {keep})"
    if joins:
        merged = ", ".join(_render_join(join) for join in joins)
        return f"MERGE({DOC}, {{{merged}}})"
    return DOC


def _render_index_ordered(collection: str, sort: str, window: Shape, numbers: bool) -> str:
    """The rows of ``FOR d IN c SORT d.f DESC LIMIT o, n``, read from an index on ``f`` when
    it can be, and exactly the full sort's rows whatever the data.

    A lone ``FOR ... SORT ... LIMIT`` is served from an index on the sort field, which holds
    no entry for a null or missing value (tests/query/test_server_plans.py). Descending,
    those documents come last, so the index's page is the full sort's page whenever it is
    full; a short page (the nulls would fill it, or there is no index and the server sorted
    everything anyway) is asked again with ``FILTER true``, which keeps the full sort.
    Ascending, the nulls come first and no index can say how many there are: that order
    always takes the full sort.
    """
    offset, _ = render_expr(window[0])
    count, _ = render_expr(window[1])
    source = f"FOR {DOC} IN `{collection}`"
    tail = f"SORT {sort} DESC\nLIMIT {offset}, {count}\nRETURN {DOC}"
    full = f"LENGTH(top) == {count}"
    if numbers:
        # The index keys numbers as doubles: integers from 2**53 on may come out of order
        # among their float-equal neighbours. The page is in the index's order, so it holds
        # none when its first value is a number below 2**53 and its last one above -2**53
        # (anything between two such numbers is such a number); bigger values all precede
        # it, smaller ones follow it. Otherwise (or a string or boolean at either end) the
        # page is asked again of the full sort.
        first, last = sort.replace(f"{DOC}[", "top[0][", 1), sort.replace(f"{DOC}[", "top[-1][", 1)
        full += f" AND {first} < {2**53} AND {last} > {-(2**53)}"
    return (f"LET top = (\n{source}\n{tail}\n)\n"
            f"FOR {DOC} IN ({full} ? top : (\n{source}\nFILTER true\n{tail}\n))")


@lru_cache(maxsize=1024)
def render_select(shape: Shape) -> str:
    """SDBQL for a select shape (cached: one rendering per shape)."""
    _, source, filters, order, window, projection, distinct, joins = shape
    if source[0] == "scan-ordered":
        sort_text, _ = render_expr(order[0][0])
        body = _render_index_ordered(source[1], sort_text, window, source[2])
        return f"{body}\nRETURN {_render_projection(projection, joins)}"
    lines = [_render_source(source)]
    lines.extend(f"FILTER {render_predicate(f)}" for f in filters)
    if order and not filters:
        # A lone FOR + SORT may be served from an index, which has no entry
        # for documents whose sort field is null or missing: any FILTER
        # keeps the server on the full scan, which sees every document.
        lines.append("FILTER true")
    if order:
        terms = []
        for expr_shape, descending in order:
            text, _ = render_expr(expr_shape)
            terms.append(f"{text} {'DESC' if descending else 'ASC'}")
        lines.append("SORT " + ", ".join(terms))
    if window:
        offset, _ = render_expr(window[0])
        count, _ = render_expr(window[1])
        lines.append(f"LIMIT {offset}, {count}")
    body = "\n".join(lines)
    result = _render_projection(projection, joins)
    if distinct:
        # Order first, then keep the first of each distinct row.
        return f"LET rows = (\n{body}\nRETURN {result}\n)\nRETURN UNIQUE(rows)"
    return f"{body}\nRETURN {result}"


def bind_vars(values: Sequence[Any]) -> Dict[str, Any]:
    return {f"p{i}": v for i, v in enumerate(values)}


def compile_select(spec: SelectSpec) -> CompiledQuery:
    builder = ShapeBuilder(spec.resolve, spec.describe)
    shape = select_shape(spec, builder)
    return CompiledQuery(render_select(shape), bind_vars(builder.values))


# -- derived statements --------------------------------------------------------


@lru_cache(maxsize=512)
def render_count(shape: Shape) -> str:
    inner = render_select(shape)
    if shape[6]:  # distinct: inner already returns one list
        return f"LET r = (\n{inner}\n)\nRETURN LENGTH(r[0])"
    return f"RETURN LENGTH((\n{inner}\n))"


def _beyond_doubles(value: Any) -> bool:
    """Whether a bound value holds a number a double cannot tell from its neighbours."""
    if isinstance(value, list):
        return any(_beyond_doubles(v) for v in value)
    if isinstance(value, dict):
        return any(_beyond_doubles(v) for v in value.values())
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and abs(value) >= 2**53)


def compile_count(spec: SelectSpec) -> CompiledQuery:
    """``RETURN LENGTH((FOR ... RETURN 1))``: one equality on an indexed field is then counted
    from the index alone, without reading a document.

    That index-only count compares numbers as doubles (pinned by
    test_server_index_served_count_compares_large_integers_as_doubles), so a query binding a
    number of magnitude 2**53 or more returns ``{"k": d._key}`` per row instead, which the
    server counts the ordinary way (re-checking the FILTER on each document).
    """
    builder = ShapeBuilder(spec.resolve, spec.describe)
    shape = select_shape(spec, builder)
    if spec.projection == ("doc",) and not spec.distinct:
        exact = any(_beyond_doubles(v) for v in builder.values)
        projection = ("values", ("k",), (("_key",),)) if exact else ("one",)
        shape = (*shape[:5], projection, *shape[6:])
    return CompiledQuery(render_count(shape), bind_vars(builder.values))


def _assignment(expr: Any, builder: ShapeBuilder) -> Shape:
    if isinstance(expr, Expression):
        return expr.shape(builder)
    return builder.param(expr)


@lru_cache(maxsize=256)
def render_update(shape: Shape, assignments: Tuple[Tuple[str, Shape], ...]) -> str:
    select = render_select(shape)
    body = select[: select.rindex("\nRETURN ")]
    collection = shape[1][-1] if shape[1][0] == "traverse" else shape[1][1]
    items = ", ".join(f'"{name}": {render_expr(s)[0]}' for name, s in assignments)
    return f"{body}\nUPDATE {DOC} WITH {{{items}}} IN `{collection}`\nRETURN 1"


def compile_update(spec: SelectSpec, changes: Dict[str, Any]) -> CompiledQuery:
    if not changes:
        raise exc.ValidationError("update() needs at least one field")
    builder = ShapeBuilder(spec.resolve, spec.describe)
    shape = select_shape(spec, builder)
    assignments = tuple(
        (names.field_segment(name), _assignment(value, builder))
        for name, value in sorted(changes.items())
    )
    return CompiledQuery(render_update(shape, assignments), bind_vars(builder.values))


@lru_cache(maxsize=256)
def render_delete(shape: Shape) -> str:
    select = render_select(shape)
    body = select[: select.rindex("\nRETURN ")]
    collection = shape[1][-1] if shape[1][0] == "traverse" else shape[1][1]
    return f"{body}\nREMOVE {DOC} IN `{collection}`\nRETURN 1"


def compile_delete(spec: SelectSpec) -> CompiledQuery:
    builder = ShapeBuilder(spec.resolve, spec.describe)
    shape = select_shape(spec, builder)
    return CompiledQuery(render_delete(shape), bind_vars(builder.values))


# -- aggregation -----------------------------------------------------------------

AGGREGATES = ("count", "sum", "avg", "min", "max")


def _aggregate_terms(
    aggregates: Sequence[Tuple[str, str, Optional[Shape]]], prefix: str,
    scales: Sequence[Optional[int]] = (),
) -> List[str]:
    """AGGREGATE terms; each aggregate reads only values of the right kind.

    ``count`` of a field counts non-null values, ``count`` of nothing counts
    rows; ``avg`` is sent as a sum and a count (divided client-side) so that
    nulls are ignored, as in SQL.
    """
    terms: List[str] = []
    for i, (_, func, expr_shape) in enumerate(aggregates):
        value = render_expr(expr_shape)[0] if expr_shape is not None else None
        name = f"{prefix}{i}"
        scale = scales[i] if i < len(scales) else None
        if func == "count":
            terms.append(f"{name} = SUM({value} == null ? 0 : 1)" if value else f"{name} = SUM(1)")
        elif func in ("sum", "avg"):
            # a Decimal with declared places is summed as exact integers (scaled)
            summed = f"ROUND({value} * {10 ** int(scale)})" if scale is not None else value
            terms.append(f"{name} = SUM(IS_NUMBER({value}) ? {summed} : 0)")
            terms.append(f"{name}n = SUM(IS_NUMBER({value}) ? 1 : 0)")
        elif func in ("min", "max"):
            terms.append(
                f"{name} = {func.upper()}((IS_NUMBER({value}) OR IS_STRING({value})) ? {value} : null)"
            )
        else:
            raise exc.ValidationError(f"unknown aggregate {func!r}")
    return terms


@lru_cache(maxsize=256)
def render_aggregate(
    shape: Shape,
    groups: Tuple[Tuple[str, Shape], ...],
    aggregates: Tuple[Tuple[str, str, Optional[Shape]], ...],
    order: Tuple[Tuple[str, bool], ...],
    scales: Tuple[Optional[int], ...] = (),
) -> str:
    select = render_select(shape)
    body = select[: select.rindex("\nRETURN ")]
    collect = ", ".join(f"g{i} = {render_expr(s)[0]}" for i, (_, s) in enumerate(groups))
    terms = _aggregate_terms(aggregates, "a", scales)
    parts = [body, "COLLECT" + (f" {collect}" if collect else "")]
    if terms:
        parts[-1] += " AGGREGATE " + ", ".join(terms)
    out = [f'"{n}": g{i}' for i, (n, _) in enumerate(groups)]
    for i, (n, func, _) in enumerate(aggregates):
        out.append(f'"{n}": a{i}')
        if func in ("sum", "avg"):
            out.append(f'"{n}__n": a{i}n')
    if order:
        keys = {n: f"g{i}" for i, (n, _) in enumerate(groups)}
        keys.update({n: f"a{i}" for i, (n, _, _) in enumerate(aggregates)})
        parts.append("SORT " + ", ".join(
            f"{keys[n]} {'DESC' if d else 'ASC'}" for n, d in order))
    parts.append("RETURN {" + ", ".join(out) + "}")
    return "\n".join(parts)


def compile_aggregate(
    spec: SelectSpec,
    groups: Sequence[Tuple[str, Expression]],
    aggregates: Sequence[Tuple[str, str, Optional[Expression]]],
    order: Sequence[Tuple[str, bool]] = (),
    scales: Sequence[Optional[int]] = (),
) -> CompiledQuery:
    builder = ShapeBuilder(spec.resolve, spec.describe)
    base = SelectSpec(**{**spec.__dict__, "order": (), "projection": ("doc",)})
    shape = select_shape(base, builder)
    group_shapes = tuple((names.field_segment(n), e.shape(builder)) for n, e in groups)
    agg_shapes = tuple(
        (n, f, e.shape(builder) if e is not None else None) for n, f, e in aggregates
    )
    for n, f, _ in agg_shapes:
        names.field_segment(n)
        if f not in AGGREGATES:
            raise exc.ValidationError(f"unknown aggregate {f!r}")
    text = render_aggregate(shape, group_shapes, agg_shapes, tuple(order), tuple(scales))
    return CompiledQuery(text, bind_vars(builder.values))


def where_all(predicates: Sequence[Predicate]) -> Predicate:
    return predicates[0] if len(predicates) == 1 else And(predicates)
