"""Evaluate query shapes on plain Python documents, with the server's semantics.

The session uses this to show a query the objects it changed but has not
committed (the server's reads only see committed data). It works on the same
shapes the compiler renders, so both read one description of the query.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List, Mapping, Sequence, Tuple

from .. import exceptions as exc
from .expressions import DEREF, ShapeBuilder, kind
from .lookups import get_lookup
from .registry import get_transform

Shape = Tuple[Any, ...]
MISSING = None

_RANK = {None: 0, "bool": 1, "num": 2, "str": 3, "list": 4, "obj": 5}


def read_path(doc: Any, path: Sequence[Any]) -> Any:
    """A field's value, or None when any step is missing (as the server reads it)."""
    value = doc
    for segment in path:
        if segment is DEREF:
            raise exc.UnsupportedError(
                "a condition through a Reference cannot be applied to objects a session has "
                "changed but not saved: call session.flush() first"
            )
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                return None
            value = value[segment]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(segment)
    return value


def _has_path(doc: Any, path: Sequence[Any]) -> bool:
    parent = read_path(doc, path[:-1]) if len(path) > 1 else doc
    last = path[-1]
    if isinstance(last, int):
        return isinstance(parent, list) and len(parent) > last
    return isinstance(parent, dict) and last in parent


def eval_expr(shape: Shape, doc: Mapping[str, Any], values: Sequence[Any]) -> Any:
    tag = shape[0]
    if tag == "field":
        return read_path(doc, shape[1])
    if tag == "param":
        return values[shape[2]]
    if tag == "const":
        return shape[1]
    if tag == "list":
        return [eval_expr(part, doc, values) for part in shape[1]]
    if tag == "alts":  # spellings of one value (0 and -0.0): the first stands for all
        return eval_expr(shape[1][0], doc, values)
    if tag == "pair":
        return (eval_expr(shape[1], doc, values), eval_expr(shape[2], doc, values))
    if tag == "arith":
        lhs, rhs = eval_expr(shape[2], doc, values), eval_expr(shape[3], doc, values)
        if kind(lhs) != "num" or kind(rhs) != "num":
            return None
        op = shape[1]
        if op in ("/", "%") and rhs == 0:
            return None
        return {"+": lambda: lhs + rhs, "-": lambda: lhs - rhs, "*": lambda: lhs * rhs,
                "/": lambda: lhs / rhs, "%": lambda: _server_mod(lhs, rhs)}[op]()
    if tag == "transform":
        inner = eval_expr(shape[2], doc, values)
        return get_transform(shape[1]).evaluate(inner, shape[3])
    raise ValueError(f"cannot evaluate {tag!r}")


def _server_mod(a: Any, b: Any) -> Any:
    """Remainder with the sign of the dividend (Rust's %), not Python's."""
    import math

    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else int(
        math.fmod(a, b)
    )


def eval_predicate(shape: Shape, doc: Mapping[str, Any], values: Sequence[Any]) -> bool:
    tag = shape[0]
    if tag == "true":
        return True
    if tag == "and":
        return all(eval_predicate(c, doc, values) for c in shape[1])
    if tag == "or":
        return any(eval_predicate(c, doc, values) for c in shape[1])
    if tag == "not":
        return not eval_predicate(shape[1], doc, values)
    if tag == "lookup":
        name, lhs_shape, rhs_shape = shape[1], shape[2], shape[3]
        if name == "exists":
            return _has_path(doc, lhs_shape[1]) == bool(rhs_shape[1])
        lhs = eval_expr(lhs_shape, doc, values)
        rhs = eval_expr(rhs_shape, doc, values)
        lookup = get_lookup(name)
        if rhs_shape[0] == "field" or rhs_shape[0] in ("arith", "transform"):
            return _compare_expr(name, lhs, rhs, lookup)
        return bool(lookup.evaluate(lhs, rhs))
    raise ValueError(f"cannot evaluate {tag!r}")


def _compare_expr(name: str, lhs: Any, rhs: Any, lookup: Any) -> bool:
    """Field-to-field comparisons: null never matches, kinds must agree."""
    if name in ("exact",):
        return lhs is not None and bool(lookup.evaluate(lhs, rhs))
    if name == "ne":
        return not (lhs is not None and bool(get_lookup("exact").evaluate(lhs, rhs)))
    return bool(lookup.evaluate(lhs, rhs)) if rhs is not None else False


def sort_key(value: Any) -> Any:
    """The server's total order: null < bool < number < string < list < object."""
    k = kind(value)
    rank = _RANK.get(k, 6)
    if k == "str":
        return (rank, value.encode("utf-8"))
    if k == "list":
        return (rank, tuple(sort_key(v) for v in value))
    if k == "obj":  # the sorted key lists first, then the values in key order
        keys = sorted(value)
        return (rank, (tuple(keys), tuple(sort_key(value[key]) for key in keys)))
    if k is None:
        return (rank, 0)
    return (rank, value)


def matcher(predicates: Sequence[Any], resolve: Callable[[Any], Any],
            describe: Any = None) -> Callable[[Mapping[str, Any]], bool]:
    """A function telling whether a stored document matches every predicate."""
    builder = ShapeBuilder(resolve, describe)
    shapes = [p.shape(builder) for p in predicates]
    values = builder.values

    def matches(doc: Mapping[str, Any]) -> bool:
        return all(eval_predicate(s, doc, values) for s in shapes)

    return matches


def order_documents(
    docs: List[Any], order: Sequence[Any], resolve: Callable[[Any], Any],
    as_dict: Callable[[Any], Mapping[str, Any]], describe: Any = None,
) -> List[Any]:
    """Sort like the server's SORT (stable, one key after another)."""
    builder = ShapeBuilder(resolve, describe)
    terms = [(o.expression.shape(builder), o.descending) for o in order]
    values = builder.values

    def compare(a: Any, b: Any) -> int:
        da, db = as_dict(a), as_dict(b)
        for shape, descending in terms:
            ka = sort_key(eval_expr(shape, da, values))
            kb = sort_key(eval_expr(shape, db, values))
            if ka != kb:
                result = -1 if ka < kb else 1
                return -result if descending else result
        return 0

    return sorted(docs, key=functools.cmp_to_key(compare))
