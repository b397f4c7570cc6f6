"""Differential test: the real server against an independent Python oracle.

A fixed, seeded data set (nested fields, missing fields, explicit nulls, mixed
types in one field, lists, strings with ``%``/``_``/mixed case/non-ASCII) is
stored in a real server. Hypothesis builds filter trees (every registered
lookup, transforms, field-to-field comparisons, ``Q`` with ``&``/``|``/``~``,
``filter``/``exclude`` chains), orderings and slices; each query runs on the
server and the keys it returns are compared with what the oracle below
computes from the documented semantics.

The oracle is written here on purpose, from the documentation of
``solidb_odm.query.lookups`` (Django semantics over JSON documents) and the
server's ordering rules; it shares no code with ``solidb_odm.query``:

- a missing field and a null field are both "null": they never match ``gt``,
  ``contains``, ``startswith`` ... (so ``exclude`` keeps them); ``exact=None``
  is ``isnull=True``; ``in`` ignores ``None``; ``exists`` tells a missing
  field from a stored null;
- comparisons (``gt``/``gte``/``lt``/``lte``/``range``) only match values of
  the same kind as the bound (number, string or boolean); strings order by
  their UTF-8 bytes; numbers compare by value (exactly when both are
  integers);
- ``contains`` is list membership, or a substring test on a string;
  ``%`` and ``_`` are ordinary characters;
- equality: numbers by value (``1 == 1.0``), booleans never equal numbers,
  lists and objects element by element;
- ``tags__0`` is a list position: it reads nothing from a non-list;
- ordering is the server's total order ``null < bool < number < string <
  list < object`` (lists element by element, objects by their sorted keys,
  then their values), missing fields sort as null, ``-field`` reverses.

The whole suite runs twice: on a collection without indexes and on one with
persistent indexes on every field the queries touch (the server's index fast
paths have dropped rows before).
"""

from __future__ import annotations

import functools
import operator
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict

from solidb_odm.database import Database
from solidb_odm.models import Document
from solidb_odm.query.expressions import F, Lookup, Q
from solidb_odm.testing import SoliDBServer

SEED = 20240611
N_DOCS = 300
COLLECTION = "diff_docs"


class DiffDoc(Document):
    # names the model does not declare stay reachable: it allows extra fields
    model_config = ConfigDict(extra="allow")

    """The model the queries go through (fields typed ``Any``: the data is mixed)."""

    name: Optional[Any] = None
    age: Optional[Any] = None
    score: Optional[Any] = None
    active: Optional[Any] = None
    tags: Optional[Any] = None
    nums: Optional[Any] = None
    address: Optional[Any] = None
    misc: Optional[Any] = None
    order: Optional[Any] = None

    class Meta:
        collection = COLLECTION


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------

WORDS = [
    "alice", "Alice", "ALICE", "alicia", "bob", "Bob", "bobby", "BOB", "carol",
    "b%b", "50%", "100%", "a_b", "a%b_c", "_under", "%", "_", "a.b",
    "ÉCOLE", "école", "Ecole", "ecole", "über", "ÜBER", "straße", "STRASSE",
    "日本語", "日本", "emoji😀", "😀", "", " ", "  padded ", "Zed", "zebra", "éa", "ea",
    "100", "30", "7", "Mixed Case", "mixed case", "İstanbul", "Ωmega", "ωmega",
    "nul\x00byte", "tab\tnew\nline", 'quote"s', "back\\slash", "it's",
    "@p0", 'd["name"]', "FILTER true", "x' OR '1'='1",
]
NUMBERS: List[Any] = [
    0, 1, -1, 2, 3, 5, 7, 10, 17, 18, 25, 30, 42, 100, -7,
    0.5, 1.5, 2.5, -0.5, 3.0, 10.0, 0.0, -0.0, 99.99, 17.25, 1e-3,
]
ODD_NUMBERS: List[Any] = [2**53, 2**53 + 1, -(2**31), 10**15, 2**62]


def _pick(rng: random.Random, table: Sequence[Tuple[float, Callable[[], Any]]]) -> Any:
    """Choose one of weighted makers and call it."""
    total = sum(w for w, _ in table)
    r = rng.random() * total
    for weight, make in table:
        r -= weight
        if r < 0:
            return make()
    return table[-1][1]()


_MISSING_MARK = object()  # a maker result meaning "leave the field out"


