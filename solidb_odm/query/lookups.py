"""Lookups: small named conditions (``gt``, ``icontains`` ...) in an open registry.

Each lookup knows three things: how its value enters the query shape, how to
render itself as SDBQL, and how to evaluate itself on a plain Python document
(the session uses that to apply filters to objects it has not flushed yet).

Semantics follow Django, with a document that lacks a field or holds null
behaving like a NULL column:

- a comparison only matches a value of the same kind (numbers with numbers,
  strings with strings): a missing field, null, or a value of another type
  never matches ``gt``/``contains``/..., so ``exclude(...)`` keeps them;
- ``exact=None`` is ``isnull=True``; ``in`` ignores ``None`` in its list;
- ``contains`` is element membership on a list and a substring test on a
  string; case-sensitive lookups are case-sensitive; ``%`` and ``_`` are
  ordinary characters (no LIKE patterns are ever built).

Third parties add lookups with :func:`register_lookup`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from .. import exceptions as exc
from .expressions import Expression, F, Lookup, ShapeBuilder, Transform, kind, to_wire
from .registry import (
    get_lookup,
    get_transform,
    has_lookup,
    register_lookup,
    registered_lookups,
    registered_transforms,
)
from .transforms import prepare_output

__all__ = ["BaseLookup", "get_lookup", "has_lookup", "register_lookup", "registered_lookups"]

Shape = Tuple[Any, ...]
Render = Callable[[str], str]

#: Field kinds (``solidb_odm.resolution``) that hold text on the server.
TEXT_KINDS: FrozenSet[str] = frozenset(
    {"text", "uuid", "enum", "any", "ref", "datetime", "date", "time"})
ORDERED_KINDS: FrozenSet[str] = frozenset(
    {"number", "decimal", "datetime", "date", "time", "text", "uuid", "enum", "bool", "any", "ref"})
LIST_KINDS: FrozenSet[str] = frozenset({"list", "any"})

_GUARDS = {"num": "IS_NUMBER", "bignum": "IS_NUMBER", "str": "IS_STRING", "bool": "IS_BOOL",
           "list": "IS_ARRAY", "obj": "IS_OBJECT"}




# -- Python-side helpers -----------------------------------------------------


def json_equal(a: Any, b: Any) -> bool:
    """Equality as the server sees it: numbers by value, bools never equal numbers."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=False))
    if ka == "obj":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if ka == "num":
        if isinstance(a, int) and isinstance(b, int):  # exact, as the server compares integers
            return a == b
        return float(a) == float(b)
    return bool(a == b)


def json_in(value: Any, items: Any) -> bool:
    return isinstance(items, list) and any(json_equal(value, item) for item in items)


