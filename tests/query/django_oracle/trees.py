"""Random queries as neutral trees, translated later to Django's and to the ODM's ``Q``.

Which string lookups are compared (SQLite is not PostgreSQL)
------------------------------------------------------------
Django means what its database means, and SQLite's string matching is not
PostgreSQL's: Django on SQLite writes ``contains``/``startswith``/``endswith``
as ``LIKE``, which ignores the case of ASCII letters, and ``iexact``/``icontains``/
``istartswith``/``iendswith`` as ``LIKE`` too, which does not fold non-ASCII
letters (PostgreSQL's ``UPPER`` does). So a string-lookup leaf is only
generated with a value for which those differences cannot show on these rows:

- case-sensitive ``contains``/``startswith``/``endswith``: for every stored
  string, the case-sensitive answer equals the ASCII-case-insensitive one;
- case-insensitive lookups: for every stored string, folding ASCII only,
  full ``str.lower()`` and full ``str.upper()`` all give the same answer.

A drawn value that fails its check is redrawn (the check runs over all rows,
so it holds for every tree the leaf ends up in). ``exact``, ``in``, ``gt``,
``range`` and ``order_by`` on strings are binary comparisons in SQLite (UTF-8
byte order, as PostgreSQL with ``COLLATE "C"``; a PostgreSQL database with a
linguistic collation orders differently), which is the ODM's documented order,
so they are compared on every value.
``None`` inside an ``__in`` list is dropped by Django 5.2 (``exclude()`` is
then the complement of ``filter()``); Django 6.1 makes a negated ``__in``
with ``None`` leave out the null rows too (``NOT (f IN (...) OR f IS NULL)``),
while ``filter()`` still never matches them. The ODM keeps 5.2's meaning, so
such lists are only generated under Django < 6.1 (see ``NONE_IN_LISTS``).
Aggregates over booleans (``Min``/``Max``/``Sum``/``Avg`` of a ``BooleanField``)
are SQLite-only (PostgreSQL has no ``max(boolean)``) and are not generated.

Features
--------
Every leaf, ordering and aggregate names its *features* (``"decimal:gt"``,
``"datetime__year:in"``, ``"F:date:lt"``, ``"str:order"``, ``"decimal:sum"`` and,
for aggregates, the field too: ``"amount:sum"``; ``"coerce:int"``); ``gaps.blocked`` keeps the features of known gaps out.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple, Union

import django

from solidb_odm.query import registry

from . import gaps
from .data import F_PAIRS, FIELDS, Row, Values, in_offset

COMPARE = ["exact", "gt", "gte", "lt", "lte", "in", "range"]
LOOKUPS: Dict[str, List[str]] = {
    "int": [*COMPARE, "isnull"],
    "float": [*COMPARE, "isnull"],
    "decimal": [*COMPARE, "isnull"],
    "datetime": [*COMPARE, "isnull"],
    "date": [*COMPARE, "isnull"],
    "time": COMPARE,
    "bool": ["exact", "in", "isnull"],
    "str": [*COMPARE, "isnull", "iexact", "contains", "icontains", "startswith",
            "istartswith", "endswith", "iendswith"],
}
#: whether ``__in`` lists may hold None (see the module docstring: Django 6.1 changed them)
NONE_IN_LISTS = django.VERSION < (6, 1)
CASE_SENSITIVE = {"contains", "startswith", "endswith"}
CASE_INSENSITIVE = {"iexact", "icontains", "istartswith", "iendswith"}
F_LOOKUPS = ["exact", "gt", "gte", "lt", "lte"]

#: transform -> (field kinds it applies to, kind of its result), as in Django
TRANSFORMS: Dict[str, Tuple[FrozenSet[str], str]] = {
    "year": (frozenset({"date", "datetime"}), "int"),
    "iso_year": (frozenset({"date", "datetime"}), "int"),
    "month": (frozenset({"date", "datetime"}), "int"),
    "day": (frozenset({"date", "datetime"}), "int"),
    "week": (frozenset({"date", "datetime"}), "int"),
    "week_day": (frozenset({"date", "datetime"}), "int"),
    "iso_week_day": (frozenset({"date", "datetime"}), "int"),
    "quarter": (frozenset({"date", "datetime"}), "int"),
    "hour": (frozenset({"datetime", "time"}), "int"),
    "minute": (frozenset({"datetime", "time"}), "int"),
    "second": (frozenset({"datetime", "time"}), "int"),
    "date": (frozenset({"datetime"}), "date"),
    "time": (frozenset({"datetime"}), "time"),
}


def transform_value(name: str, value: Any) -> Any:
    """What Django's transform gives for one value (in UTC), to draw realistic bounds."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
    table: Dict[str, Callable[[], Any]] = {
        "year": lambda: value.year, "iso_year": lambda: value.isocalendar()[0],
        "month": lambda: value.month, "day": lambda: value.day,
        "week": lambda: value.isocalendar()[1],
        "week_day": lambda: value.isoweekday() % 7 + 1, "iso_week_day": lambda: value.isoweekday(),
        "quarter": lambda: (value.month - 1) // 3 + 1,
        "hour": lambda: value.hour, "minute": lambda: value.minute,
        "second": lambda: value.second, "date": lambda: value.date(),
        "time": lambda: value.time(),
    }
    return table[name]()