def _string(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return rng.choice(WORDS)
    return rng.choice(WORDS) + rng.choice([" ", "_", "%", "-", ""]) + rng.choice(WORDS)


def _number(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.65:
        return rng.randint(-3, 45)
    if r < 0.92:
        return rng.choice(NUMBERS)
    return rng.choice(ODD_NUMBERS)


def _scalar(rng: random.Random) -> Any:
    return _pick(rng, [
        (4, lambda: _string(rng)),
        (4, lambda: _number(rng)),
        (1, lambda: rng.random() < 0.5),
        (1, lambda: None),
    ])


def _any(rng: random.Random, depth: int = 0) -> Any:
    table: List[Tuple[float, Callable[[], Any]]] = [(6, lambda: _scalar(rng))]
    if depth < 2:
        table.append((2, lambda: [_any(rng, depth + 1) for _ in range(rng.randint(0, 3))]))
        table.append((2, lambda: {
            k: _any(rng, depth + 1)
            for k in rng.sample(["a", "b", "c", "0", "city", "B"], rng.randint(0, 3))
        }))
    return _pick(rng, table)


def _string_list(rng: random.Random) -> List[Any]:
    return [rng.choice(WORDS[:30]) for _ in range(rng.randint(0, 4))]


def _number_list(rng: random.Random) -> List[Any]:
    return [_number(rng) for _ in range(rng.randint(0, 4))]


def _mixed_list(rng: random.Random) -> List[Any]:
    return [
        _pick(rng, [(3, lambda: _string(rng)), (3, lambda: _number(rng)), (1, lambda: None),
                    (1, lambda: rng.random() < 0.5), (1, lambda: [rng.choice(WORDS[:10])]),
                    (1, lambda: {"a": _number(rng)})])
        for _ in range(rng.randint(1, 4))
    ]


def _address(rng: random.Random) -> Any:
    def obj() -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        city = _pick(rng, [(14, lambda: rng.choice(WORDS)), (2, lambda: _MISSING_MARK),
                           (2, lambda: None), (1, lambda: _number(rng)),
                           (1, lambda: _string_list(rng))])
        if city is not _MISSING_MARK:
            out["city"] = city
        zip_code = _pick(rng, [(6, lambda: str(rng.randint(10000, 10040))),
                               (2, lambda: rng.randint(10000, 10040)), (2, lambda: _MISSING_MARK)])
        if zip_code is not _MISSING_MARK:
            out["zip"] = zip_code
        if rng.random() < 0.4:
            out["geo"] = {"lat": rng.choice([*NUMBERS, None, "48.8"])}
        if rng.random() < 0.3:
            out["tags"] = _string_list(rng)
        return out

    return _pick(rng, [
        (60, obj), (8, lambda: None), (17, lambda: _MISSING_MARK), (5, lambda: "somewhere"),
        (5, lambda: [{"city": rng.choice(WORDS)}]), (5, lambda: {}),
    ])


FIELD_MAKERS: Dict[str, Callable[[random.Random], Any]] = {
    "name": lambda rng: _pick(rng, [
        (70, lambda: _string(rng)), (8, lambda: _MISSING_MARK), (7, lambda: None),
        (5, lambda: _number(rng)), (3, lambda: rng.random() < 0.5),
        (4, lambda: _string_list(rng)), (3, lambda: {"first": _string(rng)}),
    ]),
    "age": lambda rng: _pick(rng, [
        (55, lambda: rng.randint(0, 40)), (10, lambda: rng.choice(NUMBERS)),
        (5, lambda: str(rng.randint(0, 40))), (5, lambda: rng.random() < 0.5),
        (10, lambda: _MISSING_MARK), (7, lambda: None), (8, lambda: rng.choice(ODD_NUMBERS)),
    ]),
    "score": lambda rng: _pick(rng, [
        (75, lambda: _number(rng)), (15, lambda: _MISSING_MARK), (5, lambda: None),
        (5, lambda: _string(rng)),
    ]),
    "active": lambda rng: _pick(rng, [
        (65, lambda: rng.random() < 0.5), (12, lambda: _MISSING_MARK), (8, lambda: None),
        (8, lambda: rng.randint(0, 1)), (4, lambda: "true"), (3, lambda: [True]),
    ]),
    "tags": lambda rng: _pick(rng, [
        (50, lambda: _string_list(rng)), (10, lambda: _number_list(rng)),
        (10, lambda: _mixed_list(rng)), (6, lambda: _string(rng)), (6, lambda: None),
        (12, lambda: _MISSING_MARK), (4, lambda: {"0": rng.choice(WORDS[:10]), "1": _number(rng)}),
    ]),
    "nums": lambda rng: _pick(rng, [
        (70, lambda: _number_list(rng)), (15, lambda: _MISSING_MARK), (5, lambda: None),
        (5, lambda: _number(rng)), (5, lambda: _string(rng)),
    ]),
    "address": _address,
    "misc": lambda rng: _pick(rng, [(85, lambda: _any(rng)), (15, lambda: _MISSING_MARK)]),
    "order": lambda rng: _pick(rng, [(70, lambda: rng.randint(0, 9)), (30, lambda: _MISSING_MARK)]),
    "x-y": lambda rng: _pick(rng, [(30, lambda: _scalar(rng)), (70, lambda: _MISSING_MARK)]),
}


def build_documents(seed: int = SEED, count: int = N_DOCS) -> List[Dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        doc: Dict[str, Any] = {"_key": f"k{i:03d}"}
        for field, make in FIELD_MAKERS.items():
            value = make(rng)
            if value is not _MISSING_MARK:
                doc[field] = value
        docs.append(doc)
    return docs


DOCS = build_documents()
BY_KEY = {d["_key"]: d for d in DOCS}

# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------

MISSING = object()  # a path that does not exist (``exists`` tells it from null)


def split(path: str) -> List[Any]:
    return [int(p) if p.isdigit() else p for p in path.split("__")]


def read(doc: Any, path: str) -> Any:
    """The value at ``path`` (``a__b``, ``tags__0``), or MISSING."""
    value = doc
    for segment in split(path):
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                return MISSING
            value = value[segment]
        else:
            if not isinstance(value, dict) or segment not in value:
                return MISSING
            value = value[segment]
    return value


def value_at(doc: Any, path: str) -> Any:
    """Like ``read``, with a missing field read as null."""
    value = read(doc, path)
    return None if value is MISSING else value


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
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
    raise TypeError(value)


RANK = {"null": 0, "bool": 1, "num": 2, "str": 3, "list": 4, "obj": 5}


def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def total_cmp(a: Any, b: Any) -> int:
    """The server's total order: -1, 0 or 1."""
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        return _sign(RANK[ka], RANK[kb])
    if ka == "null":
        return 0
    if ka == "num":
        if isinstance(a, int) and isinstance(b, int):
            return _sign(a, b)
        return _sign(float(a), float(b))
    if ka == "str":
        return _sign(a.encode("utf-8"), b.encode("utf-8"))
    if ka == "bool":
        return _sign(int(a), int(b))
    if ka == "list":
        for x, y in zip(a, b, strict=False):
            c = total_cmp(x, y)
            if c:
                return c
        return _sign(len(a), len(b))
    keys_a = sorted(a, key=lambda s: s.encode("utf-8"))
    keys_b = sorted(b, key=lambda s: s.encode("utf-8"))
    c = total_cmp(keys_a, keys_b)
    if c:
        return c
    for key in keys_a:
        c = total_cmp(a[key], b[key])
        if c:
            return c
    return 0


def equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value, bool is not a number."""
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "obj":
        return set(a) == set(b) and all(equal(a[k], b[k]) for k in a)
    return total_cmp(a, b) == 0


def member(value: Any, items: Any) -> bool:
    return isinstance(items, list) and any(equal(value, item) for item in items)


def same_kind_cmp(lhs: Any, rhs: Any, test: Callable[[int], bool]) -> bool:
    k = kind_of(lhs)
    if k not in ("num", "str", "bool") or k != kind_of(rhs):
        return False
    return test(total_cmp(lhs, rhs))


def _regex(lhs: Any, pattern: str, flags: int = 0) -> bool:
    """A search with the server's regex engine (Rust ``regex``), emulated with ``re``.

    Case-insensitive matching in Rust uses Unicode simple case folding, in
    which the Turkish dotted capital I and dotless small i (U+0130, U+0131)
    fold to nothing else; Python's ``re`` makes both match ``i``. They are
    swapped for letters that fold to nothing in either engine.
    """
    if not isinstance(lhs, str):
        return False
    if flags & re.IGNORECASE or "(?i)" in pattern:
        lhs = lhs.replace("\u0130", "\u0370").replace("\u0131", "\u0371")
    return re.search(pattern, lhs, flags) is not None


def _string_test(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    return lambda lhs, rhs: isinstance(lhs, str) and test(lhs, rhs)


#: lookup name -> (value at the path, the lookup's argument) -> bool
ORACLE: Dict[str, Callable[[Any, Any], bool]] = {
    "exact": lambda v, x: v is None if x is None else v is not None and equal(v, x),
    "iexact": lambda v, x: (v is None if x is None
                            else isinstance(v, str) and v.lower() == x.lower()),
    "gt": lambda v, x: same_kind_cmp(v, x, lambda c: c > 0),
    "gte": lambda v, x: same_kind_cmp(v, x, lambda c: c >= 0),
    "lt": lambda v, x: same_kind_cmp(v, x, lambda c: c < 0),
    "lte": lambda v, x: same_kind_cmp(v, x, lambda c: c <= 0),
    "range": lambda v, x: (same_kind_cmp(v, x[0], lambda c: c >= 0)
                           and same_kind_cmp(v, x[1], lambda c: c <= 0)),
    "in": lambda v, x: v is not None and any(equal(v, i) for i in x if i is not None),
    "contains": lambda v, x: (member(x, v) if isinstance(v, list)
                              else isinstance(v, str) and isinstance(x, str) and x in v),
    "icontains": _string_test(lambda v, x: x.lower() in v.lower()),
    "startswith": _string_test(lambda v, x: v.startswith(x)),
    "istartswith": _string_test(lambda v, x: v.lower().startswith(x.lower())),
    "endswith": _string_test(lambda v, x: v.endswith(x)),
    "iendswith": _string_test(lambda v, x: v.lower().endswith(x.lower())),
    "regex": lambda v, x: _regex(v, x),
    "iregex": lambda v, x: _regex(v, x, re.IGNORECASE),
    "isnull": lambda v, x: (v is None) == x,
    "len": lambda v, x: isinstance(v, (list, str)) and len(v) == x,
    "any": lambda v, x: isinstance(v, list) and any(member(i, v) for i in x),
    "all": lambda v, x: isinstance(v, list) and all(member(i, v) for i in x),
}
ORACLE["ne"] = lambda v, x: not ORACLE["exact"](v, x)
ORACLE["nin"] = lambda v, x: not ORACLE["in"](v, x)

TRANSFORMS: Dict[str, Callable[[Any], Any]] = {
    "len": lambda v: len(v) if isinstance(v, (list, str)) else None,
    "lower": lambda v: v.lower() if isinstance(v, str) else None,
    "upper": lambda v: v.upper() if isinstance(v, str) else None,
}


def arithmetic(op: str, a: Any, b: Any) -> Any:
    if kind_of(a) != "num" or kind_of(b) != "num":
        return None
    return {"+": operator.add, "-": operator.sub, "*": operator.mul}[op](a, b)


# ---------------------------------------------------------------------------
# Filter trees: one description, turned into a Q for the ODM and evaluated
# by the oracle
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    path: str
    lookup: str
    value: Any
    transform: Optional[str] = None
    #: "kwarg": Q(path__lookup=value); "bare": Q(path=value) for exact;
    #: "expr": F(path) > value, Lookup("contains", F(path), value) ...
    form: str = "kwarg"
    #: compare with another field: F(path) <op> F(other) (value is unused)
    other: Optional[str] = None
    #: F(path) <arith[0]> arith[1] as the left-hand side
    arith: Optional[Tuple[str, Any]] = None

    def matches(self, doc: Dict[str, Any]) -> bool:
        if self.lookup == "exists":
            return (read(doc, self.path) is not MISSING) == self.value
        lhs = value_at(doc, self.path)
        if self.arith is not None:
            lhs = arithmetic(self.arith[0], lhs, self.arith[1])
        if self.transform is not None:
            lhs = TRANSFORMS[self.transform](lhs)
        if self.other is not None:
            rhs = value_at(doc, self.other)
            if self.lookup in ("exact", "ne"):  # null never equals anything, as in SQL
                same = lhs is not None and rhs is not None and equal(lhs, rhs)
                return same if self.lookup == "exact" else not same
            return rhs is not None and ORACLE[self.lookup](lhs, rhs)
        return ORACLE[self.lookup](lhs, self.value)

    def to_q(self) -> Any:
        if self.other is not None or self.arith is not None or self.form == "expr":
            return self._expression()
        key = self.path
        if self.transform:
            key += f"__{self.transform}"
        if self.lookup != "exact" or self.form != "bare":
            key += f"__{self.lookup}"
        return Q(**{key: self.value})

    def _expression(self) -> Any:
        expr: Any = field_expression(self.path)
        if self.arith is not None:
            op, number = self.arith
            expr = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op](expr, number)
        if self.transform is not None:
            expr = getattr(expr, self.transform)()
        value = F(self.other) if self.other is not None else self.value
        if self.lookup in OPERATORS:
            return OPERATORS[self.lookup](expr, value)
        return Lookup(self.lookup, expr, value)


OPERATORS: Dict[str, Callable[[Any, Any], Any]] = {
    "exact": operator.eq, "ne": operator.ne, "gt": operator.gt,
    "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}
F_METHODS = {"exists", "any", "all", "len", "lower", "upper", "regex", "lookup", "path",
             "contains", "iexact", "icontains", "startswith", "endswith"}


def field_expression(path: str) -> F:
    """``F("a__b")``, or the same built as ``F("a").b`` / ``F("tags")[0]``."""
    segments = split(path)
    if len(segments) == 1 or any(s in F_METHODS for s in segments if isinstance(s, str)):
        return F(path)
    expr = F(segments[0])
    for segment in segments[1:]:
        expr = expr[segment] if isinstance(segment, int) else getattr(expr, segment)
    return expr


Tree = Tuple[Any, ...]  # ("leaf", Leaf) | ("and"|"or", [trees]) | ("not", tree)


def tree_matches(tree: Tree, doc: Dict[str, Any]) -> bool:
    tag = tree[0]
    if tag == "leaf":
        return bool(tree[1].matches(doc))
    if tag == "and":
        return all(tree_matches(t, doc) for t in tree[1])
    if tag == "or":
        return any(tree_matches(t, doc) for t in tree[1])
    return not tree_matches(tree[1], doc)


def tree_to_q(tree: Tree) -> Any:
    tag = tree[0]
    if tag == "leaf":
        return tree[1].to_q()
    if tag == "not":
        return ~tree_to_q(tree[1])
    parts = [tree_to_q(t) for t in tree[1]]
    combine = operator.and_ if tag == "and" else operator.or_
    return functools.reduce(combine, parts)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

RARE = {"geo", "lat", "a", 0, 1, 2, "x-y", "nosuchfield", "zip"}
# ``_key`` is a declared string field: values of other types are refused, not compared
# (tested in test_injection.py), so the random trees leave it to the fixed lookups.
PATHS = [
    "name", "age", "score", "active", "tags", "nums", "address", "address__city",
    "address__zip", "address__geo__lat", "address__tags__0", "misc", "misc__a", "misc__0",
    "order", "x-y", "tags__0", "tags__1", "nums__0", "nums__2", "nosuchfield",
]
#: Paths the filters use: the common ones more often than the rare ones.
FILTER_PATHS = [p for p in PATHS for _ in range(1 if split(p)[-1] in RARE else 4)]
ORDER_PATHS = [
    "_key", "name", "age", "score", "active", "tags", "nums", "address", "address__city",
    "misc", "order", "tags__0", "x-y", "nosuchfield",
]
LOOKUPS = [
    "exact", "iexact", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains",
    "startswith", "istartswith", "endswith", "iendswith", "isnull", "exists", "range", "len",
    "any", "all", "regex", "iregex",
]
REGEXES = [
    "^a", "e$", "^[A-Z]", "b.b", "[0-9]+", "^$", "^.{3}$", "ol", "^(alice|bob)$", "%", "_",
    "日", r"^\d+$", r"\s", "ß", "^É", "[%_]", "c.?o", "^[^a-z]*$", "(?i)ALI",
]


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)


def _distinct(values: Sequence[Any]) -> List[Any]:
    seen, out = set(), []
    for value in values:
        marker = repr(value)
        if marker not in seen:
            seen.add(marker)
            out.append(value)
    return out


#: Values found at each path (so that lookups find matches), and anywhere.
PATH_VALUES = {p: _distinct([v for d in DOCS if (v := read(d, p)) is not MISSING]) for p in PATHS}
ALL_VALUES = _distinct([v for d in DOCS for x in d.values() for v in _walk(x)])
SCALARS = [v for v in ALL_VALUES if kind_of(v) in ("num", "str", "bool")]
STRINGS = [v for v in ALL_VALUES if isinstance(v, str)]
ELEMENTS = _distinct([e for v in ALL_VALUES if isinstance(v, list) for e in v])


def _variants(value: Any, case: bool = True) -> List[Any]:
    """The value, and equal values of another spelling (1 -> 1.0), or of another case."""
    out = [value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
        out.append(float(value))
    if isinstance(value, float) and value.is_integer():
        out.append(int(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        out.append(-0.0)
    if isinstance(value, str) and case:
        out.extend([value.swapcase(), value.upper(), value.lower()])
    if isinstance(value, list):
        out.append([float(v) if type(v) is int and abs(v) < 2**53 else v for v in value])
    return out


@st.composite
def any_value(draw: Any, path: str) -> Any:
    source = draw(st.sampled_from(["path"] * 8 + ["any", "scalar"]))
    pool = {"path": PATH_VALUES[path] or ALL_VALUES, "any": ALL_VALUES, "scalar": SCALARS}[source]
    return draw(st.sampled_from(_variants(draw(st.sampled_from(pool)), case=not draw(st.integers(0, 3)))))


@st.composite
def comparable_value(draw: Any, path: str, kind: Optional[str] = None) -> Any:
    candidates = [v for v in PATH_VALUES[path] if kind_of(v) in ("num", "str", "bool")]
    if kind is not None:
        candidates = [v for v in candidates if kind_of(v) == kind]
    if not candidates or draw(st.integers(0, 3)) == 0:
        candidates = [v for v in SCALARS if kind is None or kind_of(v) == kind]
    return draw(st.sampled_from(_variants(draw(st.sampled_from(candidates)))))


@st.composite
def text_piece(draw: Any, path: str, whole: bool = False) -> str:
    """A substring, prefix or suffix of a stored string, sometimes with its case changed."""
    own = [v for v in PATH_VALUES[path] if isinstance(v, str)]
    pool = own if own and draw(st.integers(0, 9)) else STRINGS
    text = draw(st.sampled_from(pool))
    if whole:
        return draw(st.sampled_from([text, text.swapcase(), text.upper(), text.lower()]))
    start = draw(st.integers(0, len(text)))
    stop = draw(st.integers(start, len(text)))
    piece = draw(st.sampled_from([text[start:stop], text[:stop], text[start:], text, text,
                                  "", "%", "_"]))
    return draw(st.sampled_from([piece, piece, piece.swapcase(), piece.upper()]))


@st.composite
def element_list(draw: Any, path: str) -> List[Any]:
    """Some elements of one stored list (or of any list), maybe with other elements."""
    lists = [v for v in PATH_VALUES[path] if isinstance(v, list) and v]
    if lists and draw(st.integers(0, 5)):
        items = draw(st.sampled_from(lists))
        picked = draw(st.lists(st.sampled_from(items), min_size=1, max_size=len(items)))
    else:
        picked = []
    extra = draw(st.lists(st.sampled_from(ELEMENTS), max_size=1 if picked else 3))
    return [draw(st.sampled_from(_variants(v, case=False))) for v in picked + extra]


@st.composite
def leaf_value(draw: Any, path: str, lookup: str) -> Any:
    if lookup in ("exact", "ne"):
        if draw(st.integers(0, 9)) == 0:
            return None
        return draw(any_value(path))
    if lookup == "iexact":
        return None if draw(st.integers(0, 9)) == 0 else draw(text_piece(path, whole=True))
    if lookup in ("gt", "gte", "lt", "lte"):
        return draw(comparable_value(path))
    if lookup == "range":
        low = draw(comparable_value(path))
        high = draw(comparable_value(path, kind_of(low)))
        if draw(st.booleans()) and total_cmp(low, high) > 0:
            low, high = high, low
        return (low, high)
    if lookup in ("in", "nin"):
        items = draw(st.lists(any_value(path), max_size=4))
        if draw(st.integers(0, 4)) == 0:
            items.append(None)
        return items
    if lookup == "contains":
        return draw(st.one_of(
            text_piece(path),
            st.sampled_from(ELEMENTS).flatmap(lambda v: st.sampled_from(_variants(v))),
            any_value(path),
        ).filter(lambda v: v is not None))
    if lookup in ("icontains", "startswith", "istartswith", "endswith", "iendswith"):
        return draw(text_piece(path))
    if lookup in ("regex", "iregex"):
        return draw(st.sampled_from(REGEXES))
    if lookup in ("isnull", "exists"):
        return draw(st.booleans())
    if lookup == "len":
        return draw(st.integers(0, 5))
    if lookup in ("any", "all"):
        return draw(element_list(path))
    raise AssertionError(lookup)


_LIST_PATHS = [p for p in PATHS if sum(isinstance(v, list) for v in PATH_VALUES[p]) >= 5]
_STRING_PATHS = [p for p in PATHS if sum(isinstance(v, str) for v in PATH_VALUES[p]) >= 5]
#: Lookups that can only match some kinds of values mostly go to paths holding them.
SUITED_PATHS: Dict[str, List[str]] = {
    **{name: _LIST_PATHS for name in ("any", "all", "len")},
    **{name: _STRING_PATHS for name in ("iexact", "icontains", "startswith", "istartswith",
                                        "endswith", "iendswith", "regex", "iregex")},
}

TRANSFORM_LOOKUPS = {
    "len": ["exact", "ne", "gt", "gte", "lt", "lte", "in", "isnull"],
    "lower": ["exact", "iexact", "ne", "gt", "lt", "in", "contains", "startswith", "endswith",
              "isnull"],
    "upper": ["exact", "ne", "gte", "lte", "contains", "endswith", "isnull"],
}


@st.composite
def leaves(draw: Any) -> Tree:
    path = draw(st.sampled_from(FILTER_PATHS))
    shape = draw(st.sampled_from(["plain"] * 14 + ["transform"] * 3 + ["field"] * 2 + ["arith"]))
    form = draw(st.sampled_from(["kwarg", "kwarg", "bare", "expr"]))
    if shape == "transform":
        transform = draw(st.sampled_from(sorted(TRANSFORM_LOOKUPS)))
        lookup = draw(st.sampled_from(TRANSFORM_LOOKUPS[transform]))
        if transform == "len":
            if lookup in ("in",):
                value: Any = draw(st.lists(st.integers(0, 5), max_size=3))
            elif lookup == "isnull":
                value = draw(st.booleans())
            else:
                value = draw(st.integers(0, 5))
        elif lookup in ("exact", "ne", "in", "iexact", "gt", "lt", "gte", "lte"):
            cased = draw(text_piece(path, whole=lookup in ("exact", "ne", "in", "iexact")))
            cased = cased.lower() if transform == "lower" else cased.upper()
            value = [cased] if lookup == "in" else cased
        else:
            value = draw(leaf_value(path, lookup))
        return ("leaf", Leaf(path, lookup, value, transform=transform, form=form))
    if shape == "field":
        other = draw(st.sampled_from(FILTER_PATHS))
        lookup = draw(st.sampled_from(sorted(OPERATORS)))
        return ("leaf", Leaf(path, lookup, None, form="expr", other=other))
    if shape == "arith":
        op = draw(st.sampled_from(["+", "-", "*"]))
        number = draw(st.sampled_from([0, 1, 2, -3, 0.5]))
        lookup = draw(st.sampled_from(["exact", "ne", "gt", "lt", "gte", "lte"]))
        value = draw(st.sampled_from([v for v in SCALARS if kind_of(v) == "num"]))
        return ("leaf", Leaf(path, lookup, value, form="expr", arith=(op, number)))
    lookup = draw(st.sampled_from(LOOKUPS))
    suited = SUITED_PATHS.get(lookup)
    if suited and draw(st.integers(0, 4)):
        path = draw(st.sampled_from(suited))
    return ("leaf", Leaf(path, lookup, draw(leaf_value(path, lookup)), form=form))


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("not"), children),
    ),
    max_leaves=6,
)

#: (method, tree, pass a top-level AND as several positional conditions)
steps = st.tuples(st.sampled_from(["filter", "filter", "exclude"]), trees, st.booleans())


@dataclass
class Plan:
    steps: List[Tuple[str, Tree, bool]]
    order: List[Tuple[str, bool]]
    window: Optional[Tuple[int, Optional[int]]]

    def queryset(self, db: Optional[Database]) -> Any:
        qs = DiffDoc.objects.using(db) if db is not None else DiffDoc.objects.all()
        for method, tree, spread in self.steps:
            if spread and tree[0] == "and":
                conditions = [tree_to_q(t) for t in tree[1]]
            else:
                conditions = [tree_to_q(tree)]
            qs = getattr(qs, method)(*conditions)
        if self.order:
            qs = qs.order_by(*[("-" if desc else "") + path for path, desc in self.order])
        return qs

    def matches(self, doc: Dict[str, Any]) -> bool:
        for method, tree, _ in self.steps:
            hit = tree_matches(tree, doc)
            if hit != (method == "filter"):
                return False
        return True


def sort_key_cmp(order: Sequence[Tuple[str, bool]], a: Dict[str, Any], b: Dict[str, Any]) -> int:
    for path, descending in order:
        c = total_cmp(value_at(a, path), value_at(b, path))
        if c:
            return -c if descending else c
    return 0


def expected(plan: Plan) -> List[str]:
    """Matching keys in the oracle's order (stable; ties keep key order)."""
    docs = [d for d in DOCS if plan.matches(d)]
    if plan.order:
        docs = sorted(docs, key=functools.cmp_to_key(functools.partial(sort_key_cmp, plan.order)))
    return [d["_key"] for d in docs]


# ---------------------------------------------------------------------------
# The two data sets: without indexes and with them
# ---------------------------------------------------------------------------

#: Indexes (persistent, single field, plus one compound) on every field the
#: queries read; some made before the data is inserted, some after. These runs
#: found the server's index keys telling 0 from -0.0 and [1] from [1.0]: the
#: lookups now spell such values so that an index cannot miss them.
INDEXED_BEFORE_INSERT = ["name", "age", "score", "active", "tags", "address.city", "order"]
INDEXED_AFTER_INSERT = ["nums", "misc", "address", "address.zip", "address.geo.lat", "x-y",
                        "misc.a"]


class DataSet(Database):
    """The database holding the data set, and whether its fields are indexed."""

    indexed = False


@pytest.fixture(scope="module", params=["no_indexes", "indexes"])
def db(request: Any, solidb_server: SoliDBServer) -> Iterator[DataSet]:
    name = f"diff_{uuid.uuid4().hex[:10]}"
    admin = solidb_server.client()
    admin.create_database(name)
    client = solidb_server.client(name)
    try:
        client.create_collection(name, COLLECTION)
        indexed = request.param == "indexes"
        if indexed:
            for i, field in enumerate(INDEXED_BEFORE_INSERT):
                client.create_index(name, COLLECTION, f"i_{i}", [field])
            client.create_index(name, COLLECTION, "i_age_name", ["age", "name"])
        assert client.bulk_insert(name, COLLECTION, DOCS) == len(DOCS)
        if indexed:
            for i, field in enumerate(INDEXED_AFTER_INSERT):
                client.create_index(name, COLLECTION, f"j_{i}", [field])
            assert len(client.list_indexes(name, COLLECTION)) >= 15
        data_set = DataSet(client, name)
        data_set.indexed = indexed
        yield data_set
    finally:
        client.close()
        try:
            admin.delete_database(name)
        finally:
            admin.close()


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def describe(plan: Plan, qs: Any, server: Sequence[str], oracle: Sequence[str]) -> str:
    compiled = qs.compile()
    extra = sorted(set(server) - set(oracle))
    missing = sorted(set(oracle) - set(server))
    lines = [
        f"plan: {plan!r}",
        f"sdbql:\n{compiled.sdbql}",
        f"bind_vars: {compiled.bind_vars!r}",
        f"server returned {len(server)}, oracle {len(oracle)}",
        f"only from the server: {extra[:8]}",
        f"only from the oracle: {missing[:8]}",
    ]
    for key in (extra + missing)[:6]:
        lines.append(f"  {key}: {BY_KEY[key]!r}")
    return "\n".join(lines)


def check_ordered(plan: Plan, qs: Any, server: List[str], oracle_all: List[str]) -> None:
    """Tie-aware: same sort keys position by position, drawn from the right documents."""
    start, stop = plan.window if plan.window else (0, None)
    window = oracle_all[start:stop]
    info = describe(plan, qs, server, window)
    assert len(server) == len(window), info
    assert len(set(server)) == len(server), info
    assert set(server) <= set(oracle_all), info
    if plan.order:
        for got, want in zip(server, window, strict=True):
            assert sort_key_cmp(plan.order, BY_KEY[got], BY_KEY[want]) == 0, (
                f"{got} sorts differently from {want} at the same position\n{info}"
            )
    elif plan.window is None:
        assert set(server) == set(window), info


SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_filter_tree(plan: Plan, qs: Any, server: List[str], count: int) -> None:
    """The keys a filter tree returned, and its count, against the oracle."""
    oracle = expected(plan)
    assert sorted(server) == sorted(oracle), describe(plan, qs, server, oracle)
    assert len(set(server)) == len(server)
    assert count == len(oracle), describe(plan, qs, server, oracle)


@SETTINGS
@given(plan_steps=st.lists(steps, min_size=1, max_size=2))
def test_filter_trees_match_the_oracle(db: Database, plan_steps: List[Any]) -> None:
    plan = Plan(plan_steps, [], None)
    qs = plan.queryset(db)
    check_filter_tree(plan, qs, list(qs.values_list("_key", flat=True)), qs.count())


@settings(SETTINGS, max_examples=60)
@given(plan_steps=st.lists(steps, min_size=1, max_size=2))
async def test_filter_trees_match_the_oracle_async(db: Database, plan_steps: List[Any]) -> None:
    """The same property through the awaitable terminals (fewer examples: same compiled query)."""
    plan = Plan(plan_steps, [], None)
    qs = plan.queryset(db)
    server = await qs.values_list("_key", flat=True).alist()
    check_filter_tree(plan, qs, server, await qs.acount())


orderings = st.lists(
    st.tuples(st.sampled_from(ORDER_PATHS), st.booleans()), min_size=1, max_size=2,
    unique_by=lambda t: t[0],
)
windows = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 60), st.one_of(st.none(), st.integers(0, 80))).map(
        lambda t: (t[0], None if t[1] is None else t[0] + t[1])
    ),
)