class BaseLookup:
    """A lookup. Subclasses set ``name`` and implement ``render`` and ``evaluate``.

    A lookup has two halves because a query runs in two places: on the
    server (``render``, SDBQL) and, for objects a session has changed but
    not committed, in Python (``evaluate``). Both must give the same answer.

        @register_lookup
        class DivisibleBy(BaseLookup):
            name = "divisible_by"

            def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
                return f"(IS_NUMBER({lhs}) AND {lhs} % {rhs} == 0)"

            def evaluate(self, lhs: Any, rhs: Any) -> bool:
                return isinstance(lhs, (int, float)) and not isinstance(lhs, bool) and lhs % rhs == 0

        User.objects.filter(age__divisible_by=5)
    """

    name = ""
    #: the field kinds it applies to (``solidb_odm.resolution``); None for every kind
    kinds: Optional[FrozenSet[str]] = None

    def prepare(self, value: Any) -> Any:
        """Check and normalise the user's value; raise ``ValidationError`` if unusable."""
        return value

    def prepare_for(self, lookup: Lookup, builder: ShapeBuilder) -> Any:
        """The value, prepared by the field (or transform) it is compared with, then checked.

        This is Django's ``get_prep_value``: ``age="30"`` compares with 30, a
        datetime is bound in UTC, a document stands for its id.
        """
        value = lookup.value
        spec = check_applies(self, lookup, builder)
        if isinstance(lookup.lhs, Transform):
            label = getattr(lookup.lhs.inner.spec(builder), "label", "value")
            value = self.prepare_transformed(get_transform(lookup.lhs.name), value, label)
        elif spec is not None:
            value = self.prepare_with(spec, value)
        return self.prepare(value)

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        """The value compared with a transform's result (``year``: an integer ...)."""
        return prepare_output(transform, value, label)

    def prepare_with(self, spec: Any, value: Any) -> Any:
        """The value through the field's own type (``spec.prepare``)."""
        return spec.prepare(value)

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        value = lookup.value
        if isinstance(value, Expression):
            check_applies(self, lookup, builder)
            rhs = value.shape(builder)
        else:
            rhs = builder.param(self.prepare_for(lookup, builder))
        return ("lookup", self.name, lookup.lhs.shape(builder), rhs)

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        """The SDBQL condition for ``lhs`` (the field's SDBQL) and ``rhs`` (a placeholder or an
        expression); ``rhs_type`` is the bound value's kind (``"num"``, ``"str"``, ``"bool"``,
        ``"list"``, ``"obj"``), or ``"expr"`` for an expression.
        """
        raise NotImplementedError

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        """The same test in Python, on a field value and the prepared value."""
        raise NotImplementedError


#: Bounds that keep a comparison to one kind without a function call. SDBQL orders every
#: value: ``null < false < true < numbers < strings < arrays < objects``, so a number is
#: ``> true`` and ``< ""``, a string ``>= ""`` and ``< []``, a boolean ``>= false`` and
#: ``<= true``. ``x > @p`` (a number) is then ``x > @p AND x < ""``; ``x < @p`` is
#: ``x < @p AND x > true`` (null and missing, the smallest, never pass). The bound the
#: user gave comes first: the server serves a range from the first comparison it finds.
_ABOVE = {"num": '< ""', "str": "< []", "bool": "<= true"}
_BELOW = {"num": "> true", "str": '>= ""', "bool": ">= false"}


def _bounded_compare(rhs_type: str, lhs: str, op: str, rhs: str) -> Optional[str]:
    """``lhs op rhs`` matching only values of the bound's kind, or None for other kinds."""
    other = (_ABOVE if op[0] == ">" else _BELOW).get(rhs_type)
    if other is None:
        return None
    return f"({lhs} {op} {rhs} AND {lhs} {other})"


def _guard(rhs_type: str, lhs: str, rhs: str) -> str:
    """Make a comparison match only values of the same kind (never null)."""
    if rhs_type in _GUARDS:
        return f"{_GUARDS[rhs_type]}({lhs})"
    return (
        f"((IS_NUMBER({lhs}) AND IS_NUMBER({rhs})) OR (IS_STRING({lhs}) AND IS_STRING({rhs}))"
        f" OR (IS_BOOL({lhs}) AND IS_BOOL({rhs})))"
    )


def _comparable(value: Any, lookup: str) -> Any:
    wire = to_wire(value)
    if kind(wire) not in ("num", "str", "bool"):
        raise exc.ValidationError(
            f"{lookup} needs a number, string, date or boolean, got {value!r}"
        )
    return wire


def check_applies(lookup_obj: BaseLookup, lookup: Lookup, builder: ShapeBuilder) -> Any:
    """The field spec of the lookup's field; raises if the lookup does not apply to it."""
    spec = lookup.lhs.spec(builder)
    kinds = lookup_obj.kinds
    if spec is not None and kinds is not None and spec.kind not in kinds:
        valid = applicable_lookups(spec.kind)
        raise exc.FieldError(
            f"the lookup {lookup_obj.name!r} does not apply to {spec.label}, a {spec.kind} field; "
            f"its lookups: {', '.join(valid)}"
        )
    return spec