def available_transforms() -> List[str]:
    """The transforms the ODM registers (the test grows as the ODM does).

    Transforms have a registry of their own (``has_transform``) next to the
    lookups' (``has_lookup``); either one counts.
    """
    has_transform = getattr(registry, "has_transform", registry.has_lookup)
    return [name for name in TRANSFORMS if has_transform(name) or registry.has_lookup(name)]


# -- the neutral tree ----------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """``F(name)``: another field of the same row."""

    name: str

    def __repr__(self) -> str:
        return f"F({self.name!r})"


@dataclass(frozen=True)
class Leaf:
    path: Tuple[str, ...]  # the field, then transforms
    lookup: str
    value: Any
    features: FrozenSet[str] = frozenset()

    @property
    def keyword(self) -> str:
        return "__".join((*self.path, self.lookup))

    def __repr__(self) -> str:
        return f"Q({self.keyword}={self.value!r})"


@dataclass(frozen=True)
class Node:
    op: str  # "and", "or", "not"
    children: Tuple[Tree, ...]

    def __repr__(self) -> str:
        if self.op == "not":
            return f"~{self.children[0]!r}"
        joiner = " & " if self.op == "and" else " | "
        return "(" + joiner.join(repr(c) for c in self.children) + ")"


Tree = Union[Leaf, Node]


@dataclass(frozen=True)
class Aggregate:
    alias: str
    func: str  # "Count", "Sum", "Avg", "Min", "Max"
    field: Optional[str]  # None: Count() of rows

    def __repr__(self) -> str:
        inner = "" if self.field is None else repr(self.field)
        return f"{self.alias}={self.func}({inner})"


@dataclass(frozen=True)
class Query:
    steps: Tuple[Tuple[str, Tree], ...]  # ("filter" | "exclude", tree)
    order: Tuple[str, ...] = ()  # empty, or ends with "key" / "-key": a total order
    window: Optional[Tuple[int, Optional[int]]] = None
    aggregates: Tuple[Aggregate, ...] = ()

    def __repr__(self) -> str:
        text = "qs"
        for method, tree in self.steps:
            text += f".{method}({tree!r})"
        if self.order:
            text += ".order_by(" + ", ".join(repr(o) for o in self.order) + ")"
        if self.window:
            start, stop = self.window
            text += f"[{start}:{'' if stop is None else stop}]"
        if self.aggregates:
            text += "  then .aggregate(" + ", ".join(repr(a) for a in self.aggregates) + ")"
        return text


def leaves(tree: Tree) -> List[Leaf]:
    if isinstance(tree, Leaf):
        return [tree]
    return [leaf for child in tree.children for leaf in leaves(child)]


def subtrees(tree: Tree) -> List[Tree]:
    """Every subtree, smallest first (for reducing a disagreement)."""
    if isinstance(tree, Leaf):
        return [tree]
    found = [sub for child in tree.children for sub in subtrees(child)]
    return [*sorted(found, key=lambda t: len(leaves(t))), tree]


# -- string checks: where SQLite and Django-on-PostgreSQL agree -------------------------


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


_STRING_OPS: Dict[str, Callable[[str, str], bool]] = {
    "exact": lambda a, b: a == b,
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
}