@SETTINGS
@given(
    plan_steps=st.lists(steps, max_size=2),
    order=st.one_of(st.just([]), orderings, orderings),
    window=windows,
    as_models=st.booleans(),
)
def test_ordering_and_slicing_match_the_oracle(
    db: Database, plan_steps: List[Any], order: List[Tuple[str, bool]],
    window: Optional[Tuple[int, Optional[int]]], as_models: bool,
) -> None:
    plan = Plan(plan_steps, order, window)
    qs = plan.queryset(db)
    if window is not None:
        qs = qs[window[0]:window[1]]
    if as_models:
        server = [obj.key for obj in qs]
    else:
        server = list(qs.values_list("_key", flat=True))
    oracle_all = expected(plan)
    check_ordered(plan, qs, server, oracle_all)
    start, stop = window if window else (0, None)
    assert qs.count() == len(oracle_all[start:stop]), describe(plan, qs, server, oracle_all)
    if order and window is None:
        first, last = qs.first(), qs.last()
        if not oracle_all:
            assert first is None and last is None
        else:
            assert first is not None and last is not None
            assert sort_key_cmp(order, BY_KEY[first.key], BY_KEY[oracle_all[0]]) == 0
            assert sort_key_cmp(order, BY_KEY[last.key], BY_KEY[oracle_all[-1]]) == 0


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan_steps=st.lists(steps, max_size=2), order=st.one_of(st.just([]), orderings))
def test_the_session_evaluator_agrees_with_the_oracle(
    plan_steps: List[Any], order: List[Tuple[str, bool]]
) -> None:
    """The package's own Python evaluator (what sessions use for unsaved changes) agrees too.

    No server here: the independent oracle above checks solidb_odm.query.evaluator.
    """
    from solidb_odm.query.evaluator import matcher, order_documents

    plan = Plan(plan_steps, order, None)
    # Python's re is not the server's regex engine: its differences are documented
    assume("regex" not in repr(plan_steps))
    qs = plan.queryset(None)
    matches = matcher(qs._where, DiffDoc.wire_path)
    got = [d for d in DOCS if matches(d)]
    want = expected(plan)
    assert sorted(d["_key"] for d in got) == sorted(want), plan
    if order:
        ordered = order_documents(got, qs._order, DiffDoc.wire_path, lambda d: d)
        for a, b in zip(ordered, want, strict=True):
            assert sort_key_cmp(order, a, BY_KEY[b]) == 0, plan