def applicable_lookups(field_kind: str, *, transforms: bool = False) -> List[str]:
    """The lookup names (and, with ``transforms``, transform names) that apply to a field of
    this kind, sorted: what error messages list."""
    names = [n for n in registered_lookups()
             if get_lookup(n).kinds is None or field_kind in (get_lookup(n).kinds or ())]
    if transforms:
        names += [n for n, t in registered_transforms().items() if field_kind in t.applies_to]
    return sorted(names)


def _each(spec: Any, values: Any) -> Any:
    """Each of a list of values prepared by the field (None kept for ``in``'s rule)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        return values  # refused by prepare()
    return [None if v is None else spec.prepare(v) for v in values]


def bounded(lookup: Lookup, builder: ShapeBuilder, op: str) -> Optional[Shape]:
    """``year``/``date`` compared with a constant, as a range on the field itself.

    ``published_at__year=2024`` is ``"2024-01-01T00:00:00.000000Z" <= published_at
    <= "2024-12-31T23:59:59.999999Z"``, which an index on the field serves.
    None when the lookup is not of that form.
    """
    lhs = lookup.lhs
    if not isinstance(lhs, Transform) or isinstance(lookup.value, Expression):
        return None
    if not isinstance(lhs.inner, F):
        return None
    transform = get_transform(lhs.name)
    source = lhs.checked_source(builder)
    label = getattr(lhs.inner.spec(builder), "label", "value")
    field = lhs.inner.shape(builder)
    if op == "range":
        if not isinstance(lookup.value, (tuple, list)) or len(lookup.value) != 2:
            raise exc.ValidationError("range needs a (low, high) pair")
        low_b = transform.bounds(prepare_output(transform, lookup.value[0], label), source)
        high_b = transform.bounds(prepare_output(transform, lookup.value[1], label), source)
        if low_b is None or high_b is None:
            return None
        return ("and", (("lookup", "gte", field, builder.param(low_b[0])),
                        ("lookup", "lte", field, builder.param(high_b[1]))))
    if lookup.value is None:
        return None
    bounds = transform.bounds(prepare_output(transform, lookup.value, label), source)
    if bounds is None:
        return None
    first, last = bounds
    if op == "exact":
        return ("and", (("lookup", "gte", field, builder.param(first)),
                        ("lookup", "lte", field, builder.param(last))))
    if op == ">":
        return ("lookup", "gt", field, builder.param(last))
    if op == ">=":
        return ("lookup", "gte", field, builder.param(first))
    if op == "<":
        return ("lookup", "lt", field, builder.param(first))
    if op == "<=":
        return ("lookup", "lte", field, builder.param(last))
    return None


# -- index-safe spellings ------------------------------------------------------
#
# The server's persistent indexes key a value by an encoding that tells apart
# values ``==`` holds equal: ``0`` and ``-0.0`` are two keys, and a list or an
# object is keyed by its JSON text (``[1]`` and ``[1.0]`` differ). A FILTER
# served from such an index misses the documents holding the other spelling
# (checked on 2.6.0 by tests/query/test_differential.py). So:
#
# - an equality or ``in`` with zero looks up both zeros (the server turns a
#   ``-0.0`` bound into ``0`` before an index lookup, but not an ``IN`` list);
# - ``>= 0`` (also as the low end of a range) is sent as ``> -5e-324``: the
#   same test, since no number lies between the smallest negative double and
#   ``-0.0``, but the index range then starts below both zeros;
# - an equality or ``in`` with a list or an object reads the field through
#   ``??``, which no index serves, so the server compares every document.

#: The largest number below zero (the smallest negative subnormal double).
JUST_BELOW_ZERO = -5e-324


def _is_zero(value: Any) -> bool:
    return kind(value) == "num" and value == 0


def _with_both_zeros(items: List[Any]) -> List[Any]:
    if any(_is_zero(item) for item in items):
        items = [item for item in items if not _is_zero(item)] + [0.0, -0.0]
    return items


def _unindexed(lhs: str) -> str:
    """The same value, in a form no index serves (the server compares every document)."""
    return f"({lhs} ?? null)"


# -- equality ----------------------------------------------------------------


@register_lookup
class Exact(BaseLookup):
    name = "exact"

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        value = lookup.value
        if isinstance(value, Expression):
            return super().shape(lookup, builder)
        rewritten = bounded(lookup, builder, "exact")
        if rewritten is not None:
            return rewritten
        prepared = self.prepare_for(lookup, builder)
        lhs = lookup.lhs.shape(builder)
        if _is_zero(prepared):
            # both zeros, so that an index finds 0 and -0.0 alike (see above)
            return ("lookup", self.name, lhs, ("alts", (builder.param(0.0), builder.param(-0.0))))
        return ("lookup", self.name, lhs, builder.param(prepared))

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        if rhs_type == "null":
            return f"({lhs} == null)"
        if rhs_type == "expr":  # F() == F(): null never equals anything, as in SQL
            return f"({lhs} != null AND {lhs} == {rhs})"
        if rhs_type == "alts":
            return f"({lhs} IN {rhs})"
        if rhs_type in ("list", "obj"):
            return f"({_unindexed(lhs)} == {rhs})"
        return f"({lhs} == {rhs})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        if rhs is None:
            return lhs is None
        return json_equal(lhs, rhs)


@register_lookup
class NotEqual(BaseLookup):
    """``ne``: the negation of ``exact`` (so null and missing fields match)."""

    name = "ne"

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"NOT {Exact().render(lhs, rhs, rhs_type)}"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return not Exact().evaluate(lhs, rhs)


@register_lookup
class IExact(BaseLookup):
    name = "iexact"
    kinds = TEXT_KINDS

    def prepare_with(self, spec: Any, value: Any) -> Any:
        return value

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        return value

    def prepare(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise exc.ValidationError(f"iexact needs a string, got {value!r}")
        return value

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        if rhs_type == "null":
            return f"({lhs} == null)"
        return f"(IS_STRING({lhs}) AND LOWER({lhs}) == LOWER({rhs}))"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        if rhs is None:
            return lhs is None
        return isinstance(lhs, str) and lhs.lower() == rhs.lower()


# -- ordering comparisons ----------------------------------------------------


class _Compare(BaseLookup):
    op = ""
    kinds = ORDERED_KINDS

    def prepare(self, value: Any) -> Any:
        if value is None:
            raise exc.ValidationError(f"{self.name} cannot compare with None; use isnull")
        return _comparable(value, self.name)

    def prepare_with(self, spec: Any, value: Any) -> Any:
        if value is None:
            raise exc.ValidationError(f"{self.name} cannot compare with None; use isnull")
        return spec.prepare(value)

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        value = lookup.value
        if isinstance(value, Expression):
            return super().shape(lookup, builder)
        rewritten = bounded(lookup, builder, self.op)
        if rewritten is not None:
            return rewritten
        prepared = self.prepare_for(lookup, builder)
        lhs = lookup.lhs.shape(builder)
        if self.op == ">=" and _is_zero(prepared):
            # ">= 0" as "> -5e-324", so that an index range also finds -0.0 (see above)
            return ("lookup", "gt", lhs, builder.param(JUST_BELOW_ZERO))
        return ("lookup", self.name, lhs, builder.param(prepared))

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        # an index range over a huge integer misses its float-equal neighbours
        bounded_text = _bounded_compare(rhs_type, lhs, self.op, rhs)
        if bounded_text is not None:
            return bounded_text
        read = _unindexed(lhs) if rhs_type == "bignum" else lhs
        return f"({_guard(rhs_type, lhs, rhs)} AND {read} {self.op} {rhs})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        k = kind(lhs)
        if k is None or k != kind(rhs) or k not in ("num", "str", "bool"):
            return False
        if k == "str":  # the server compares strings by bytes (UTF-8), not code points
            lhs, rhs = lhs.encode("utf-8"), rhs.encode("utf-8")
        return bool(_PY_OPS[self.op](lhs, rhs))


_PY_OPS: Dict[str, Callable[[Any, Any], Any]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@register_lookup
class GreaterThan(_Compare):
    name, op = "gt", ">"


@register_lookup
class GreaterThanOrEqual(_Compare):
    name, op = "gte", ">="


@register_lookup
class LessThan(_Compare):
    name, op = "lt", "<"


@register_lookup
class LessThanOrEqual(_Compare):
    name, op = "lte", "<="


@register_lookup
class Range(BaseLookup):
    """``range=(low, high)``: both ends included, as in Django."""

    name = "range"
    kinds = ORDERED_KINDS

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        value = lookup.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise exc.ValidationError("range needs a (low, high) pair")
        rewritten = bounded(lookup, builder, "range")
        if rewritten is not None:
            return rewritten
        spec = check_applies(self, lookup, builder)
        if isinstance(lookup.lhs, Transform):
            label = getattr(lookup.lhs.inner.spec(builder), "label", "value")
            value = [prepare_output(get_transform(lookup.lhs.name), v, label) for v in value]
        elif spec is not None:
            value = [spec.prepare(v) for v in value]
        low, high = (_comparable(v, "range") for v in value)
        if kind(low) != kind(high):
            raise exc.ValidationError("range ends must be of the same kind")
        lhs = lookup.lhs.shape(builder)
        if _is_zero(low):  # ">= 0" as "> -5e-324" (see above)
            return ("and", (("lookup", "gt", lhs, builder.param(JUST_BELOW_ZERO)),
                            ("lookup", "lte", lhs, builder.param(high))))
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**53
               for v in (low, high)):  # each end as its own comparison (see _Compare)
            return ("and", (("lookup", "gte", lhs, builder.param(low)),
                            ("lookup", "lte", lhs, builder.param(high))))
        return ("lookup", self.name, lhs, ("pair", builder.param(low), builder.param(high)))

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        low, high = rhs.split(",")
        if rhs_type in _ABOVE:
            # both ends of one kind (checked in shape()): only that kind lies between them
            return f"({lhs} >= {low} AND {lhs} <= {high})"
        return f"({_guard(rhs_type, lhs, low)} AND {lhs} >= {low} AND {lhs} <= {high})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        low, high = rhs
        return GreaterThanOrEqual().evaluate(lhs, low) and LessThanOrEqual().evaluate(lhs, high)


# -- membership --------------------------------------------------------------


@register_lookup
class In(BaseLookup):
    name = "in"

    def prepare_with(self, spec: Any, value: Any) -> Any:
        return _each(spec, value)

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            return value  # refused by prepare()
        return [None if v is None else prepare_output(transform, v, label) for v in value]

    def prepare(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise exc.ValidationError(f"in needs a list of values, got {value!r}")
        return _with_both_zeros([v for v in to_wire(list(value)) if v is not None])

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        value = lookup.value
        if isinstance(value, (list, tuple)) and any(isinstance(v, Expression) for v in value):
            # fields among the values (``num__in=[F("other"), 3]``): a list built per row
            spec = check_applies(self, lookup, builder)
            parts = tuple(
                v.shape(builder) if isinstance(v, Expression)
                else builder.param(spec.prepare(v) if spec is not None else to_wire(v))
                for v in value if v is not None)
            return ("lookup", self.name, lookup.lhs.shape(builder), ("list", parts))
        shaped = super().shape(lookup, builder)
        rhs = shaped[3]
        if rhs[0] == "param" and any(kind(v) in ("list", "obj") for v in builder.values[rhs[2]]):
            # lists or objects among the values: keep the field away from indexes
            shaped = (*shaped[:3], ("param", "containers", rhs[2]))
        return shaped

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        read = _unindexed(lhs) if rhs_type == "containers" else lhs
        if rhs_type in ("list", "containers"):
            # a bound list never holds null (prepare() drops None): null and missing never match
            return f"({read} IN {rhs})"
        return f"({lhs} != null AND {read} IN {rhs})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return lhs is not None and json_in(lhs, rhs)


@register_lookup
class NotIn(In):
    """``nin``: the negation of ``in`` (null and missing fields match)."""

    name = "nin"

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"NOT {In().render(lhs, rhs, rhs_type)}"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return not In().evaluate(lhs, rhs)


@register_lookup
class Contains(BaseLookup):
    """Element of a list, or substring of a string (case-sensitive)."""

    name = "contains"
    kinds = TEXT_KINDS | LIST_KINDS

    def prepare_with(self, spec: Any, value: Any) -> Any:
        if value is None:
            raise exc.ValidationError("contains cannot look for None")
        if spec.kind == "list" and spec.element is not None:
            return spec.element.prepare(value)
        if spec.kind in TEXT_KINDS and spec.kind != "any" and not isinstance(value, str):
            raise exc.ValidationError(f"{spec.label}__contains needs a string, got {value!r}")
        return value

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        return value

    def prepare(self, value: Any) -> Any:
        if value is None:
            raise exc.ValidationError("contains cannot look for None")
        return to_wire(value)

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        in_list = f"(IS_ARRAY({lhs}) AND {rhs} IN {lhs})"
        if rhs_type == "str":
            return f"({in_list} OR (IS_STRING({lhs}) AND CONTAINS({lhs}, {rhs})))"
        return in_list

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        if isinstance(lhs, list):
            return json_in(rhs, lhs)
        return isinstance(lhs, str) and isinstance(rhs, str) and rhs in lhs


class _StringLookup(BaseLookup):
    """A string test; a non-string field never matches."""

    kinds = TEXT_KINDS

    def prepare_with(self, spec: Any, value: Any) -> Any:
        return value  # a part of a text, not a value of the field

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        return value

    def prepare(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise exc.ValidationError(f"{self.name} needs a string, got {value!r}")
        return value

    def test(self, lhs: str, rhs: str) -> str:
        raise NotImplementedError

    def py_test(self, lhs: str, rhs: str) -> bool:
        raise NotImplementedError

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"(IS_STRING({lhs}) AND {self.test(lhs, rhs)})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return isinstance(lhs, str) and self.py_test(lhs, rhs)


@register_lookup
class IContains(_StringLookup):
    name = "icontains"

    def test(self, lhs: str, rhs: str) -> str:
        return f"CONTAINS(LOWER({lhs}), LOWER({rhs}))"

    def py_test(self, lhs: str, rhs: str) -> bool:
        return rhs.lower() in lhs.lower()


@register_lookup
class StartsWith(_StringLookup):
    name = "startswith"

    def test(self, lhs: str, rhs: str) -> str:
        return f"STARTS_WITH({lhs}, {rhs})"

    def py_test(self, lhs: str, rhs: str) -> bool:
        return lhs.startswith(rhs)


@register_lookup
class IStartsWith(_StringLookup):
    name = "istartswith"

    def test(self, lhs: str, rhs: str) -> str:
        return f"STARTS_WITH(LOWER({lhs}), LOWER({rhs}))"

    def py_test(self, lhs: str, rhs: str) -> bool:
        return lhs.lower().startswith(rhs.lower())


@register_lookup
class EndsWith(_StringLookup):
    name = "endswith"

    def test(self, lhs: str, rhs: str) -> str:
        return f"ENDS_WITH({lhs}, {rhs})"

    def py_test(self, lhs: str, rhs: str) -> bool:
        return lhs.endswith(rhs)


@register_lookup
class IEndsWith(_StringLookup):
    name = "iendswith"

    def test(self, lhs: str, rhs: str) -> str:
        return f"ENDS_WITH(LOWER({lhs}), LOWER({rhs}))"

    def py_test(self, lhs: str, rhs: str) -> bool:
        return lhs.lower().endswith(rhs.lower())


@register_lookup
class Regex(_StringLookup):
    """A regular expression in the server's (Rust ``regex``) syntax, unanchored."""

    name = "regex"

    def test(self, lhs: str, rhs: str) -> str:
        return f"REGEX_TEST({lhs}, {rhs})"

    def py_test(self, lhs: str, rhs: str) -> bool:
        try:
            return re.search(rhs, lhs) is not None
        except re.error:
            return False