def string_lookup_defined(lookup: str, value: str, stored: Sequence[str]) -> bool:
    """Whether SQLite's LIKE and the lookup's intended meaning agree for every stored string."""
    if lookup in CASE_SENSITIVE:
        op = _STRING_OPS[lookup]
        return all(op(s, value) == op(_ascii_lower(s), _ascii_lower(value)) for s in stored)
    op = _STRING_OPS["exact" if lookup == "iexact" else lookup[1:]]
    return all(
        op(_ascii_lower(s), _ascii_lower(value)) == op(s.lower(), value.lower())
        == op(s.upper(), value.upper())
        for s in stored
    )


# -- drawing ---------------------------------------------------------------------------


class Generator:
    """Random queries over given rows, seeded; avoids the features of known gaps."""

    def __init__(self, rows: Sequence[Row], rng: random.Random) -> None:
        self.rows = rows
        self.rng = rng
        self.values = Values(rng)
        self.transforms = available_transforms()
        #: string fields twice as often: they have the most lookups
        self.field_choices = [f for f in FIELDS for _ in range(2 if FIELDS[f][0] == "str" else 1)]
        self.stored: Dict[str, List[Any]] = {
            name: [r.values[name] for r in rows if r.values[name] is not None] for name in FIELDS
        }

    # values

    def _from_data(self, field: str, transforms: Tuple[str, ...]) -> Any:
        value = self.rng.choice(self.stored[field])
        for name in transforms:
            value = transform_value(name, value)
        if isinstance(value, dt.datetime):
            value = in_offset(value, self.rng.choice([0, 60, -300, 330, 540, -720, 840]))
        return value

    def _fresh(self, kind: str) -> Any:
        if kind == "time":
            return dt.time(self.rng.randint(0, 23), self.rng.choice([0, 15, 30, 59]))
        return self.values.make[kind]()

    def value(self, field: str, transforms: Tuple[str, ...], kind: str) -> Any:
        if self.rng.random() < 0.65:
            return self._from_data(field, transforms)
        if transforms and kind == "int":
            return self.rng.randint(0, 60) if self.rng.random() < 0.3 else self._from_data(
                field, transforms) + self.rng.choice([-1, 0, 1])
        return self._fresh(kind)

    def _string_value(self, field: str, lookup: str) -> Optional[str]:
        """A value for a string lookup that SQLite answers as Django means it, or None."""
        for _ in range(30):
            if self.rng.random() < 0.6:
                source = self.rng.choice(self.stored[field])
                start = self.rng.randint(0, len(source))
                stop = self.rng.randint(start, len(source))
                if lookup in ("startswith", "istartswith"):
                    start = 0
                elif lookup in ("endswith", "iendswith"):
                    stop = len(source)
                value = source[start:stop]
            else:
                value = self.rng.choice(["%", "_", "a", "A", "b", "%b", "a_", "é", "É", "日",
                                         "ß", "SS", "x", "", " ", "\\", "😀", "ω"])
            if lookup in CASE_INSENSITIVE and self.rng.random() < 0.5:
                value = value.swapcase()
            if string_lookup_defined(lookup, value, self.stored[field]):
                return value
        return None

    # leaves

    def leaf(self) -> Leaf:
        while True:
            made = self._leaf()
            if made is not None and not gaps.blocked(made.features):
                return made

    def _leaf(self) -> Optional[Leaf]:
        rng = self.rng
        if rng.random() < 0.12:
            left, right = rng.choice(F_PAIRS)
            if rng.random() < 0.5:
                left, right = right, left
            kind = FIELDS[left][0]
            lookup = rng.choice(F_LOOKUPS)
            return Leaf((left,), lookup, FieldRef(right), frozenset({f"F:{kind}:{lookup}"}))
        field = rng.choice(self.field_choices)
        kind = feature_kind = FIELDS[field][0]
        transforms: Tuple[str, ...] = ()
        while len(transforms) < 2 and rng.random() < (0.5 if not transforms else 0.3):
            usable = [t for t in self.transforms if kind in TRANSFORMS[t][0]]
            if not usable:
                break
            transforms += (rng.choice(usable),)
            feature_kind += f"__{transforms[-1]}"
            kind = TRANSFORMS[transforms[-1]][1]
        lookups = LOOKUPS[kind]
        if kind == "str" and rng.random() < 0.6:
            lookups = sorted(CASE_SENSITIVE | CASE_INSENSITIVE)
        lookup = rng.choice(lookups)
        features: Set[str] = {f"{feature_kind}:{lookup}"}
        value: Any
        if lookup == "isnull":
            value = rng.random() < 0.5
        elif kind == "str" and lookup in CASE_SENSITIVE | CASE_INSENSITIVE:
            value = self._string_value(field, lookup)
            if value is None:
                return None
        elif lookup == "in":
            count = rng.choice([0, 1, 2, 3, 4]) if rng.random() < 0.95 else 0
            value = [self.value(field, transforms, kind) for _ in range(max(count, 1))]
            if count == 0:
                value = []
            if NONE_IN_LISTS and rng.random() < 0.15:
                value.insert(rng.randint(0, len(value)), None)  # Django drops None from in
                features.add(f"{feature_kind}:in_none")
        elif lookup == "range":
            low, high = self.value(field, transforms, kind), self.value(field, transforms, kind)
            if rng.random() < 0.85 and high < low:
                low, high = high, low
            value = (low, high)
        elif lookup == "exact" and not transforms and rng.random() < 0.05:
            value = None  # exact=None is isnull=True
            features.add(f"{feature_kind}:exact_none")
        else:
            value = self.value(field, transforms, kind)
            if transforms[-1:] == ("year",) and not 1 <= value <= 9999:
                return None  # Django cannot make a date of it and raises (see the test)
        if not transforms and lookup not in ("isnull",) and rng.random() < 0.06:
            value = _spelled_as_text(value)
            if value is None:
                return None
            features.add(f"coerce:{kind}")
        return Leaf((field, *transforms), lookup, value, frozenset(features))

    def tree(self, depth: int = 0) -> Tree:
        r = self.rng.random()
        if depth >= 3 or r < 0.5:
            return self.leaf()
        if r < 0.92:
            op = "and" if r < 0.72 else "or"
            return Node(op, tuple(self.tree(depth + 1) for _ in range(self.rng.randint(2, 3))))
        return Node("not", (self.tree(depth + 1),))

    # whole queries

    def order(self) -> Tuple[str, ...]:
        for _ in range(50):
            fields = self.rng.sample(list(FIELDS), self.rng.choice([0, 1, 1, 2]))
            features = {f"{FIELDS[f][0]}:order" for f in fields}
            if not gaps.blocked(features):
                terms = [("-" if self.rng.random() < 0.4 else "") + f for f in fields]
                return (*terms, self.rng.choice(["key", "-key"]))
        return ("key",)

    def aggregates(self) -> Tuple[Aggregate, ...]:
        out: List[Aggregate] = []
        for i in range(self.rng.randint(1, 3)):
            for _ in range(50):
                func = self.rng.choice(["Count", "Sum", "Avg", "Min", "Max"])
                field: Optional[str] = self.rng.choice([*FIELDS, None])
                if field is None:
                    if func != "Count":
                        continue
                    kind = "rows"
                else:
                    kind = FIELDS[field][0]
                    if func in ("Sum", "Avg") and kind not in ("int", "float", "decimal"):
                        continue
                    if kind == "bool" and func != "Count":
                        continue  # SQLite-only semantics (see the module docstring)
                features = {f"{kind}:{func.lower()}", f"{field or 'rows'}:{func.lower()}"}
                if not gaps.blocked(features):
                    out.append(Aggregate(f"a{i}", func, field))
                    break
        return tuple(out)

    def query(self) -> Query:
        rng = self.rng
        steps = []
        for _ in range(rng.choice([0, 1, 1, 1, 1, 1, 2, 2])):
            steps.append(("exclude" if rng.random() < 0.25 else "filter", self.tree()))
        order: Tuple[str, ...] = ()
        window = None
        if rng.random() < 0.5:
            order = self.order()
            if rng.random() < 0.6:
                start = rng.randint(0, 30)
                window = (start, None if rng.random() < 0.2 else start + rng.randint(0, 40))
        aggregates = self.aggregates() if rng.random() < 0.35 else ()
        return Query(tuple(steps), order, window, aggregates)


def _spelled_as_text(value: Any) -> Optional[Any]:
    """The same value as the text a form or a URL would give (Django converts it)."""
    if isinstance(value, (list, tuple)):
        spelled = [_spelled_as_text(v) for v in value]
        return None if None in spelled else type(value)(spelled)
    if isinstance(value, bool) or value is None or isinstance(value, FieldRef):
        return None
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, Decimal)):
        return str(value)
    return None  # floats and strings: no other spelling worth trying