# ---------------------------------------------------------------------------
# Fixed cases worth keeping whatever hypothesis draws
# ---------------------------------------------------------------------------

FIXED: List[Tuple[str, Any]] = [
    ("name", "alice"), ("name__iexact", "ALICE"), ("name__contains", "%"),
    ("name__contains", "_"), ("name__startswith", "a_"), ("name__icontains", "ÉCO"),
    ("name__gt", "Z"), ("name__lt", "a"), ("name__gte", "é"), ("age__gt", 20),
    ("age__lt", 3), ("age__lte", 0), ("age", 0), ("age", -0.0), ("age", 2**53),
    ("age", 2**53 + 1), ("age__gte", 2**53 + 1), ("score__gt", 2**53), ("score__range", (2**53, 2**62)), ("age__in", [1, 2.0, None, "3"]),
    ("age__range", (10, 20)), ("age__range", ("1", "3")), ("active", True), ("active", 1),
    ("active__lt", True), ("tags__contains", "alice"), ("tags__contains", 5),
    ("tags__0", "alice"), ("tags__0__isnull", False), ("tags__1__exists", True),
    ("tags__len", 0), ("tags__len__gt", 2), ("tags__any", ["bob", "carol"]),
    ("tags__all", []), ("tags__all", ["alice", "bob"]), ("tags", []), ("tags", ["alice"]),
    ("nums", [1.0]), ("nums__contains", 1.0), ("address__city", None),
    ("address__city__exists", False), ("address__exists", True), ("address", {}),
    ("address__geo__lat__gt", 0), ("misc__a__isnull", False), ("order__gte", 5),
    ("x-y__exists", True), ("_key", "k007"), ("_key__in", ["k001", "k299", "nope"]),
    ("_key__gt", "k290"), ("name__regex", "^[A-Z]"), ("name__iregex", "^é"),
    ("nosuchfield", None), ("nosuchfield__isnull", False), ("name__lower", "alice"),
    ("name__upper__startswith", "STR"),
    # numbers of another spelling: 0 / -0.0, 1 / 1.0, inside lists and objects
    ("age__gte", 0), ("age__gt", -0.0), ("age__lte", -0.0), ("age__lt", 0.0),
    ("age__range", (0, 5)), ("age__range", (-5, -0.0)), ("age__in", [0]), ("age__in", [-0.0]),
    ("age__nin", [0]), ("age__ne", 0), ("score", 10), ("score", 10.0), ("score__in", [3.0]),
    ("nums__in", [[1.0]]), ("nums__in", [[1]]), ("nums", [1]), ("tags", [10]),
    ("tags__contains", 10), ("misc", {"B": 3}), ("misc__in", [{"B": 3}]),
    ("address__geo__lat", 0), ("address__geo__lat__gte", 0),
    # a NUL inside a string (see also test_nul_in_strings_and_index_ranges)
    ("name", "nul\x00byte"), ("name__gte", "nul\x00"), ("name__lt", "nul\x00c"),
    ("name__startswith", "nul\x00"), ("name__contains", "\x00"),
]


