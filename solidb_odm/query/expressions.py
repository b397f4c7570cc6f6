"""The immutable expression tree that queries are built from.

``F("a__b")`` (or ``User.a.b``) names a field; comparing it, or calling one of
its lookup methods, yields a ``Lookup``; ``Q`` objects and lookups combine with
``&``, ``|`` and ``~``. Nothing here writes SDBQL: the compiler turns the tree
into a *shape* (structure, with every value replaced by a typed placeholder)
plus the list of values, and renders the shape.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from pydantic_core import to_jsonable_python

from .. import exceptions as exc
from .. import names
from .registry import get_lookup, get_transform, has_lookup, has_transform


class Deref:
    """A path step that follows a Reference: ``author__username`` is ``("author", DEREF, "username")``."""

    __slots__ = ()
    _instance: Optional[Deref] = None

    def __new__(cls) -> Deref:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEREF"

    def __reduce__(self) -> str:
        return "DEREF"


DEREF = Deref()

PathSegment = Union[str, int, Deref]
Path = Tuple[PathSegment, ...]
LOOKUP_SEP = "__"
#: The largest list position a path may name. Positions are written into the
#: query text, and the server refuses integers beyond 64 bits there; no list
#: is longer than this anyway.
MAX_LIST_POSITION = 2**31 - 1


def list_position(index: object) -> int:
    """``index`` if it is a usable list position, else ``InvalidNameError``."""
    if isinstance(index, bool) or not isinstance(index, int) or not (
        0 <= index <= MAX_LIST_POSITION
    ):
        raise exc.InvalidNameError(
            f"invalid list position {index!r}: use an integer from 0 to {MAX_LIST_POSITION}"
        )
    return index


def split_path(text: str) -> Path:
    """``"address__city"`` -> ``("address", "city")``; digit segments are list positions."""
    if not isinstance(text, str) or not text:
        raise exc.InvalidNameError(f"invalid field path {text!r}")
    out: List[PathSegment] = []
    for part in text.split(LOOKUP_SEP):
        if part.isdigit() and part.isascii():
            digits = part.lstrip("0") or "0"
            if len(digits) > len(str(MAX_LIST_POSITION)):  # int() of a huge text is slow or fails
                raise exc.InvalidNameError(f"invalid list position {part!r} in {text!r}")
            out.append(list_position(int(digits)))
        else:
            out.append(names.field_segment(part))
    if isinstance(out[0], int):
        raise exc.InvalidNameError(f"a field path cannot start with a list position: {text!r}")
    return tuple(out)


def to_wire(value: Any) -> Any:
    """A Python value as the server stores it (what bind variables carry)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return to_wire(value.value)
    if isinstance(value, (_dt.date, _dt.time, _dt.timedelta, uuid.UUID, decimal.Decimal)):
        # the same text pydantic stores for these types, so equality holds
        return to_jsonable_python(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model (a Document is referenced by its id)
        doc_id = getattr(value, "id", None) if hasattr(value, "__collection__") else None
        if doc_id is not None:
            return doc_id
        return to_wire(dump(mode="json", by_alias=True))
    raise exc.ValidationError(f"cannot use a {type(value).__name__} as a query value")


def kind(value: Any) -> Optional[str]:
    """The comparable kind of a JSON value (None for null), as the server ranks them."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "obj"
    return "other"


def param_type(value: Any) -> str:
    """The placeholder type a value compiles to (part of the query shape)."""
    found = kind(value)
    if found == "other":
        raise exc.ValidationError(f"cannot use a {type(value).__name__} as a query value")
    if found == "num" and isinstance(value, int) and abs(value) >= 2**53:
        # From 2**53 on the server's indexes (keyed by float) cannot tell
        # neighbouring integers apart; comparisons must not be index-served.
        return "bignum"
    return found or "null"


class ShapeBuilder:
    """Collects values in order while the tree describes its shape.

    ``resolve`` turns a path of Python names into the stored path, and
    ``describe`` gives the field's spec (``solidb_odm.resolution.FieldSpec``),
    which lookups use to prepare values; both come from the model.
    """

    def __init__(self, resolve: Optional[Callable[[Path], Path]] = None,
                 describe: Optional[Callable[[Path], Any]] = None) -> None:
        self.values: List[Any] = []
        #: translates a model's Python field names into stored names
        self.resolve: Callable[[Path], Path] = resolve or (lambda path: path)
        self.describe: Callable[[Path], Any] = describe or (lambda path: None)

    def param(self, value: Any) -> Tuple[str, str, int]:
        wire = to_wire(value)
        self.values.append(wire)
        return ("param", param_type(wire), len(self.values) - 1)


# ---------------------------------------------------------------------------
# Value expressions
# ---------------------------------------------------------------------------


class Expression:
    """Something that has a value per document: a field, a constant, arithmetic."""

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        raise NotImplementedError

    def spec(self, builder: ShapeBuilder) -> Any:
        """The model field this expression reads as it is, if any (values compared with it
        are prepared by that field)."""
        return None

    def fields(self) -> Iterator[Path]:
        """Field paths this expression reads."""
        return iter(())

    # arithmetic ---------------------------------------------------------
    def _arith(self, op: str, other: Any, reverse: bool = False) -> Arithmetic:
        rhs = other if isinstance(other, Expression) else Value(other)
        return Arithmetic(op, rhs, self) if reverse else Arithmetic(op, self, rhs)

    def __add__(self, other: Any) -> Arithmetic:
        return self._arith("+", other)

    def __radd__(self, other: Any) -> Arithmetic:
        return self._arith("+", other, reverse=True)

    def __sub__(self, other: Any) -> Arithmetic:
        return self._arith("-", other)

    def __rsub__(self, other: Any) -> Arithmetic:
        return self._arith("-", other, reverse=True)

    def __mul__(self, other: Any) -> Arithmetic:
        return self._arith("*", other)

    def __rmul__(self, other: Any) -> Arithmetic:
        return self._arith("*", other, reverse=True)

    def __truediv__(self, other: Any) -> Arithmetic:
        return self._arith("/", other)

    def __mod__(self, other: Any) -> Arithmetic:
        return self._arith("%", other)

    # comparisons --------------------------------------------------------
    def _lookup(self, name: str, value: Any) -> Lookup:
        return Lookup(name, self, value)

    def __eq__(self, other: Any) -> Lookup:  # type: ignore[override]
        return self._lookup("exact", other)

    def __ne__(self, other: Any) -> Lookup:  # type: ignore[override]
        return self._lookup("ne", other)

    def __gt__(self, other: Any) -> Lookup:
        return self._lookup("gt", other)

    def __ge__(self, other: Any) -> Lookup:
        return self._lookup("gte", other)

    def __lt__(self, other: Any) -> Lookup:
        return self._lookup("lt", other)

    def __le__(self, other: Any) -> Lookup:
        return self._lookup("lte", other)

    __hash__ = object.__hash__

    # ordering -----------------------------------------------------------
    def asc(self) -> OrderBy:
        return OrderBy(self, descending=False)

    def desc(self) -> OrderBy:
        return OrderBy(self, descending=True)

    def __neg__(self) -> OrderBy:
        return self.desc()

    def __pos__(self) -> OrderBy:
        return self.asc()


class F(Expression):
    """A reference to a field of the current document: ``F("address__city")``.

    Attribute access goes deeper (``F("address").city``), indexing picks a
    list position (``F("tags")[0]``), and the lookup methods build filters.
    """

    __slots__ = ("path",)

    def __init__(self, path: Union[str, Path]) -> None:
        self.path: Path = split_path(path) if isinstance(path, str) else tuple(path)
        if not self.path:
            raise exc.InvalidNameError("empty field path")
        for segment in self.path:
            if isinstance(segment, int) and not isinstance(segment, bool):
                list_position(segment)
            else:
                names.field_segment(segment)

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return ("field", builder.resolve(self.path))

    def spec(self, builder: ShapeBuilder) -> Any:
        return builder.describe(self.path)

    def fields(self) -> Iterator[Path]:
        yield self.path

    def __getattr__(self, name: str) -> F:
        """A field inside this one: ``F("address").city`` is ``F("address__city")``."""
        if name.startswith("__"):
            raise AttributeError(name)
        return F((*self.path, names.field_segment(name)))

    def __getitem__(self, index: int) -> F:
        """A list position inside this field: ``F("tags")[0]``."""
        return F((*self.path, list_position(index)))

    def __repr__(self) -> str:
        return f"F({LOOKUP_SEP.join(map(str, self.path))!r})"

    # lookup methods (the registry has them all; these read well) --------
    def lookup(self, name: str, value: Any = True) -> Lookup:
        """The lookup ``name`` (any registered one, built in or added) with ``value``."""
        return Lookup(name, self, value)

    def iexact(self, value: str) -> Lookup:
        """Equal ignoring case."""
        return self.lookup("iexact", value)

    def contains(self, value: Any) -> Lookup:
        """A list holding ``value`` as an element, or a string holding it (case-sensitive)."""
        return self.lookup("contains", value)

    def icontains(self, value: str) -> Lookup:
        """A string holding ``value``, ignoring case."""
        return self.lookup("icontains", value)

    def startswith(self, value: str) -> Lookup:
        """A string starting with ``value``."""
        return self.lookup("startswith", value)

    def istartswith(self, value: str) -> Lookup:
        """A string starting with ``value``, ignoring case."""
        return self.lookup("istartswith", value)

    def endswith(self, value: str) -> Lookup:
        """A string ending with ``value``."""
        return self.lookup("endswith", value)

    def iendswith(self, value: str) -> Lookup:
        """A string ending with ``value``, ignoring case."""
        return self.lookup("iendswith", value)

    def regex(self, pattern: str) -> Lookup:
        """A string matching ``pattern`` (the server's Rust ``regex`` syntax)."""
        return self.lookup("regex", pattern)

    def iregex(self, pattern: str) -> Lookup:
        """A string matching ``pattern``, ignoring case."""
        return self.lookup("iregex", pattern)

    def in_(self, values: Sequence[Any]) -> Lookup:
        """One of ``values`` (``in`` is a keyword; the lookup is ``field__in``)."""
        return self.lookup("in", list(values))

    def not_in(self, values: Sequence[Any]) -> Lookup:
        """None of ``values``; null and missing fields match (``field__nin``)."""
        return self.lookup("nin", list(values))

    def isnull(self, flag: bool = True) -> Lookup:
        """Null or missing (``flag=False``: neither)."""
        return self.lookup("isnull", flag)

    def exists(self, flag: bool = True) -> Lookup:
        """The field is present, even if null (``flag=False``: absent)."""
        return self.lookup("exists", flag)

    def between(self, low: Any, high: Any) -> Lookup:
        """From ``low`` to ``high``, both included (``field__range``)."""
        return self.lookup("range", (low, high))

    def any(self, values: Sequence[Any]) -> Lookup:
        """A list holding at least one of ``values``."""
        return self.lookup("any", list(values))

    def all(self, values: Sequence[Any]) -> Lookup:
        """A list holding every one of ``values``."""
        return self.lookup("all", list(values))

    def transform(self, name: str) -> Transform:
        """A registered transform of this field: ``F("published_at").transform("year") >= 2024``."""
        return Transform(name, self)

    def len(self) -> Transform:
        """The number of elements or characters, to compare: ``F("tags").len() > 2``."""
        return Transform("len", self)

    def lower(self) -> Transform:
        """The string in lower case, to compare: ``F("name").lower() == "ann"``."""
        return Transform("lower", self)

    def upper(self) -> Transform:
        """The string in upper case, to compare."""
        return Transform("upper", self)


class Stored(F):
    """A stored field read as named, past the model: the escape hatch for undeclared fields.

    Names given to ``filter()``, ``order_by()`` ... must be declared on the
    model (a typo raises ``FieldError``). A field the model does not declare
    (written by another program, or before a rename) is reached explicitly:

        User.objects.filter(Stored("legacy_flag") == 1).order_by(Stored("imported_at"))

    Values compared with it are bound as given, without a field to prepare them.
    """

    __slots__ = ()

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return ("field", self.path)

    def spec(self, builder: ShapeBuilder) -> Any:
        return None

    def fields(self) -> Iterator[Path]:
        return iter(())

    def __getattr__(self, name: str) -> Stored:
        if name.startswith("__"):
            raise AttributeError(name)
        return Stored((*self.path, names.field_segment(name)))

    def __getitem__(self, index: int) -> Stored:
        return Stored((*self.path, list_position(index)))

    def __repr__(self) -> str:
        return f"Stored({LOOKUP_SEP.join(map(str, self.path))!r})"


class Value(Expression):
    """A constant; it always travels as a bind variable, never as query text.

    Plain Python values are wrapped in one where an expression is expected,
    so it is needed only to start an expression from a constant:
    ``Value(100) - F("score")``.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return builder.param(self.value)

    def __repr__(self) -> str:
        return f"Value({self.value!r})"


class Arithmetic(Expression):
    """``lhs op rhs``; null (or a non-number) on either side gives null, as in SQL."""

    OPS = ("+", "-", "*", "/", "%")

    def __init__(self, op: str, lhs: Expression, rhs: Expression) -> None:
        if op not in self.OPS:
            raise exc.ValidationError(f"unknown operator {op!r}")
        self.op, self.lhs, self.rhs = op, lhs, rhs

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return ("arith", self.op, self.lhs.shape(builder), self.rhs.shape(builder))

    def fields(self) -> Iterator[Path]:
        yield from self.lhs.fields()
        yield from self.rhs.fields()


class Transform(Expression):
    """A registered function of a field: ``len``, ``lower``, ``year``, ``date`` ...

    The shape names the kind of the field it reads (``"datetime"``, ``"date"``
    ...), because a stored date and a stored datetime hold their parts at
    different places.
    """

    def __init__(self, name: str, inner: Expression) -> None:
        get_transform(name)  # unknown names fail at construction
        self.name, self.inner = name, inner

    def spec(self, builder: ShapeBuilder) -> Any:
        """What the transform yields, as a field kind, so lookups and further transforms
        check what they apply to (``at__year__year`` is refused; ``at__date__year`` is not)."""
        inner = self.inner.spec(builder)
        if inner is None:
            return None
        self.checked_source(builder)
        kind = {"int": "number", "date": "date", "time": "time", "text": "text"}.get(
            get_transform(self.name).output, "any")
        return TransformOutput(kind, f"{inner.label}__{self.name}")

    def checked_source(self, builder: ShapeBuilder) -> Optional[str]:
        """The kind of the field read; ``FieldError`` if the transform does not apply to it."""
        spec = self.inner.spec(builder)
        source = getattr(spec, "kind", None)
        transform = get_transform(self.name)
        if spec is not None and source not in transform.applies_to:
            raise exc.FieldError(
                f"{spec.label} is a {source} field: the transform {self.name!r} applies to "
                f"{', '.join(sorted(transform.applies_to))} fields"
            )
        return source

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        source = self.checked_source(builder)
        return ("transform", self.name, self.inner.shape(builder), source)

    def fields(self) -> Iterator[Path]:
        return self.inner.fields()


class TransformOutput:
    """The kind of value a transform yields (a stand-in for a field spec)."""

    __slots__ = ("kind", "label")

    def __init__(self, kind: str, label: str) -> None:
        self.kind = kind
        self.label = label


class OrderBy:
    """One ordering term: an expression and a direction."""

    __slots__ = ("descending", "expression")

    def __init__(self, expression: Expression, descending: bool = False) -> None:
        self.expression = expression
        self.descending = descending

    def __neg__(self) -> OrderBy:
        return OrderBy(self.expression, not self.descending)

    def __repr__(self) -> str:
        return f"OrderBy({self.expression!r}, descending={self.descending})"


# ---------------------------------------------------------------------------
# Predicates
# ---------------------------------------------------------------------------


class Predicate:
    """Something true or false per document; combine with ``&``, ``|`` and ``~``."""

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        raise NotImplementedError

    def fields(self) -> Iterator[Path]:
        return iter(())

    def __and__(self, other: Any) -> Predicate:
        return And((self, as_predicate(other)))

    def __rand__(self, other: Any) -> Predicate:
        return And((as_predicate(other), self))

    def __or__(self, other: Any) -> Predicate:
        return Or((self, as_predicate(other)))

    def __ror__(self, other: Any) -> Predicate:
        return Or((as_predicate(other), self))

    def __invert__(self) -> Predicate:
        return Not(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a query condition has no truth value: combine conditions with &, | and ~ "
            "(not 'and', 'or', 'not'), and compare fields only inside filter()"
        )


class Lookup(Predicate):
    """``lhs <lookup> value``, e.g. ``F("age") > 25`` is ``Lookup("gt", F("age"), 25)``."""

    __slots__ = ("lhs", "name", "value")

    def __init__(self, name: str, lhs: Expression, value: Any) -> None:
        get_lookup(name)  # unknown names fail at construction, not at compile time
        self.name = name
        self.lhs = lhs
        self.value = value

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return get_lookup(self.name).shape(self, builder)

    def fields(self) -> Iterator[Path]:
        yield from self.lhs.fields()
        if isinstance(self.value, Expression):
            yield from self.value.fields()

    def __repr__(self) -> str:
        return f"Lookup({self.name!r}, {self.lhs!r}, {self.value!r})"


class And(Predicate):
    def __init__(self, children: Sequence[Predicate]) -> None:
        self.children = tuple(children)

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        kept = [c for c in self.children if not _is_empty(c)]
        if not kept:
            return ("true",)
        return ("and", tuple(c.shape(builder) for c in kept))

    def fields(self) -> Iterator[Path]:
        for child in self.children:
            yield from child.fields()


class Or(Predicate):
    def __init__(self, children: Sequence[Predicate]) -> None:
        self.children = tuple(children)

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        # an empty Q() is no condition: it drops out of an OR, as in Django
        kept = [c for c in self.children if not _is_empty(c)]
        if not kept:
            return ("true",)
        return ("or", tuple(c.shape(builder) for c in kept))

    def fields(self) -> Iterator[Path]:
        for child in self.children:
            yield from child.fields()


def _is_empty(predicate: Predicate) -> bool:
    """An empty ``Q()``: no condition at all (Django), so negating it is no condition too."""
    return isinstance(predicate, Q) and all(_is_empty(c) for c in predicate.children)


class Not(Predicate):
    def __init__(self, child: Predicate) -> None:
        self.child = child

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        if _is_empty(self.child):
            return ("true",)
        return ("not", self.child.shape(builder))

    def fields(self) -> Iterator[Path]:
        return self.child.fields()


class Q(Predicate):
    """Django-style keyword conditions: ``Q(age__gt=25) | Q(name__startswith="A")``.

    Several keywords in one ``Q`` are ANDed; ``|``, ``&`` and ``~`` combine
    and negate conditions, which keyword arguments to ``filter()`` alone cannot:

        User.objects.filter(Q(age__lt=18) | Q(tags__contains="admin"), ~Q(name="root"))
    """

    def __init__(self, *args: Predicate, **lookups: Any) -> None:
        parts: List[Predicate] = [as_predicate(a) for a in args]
        parts.extend(lookup_from_kwarg(k, v) for k, v in sorted(lookups.items()))
        self.children: Tuple[Predicate, ...] = tuple(parts)

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        kept = [c for c in self.children if not _is_empty(c)]
        if not kept:
            return ("true",)
        if len(kept) == 1:
            return kept[0].shape(builder)
        return ("and", tuple(c.shape(builder) for c in kept))

    def fields(self) -> Iterator[Path]:
        for child in self.children:
            yield from child.fields()


class Everything(Predicate):
    """The predicate that holds for every document (an empty ``Q()``)."""

    def shape(self, builder: ShapeBuilder) -> Tuple[Any, ...]:
        return ("true",)


def as_predicate(value: Any) -> Predicate:
    if isinstance(value, Predicate):
        return value
    raise exc.ValidationError(
        f"expected a query condition (Q, a field comparison or lookup), got {value!r}"
    )


def lookup_from_kwarg(key: str, value: Any) -> Predicate:
    """``age__gt=25`` -> ``Lookup("gt", F("age"), 25)``; ``tags__len__gt=2`` uses a transform."""
    if not isinstance(key, str) or not key:
        raise exc.InvalidNameError(f"invalid lookup {key!r}")
    parts = key.split(LOOKUP_SEP)
    lookup = "exact"
    if len(parts) > 1 and has_lookup(parts[-1]):
        lookup = parts.pop()
    transforms: List[str] = []
    while len(parts) > 1 and has_transform(parts[-1]):
        transforms.insert(0, parts.pop())
    if lookup == "len" and not transforms:
        transforms, lookup = ["len"], "exact"
    expr: Expression = F(LOOKUP_SEP.join(parts))
    for name in transforms:
        expr = Transform(name, expr)
    if lookup == "exact" and value is None:
        return Lookup("isnull", expr, True)
    return Lookup(lookup, expr, value)


def expression_from_name(name: str) -> Expression:
    """``"published_at__year"`` -> ``Transform("year", F("published_at"))``; a plain path
    stays an ``F`` (for ``order_by`` and ``values`` names)."""
    parts = name.split(LOOKUP_SEP)
    transforms: List[str] = []
    while len(parts) > 1 and has_transform(parts[-1]):
        transforms.insert(0, parts.pop())
    expr: Expression = F(LOOKUP_SEP.join(parts))
    for transform in transforms:
        expr = Transform(transform, expr)
    return expr


def lookups_to_predicate(args: Sequence[Any], kwargs: Dict[str, Any]) -> Optional[Predicate]:
    """The AND of positional conditions and keyword lookups (None when there are none)."""
    parts: List[Predicate] = [as_predicate(a) for a in args]
    parts.extend(lookup_from_kwarg(k, v) for k, v in sorted(kwargs.items()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)