@register_lookup
class IRegex(Regex):
    name = "iregex"

    def prepare(self, value: Any) -> Any:
        return "(?i)" + super().prepare(value)


# -- presence ----------------------------------------------------------------


@register_lookup
class IsNull(BaseLookup):
    name = "isnull"

    def prepare_with(self, spec: Any, value: Any) -> Any:
        return value

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        return value

    def prepare(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise exc.ValidationError("isnull takes True or False")
        return value

    def shape(self, lookup: Lookup, builder: ShapeBuilder) -> Shape:
        flag = self.prepare(lookup.value)
        return ("lookup", self.name, lookup.lhs.shape(builder), ("const", flag))

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"({lhs} == null)" if rhs == "true" else f"({lhs} != null)"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return (lhs is None) == bool(rhs)


@register_lookup
class Exists(IsNull):
    """The field is present (even if it holds null). Rendered by the compiler."""

    name = "exists"

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:  # pragma: no cover
        raise NotImplementedError("exists is rendered from the field path by the compiler")

    def evaluate(self, lhs: Any, rhs: Any) -> bool:  # pragma: no cover
        raise NotImplementedError("exists is evaluated from the document by the evaluator")


# -- lists -------------------------------------------------------------------


@register_lookup
class AnyOf(BaseLookup):
    """The list field holds at least one of the given values."""

    name = "any"
    kinds = LIST_KINDS

    def prepare_with(self, spec: Any, value: Any) -> Any:
        element = spec.element
        if element is None or isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            return value
        return [element.prepare(v) for v in value]

    def prepare(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise exc.ValidationError(f"{self.name} needs a list of values, got {value!r}")
        return to_wire(list(value))

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"(IS_ARRAY({lhs}) AND LENGTH((FOR x IN {rhs} FILTER x IN {lhs} RETURN 1)) > 0)"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return isinstance(lhs, list) and any(json_in(v, lhs) for v in rhs)


@register_lookup
class AllOf(AnyOf):
    """The list field holds every one of the given values."""

    name = "all"

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"(IS_ARRAY({lhs}) AND LENGTH((FOR x IN {rhs} FILTER x NOT IN {lhs} RETURN 1)) == 0)"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return isinstance(lhs, list) and all(json_in(v, lhs) for v in rhs)


@register_lookup
class Length(BaseLookup):
    """``len=3``: the number of elements of a list or characters of a string."""

    name = "len"
    kinds = frozenset({"list", "text", "any", "uuid", "enum", "ref"})

    def prepare_with(self, spec: Any, value: Any) -> Any:
        return value

    def prepare_transformed(self, transform: Any, value: Any, label: str) -> Any:
        return value

    def prepare(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise exc.ValidationError("len takes an integer")
        return value

    def render(self, lhs: str, rhs: str, rhs_type: str) -> str:
        return f"((IS_ARRAY({lhs}) OR IS_STRING({lhs})) AND LENGTH({lhs}) == {rhs})"

    def evaluate(self, lhs: Any, rhs: Any) -> bool:
        return isinstance(lhs, (list, str)) and len(lhs) == rhs