@pytest.mark.parametrize(("key", "value"), FIXED, ids=[f"{k}={v!r}" for k, v in FIXED])
def test_fixed_lookups_match_the_oracle(db: Database, key: str, value: Any) -> None:
    parts = key.split("__")
    lookup = "exact"
    if parts[-1] in ORACLE or parts[-1] == "exists":
        lookup = parts.pop()
    transform = parts.pop() if parts[-1] in TRANSFORMS and len(parts) > 1 else None
    leaf = Leaf("__".join(parts), lookup, value, transform=transform)
    for method in ("filter", "exclude"):
        plan = Plan([(method, ("leaf", leaf), False)], [], None)
        qs = getattr(DiffDoc.objects.using(db), method)(**{key: value})
        server = list(qs.values_list("_key", flat=True))
        oracle = expected(plan)
        assert sorted(server) == sorted(oracle), describe(plan, qs, server, oracle)
        assert qs.count() == len(oracle), describe(plan, qs, server, oracle)


@pytest.mark.parametrize("path", PATHS)
def test_values_read_every_path_like_the_oracle(db: Database, path: str) -> None:
    """values_list() reads nested fields and list positions as the filters do."""
    rows = DiffDoc.objects.using(db).values_list("_key", path)
    got = dict(rows)
    assert set(got) == set(BY_KEY)
    for key, value in got.items():
        want = value_at(BY_KEY[key], path)
        assert equal(value, want), f"{key}: {path} read as {value!r}, stored {want!r}"


@pytest.mark.parametrize("path", ORDER_PATHS)
@pytest.mark.parametrize("descending", [False, True])
def test_every_document_is_ordered_with_nulls_first(db: Database, path: str, descending: bool) -> None:
    """A plain order_by over the whole collection returns every document, in order."""
    plan = Plan([], [(path, descending)], None)
    qs = plan.queryset(db)
    server = list(qs.values_list("_key", flat=True))
    check_ordered(plan, qs, server, expected(plan))
    plan = Plan([], [(path, descending)], (0, 7))
    qs = plan.queryset(db)[0:7]
    check_ordered(plan, qs, list(qs.values_list("_key", flat=True)), expected(plan))


NUL_RANGES: List[Tuple[str, Any]] = [("name__gt", "nul"), ("name__range", ("nul", "nul\x00z"))]


@pytest.mark.parametrize(("key", "value"), NUL_RANGES)
def test_nul_in_strings_and_index_ranges(db: DataSet, key: str, value: Any) -> None:
    """A known server limitation, pinned: strings holding U+0000 and index range scans.

    The server keys a string in an index as its bytes plus a 0 terminator, hex
    encoded and followed by ``:``; so ``"nul\\x00byte"`` sorts *below*
    ``"nul"`` in the index although it is greater. A range read (``gt``,
    ``gte``, ``lt``, ``lte``, ``range``) served by an index on the field then
    misses such documents. Without an index the server agrees with the
    oracle. (Not worked around: it needs a NUL inside stored strings, and the
    only cure, keeping string ranges off indexes, would cost every date range
    its index.) If this starts failing on a new server, the limitation is gone:
    turn this test into an ordinary oracle check.
    """
    lookup = key.split("__")[1]
    plan = Plan([("filter", ("leaf", Leaf("name", lookup, value)), False)], [], None)
    qs = DiffDoc.objects.using(db).filter(**{key: value})
    server = sorted(qs.values_list("_key", flat=True))
    oracle = sorted(expected(plan))
    # missed: the strings that extend the low bound "nul" with a NUL
    with_nul = sorted(k for k in oracle if BY_KEY[k]["name"].startswith("nul\x00"))
    assert with_nul, "the data set must hold a string with a NUL in this range"
    if db.indexed:
        assert server == sorted(set(oracle) - set(with_nul)), describe(plan, qs, server, oracle)
    else:
        assert server == oracle, describe(plan, qs, server, oracle)
