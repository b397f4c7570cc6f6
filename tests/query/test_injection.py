"""Property tests: values never reach the SDBQL text, and names are validated.

- Any value (arbitrary text, or JSON built from it, dictionary keys included)
  travels as a bind variable: the compiled text is the same whatever the
  value, so a value can only appear in it if the text held it anyway.
- Any text used as a field name (in ``F()``, ``filter(**{name: ...})``,
  ``order_by``, ``values``, ``update``, ``exists`` ...) or as a collection
  name either raises ``InvalidNameError`` before a query exists, or gives a
  query in which the name is a plain quoted segment; such queries run on the
  real server, with arbitrary values, and find the documents they should.
"""

from __future__ import annotations

import re
import string
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict

from solidb_odm.database import Database
from solidb_odm.exceptions import InvalidNameError, ValidationError
from solidb_odm.models import Document
from solidb_odm.query.compiler import SelectSpec, compile_select, compile_update
from solidb_odm.query.expressions import F, Lookup, Q, split_path
from solidb_odm.query.lookups import registered_lookups
from solidb_odm.testing import SoliDBServer


class InjectionThing(Document):
    # names the model does not declare stay reachable: it allows extra fields
    model_config = ConfigDict(extra="allow")

    name: Optional[Any] = None

    class Meta:
        collection = "injection_things"


def objects() -> Any:
    return InjectionThing.objects.all()


#: What a field-name segment may be, written independently of solidb_odm.names:
#: nothing that could end a quoted string, start an escape, or split a path.
SEGMENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$\-]{0,255}")
COLLECTION = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,127}")
#: SDBQL words and operators worth trying as names.
KEYWORDS = [
    "order", "ORDER", "sort", "filter", "return", "RETURN", "size", "to", "any", "all", "in",
    "FOR", "null", "true", "false", "LIMIT", "count", "Count", "with", "window", "outbound",
    "let", "not", "and", "or", "like", "none", "distinct", "keep", "options", "graph", "d",
]

STRING_LOOKUPS = [
    "exact", "iexact", "ne", "contains", "icontains", "startswith", "istartswith", "endswith",
    "iendswith", "regex", "iregex", "gt", "gte", "lt", "lte",
]
LIST_LOOKUPS = ["in", "nin", "any", "all"]

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, dictionary keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)


def flat_bind_values(bind_vars: Dict[str, Any]) -> List[str]:
    return [s for v in bind_vars.values() for s in strings_in(v)]


def build(how: str, lookup: str, value: Any) -> Any:
    """One lookup on ``name``, through one of the ways a query can be written."""
    if how == "filter":
        return objects().filter(**{f"name__{lookup}": value})
    if how == "exclude":
        return objects().exclude(**{f"name__{lookup}": value})
    if how == "q":
        return objects().filter(~Q(**{f"name__{lookup}": value}) | Q(name__isnull=True))
    if how == "expr":
        return objects().filter(Lookup(lookup, F("name"), value), F("name").exists())
    if how == "nested":
        return objects().filter(Lookup(lookup, F("name__inner__0"), value)).order_by("-name")[3:9]
    raise AssertionError(how)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


@SETTINGS
@given(
    value=st.text(),
    lookup=st.sampled_from(STRING_LOOKUPS + LIST_LOOKUPS),
    how=st.sampled_from(["filter", "exclude", "q", "expr", "nested"]),
)
def test_text_values_are_bind_variables(value: str, lookup: str, how: str) -> None:
    arg: Any = [value] if lookup in LIST_LOOKUPS else value
    placeholder: Any = ["x"] if lookup in LIST_LOOKUPS else "x"
    compiled = build(how, lookup, arg).compile()
    baseline = build(how, lookup, placeholder).compile()
    # the text depends on the shape of the query, never on its values
    assert compiled.sdbql == baseline.sdbql
    if value not in baseline.sdbql:
        assert value not in compiled.sdbql
    sent = "(?i)" + value if lookup == "iregex" else value
    assert sent in flat_bind_values(compiled.bind_vars)
    assert set(compiled.bind_vars) == set(baseline.bind_vars)
    assert all(re.fullmatch(r"p\d+", name) for name in compiled.bind_vars)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)


def same_kind_placeholder(value: Any) -> Any:
    """A value of the same kind (so of the same query shape)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return 0 if value == 0 else 1
    if isinstance(value, str):
        return "x"
    return [] if isinstance(value, list) else {}


@SETTINGS
@given(value=json_values, lookup=st.sampled_from(["exact", "ne", "contains", "in", "nin"]))
def test_json_values_are_bind_variables(value: Any, lookup: str) -> None:
    if lookup == "contains":
        assume(value is not None)
    if lookup in ("in", "nin"):
        value, placeholder = [value], [same_kind_placeholder(value)]
    else:
        placeholder = same_kind_placeholder(value)
    compiled = objects().filter(**{f"tags__{lookup}": value}).compile()
    baseline = objects().filter(**{f"tags__{lookup}": placeholder}).compile()
    assert compiled.sdbql == baseline.sdbql
    for text in strings_in(value):
        if text not in baseline.sdbql:
            assert text not in compiled.sdbql
        assert text in flat_bind_values(compiled.bind_vars)


@SETTINGS
@given(value=st.text(), other=json_values)
def test_update_values_are_bind_variables(value: str, other: Any) -> None:
    qs = objects().filter(name__startswith=value)
    compiled = compile_update(qs._spec(), {"name": value, "extra": other,
                                            "count": F("count") + 1})
    baseline = compile_update(objects().filter(name__startswith="x")._spec(),
                              {"name": "x", "extra": same_kind_placeholder(other),
                               "count": F("count") + 1})
    assert compiled.sdbql == baseline.sdbql
    for text in [value, *strings_in(other)]:
        if text not in baseline.sdbql:
            assert text not in compiled.sdbql
        assert text in flat_bind_values(compiled.bind_vars)


@SETTINGS
@given(start=st.integers(0, 2**40), size=st.integers(0, 2**40))
def test_slices_are_bind_variables(start: int, size: int) -> None:
    compiled = objects().order_by("name")[start:start + size].compile()
    assert compiled.sdbql == objects().order_by("name")[1:2].compile().sdbql
    assert sorted(compiled.bind_vars.values()) == sorted([start, size])


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

segment_like = st.one_of(
    st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$\-]{0,12}", fullmatch=True),
    st.sampled_from(KEYWORDS),
    st.integers(0, 10**25).map(str),
    st.text(alphabet=string.ascii_letters + string.digits + "_$-.`'\" []\\\n\x00é٣", max_size=8),
)
names = st.one_of(
    st.text(),
    st.lists(segment_like, min_size=1, max_size=4).map("__".join),
    st.sampled_from(["", "_", "__", "a__", "__a", "a____b", "-a", "a__-1", "a__0", "0", "a__00",
                     "id", "key__0", "rev__x", "name__in", "tags__len__gt", "x__exists",
                     "a__2147483647", "a__2147483648", "a__" + "9" * 5000, "a.b", "a`b", 'a"b',
                     "a b", "a\\b", "é", "a__é", "$", "a-b", "order", "a__٣"]),
)


def usable(name: str) -> bool:
    """Whether ``name`` is a usable ``__`` path, decided without solidb_odm."""
    parts = name.split("__")
    if not parts or not SEGMENT.fullmatch(parts[0]):
        return False
    for part in parts[1:]:
        if re.fullmatch(r"[0-9]+", part):
            digits = part.lstrip("0") or "0"
            if len(digits) > 10 or int(digits) > 2**31 - 1:  # the largest list position
                return False
        elif not SEGMENT.fullmatch(part):
            return False
    return True


def past_a_scalar_field(name: str, then: int = 0) -> bool:
    """Whether the path goes on past one of the model's scalar fields (``key__0``).

    Such a name is well formed but names nothing the model can hold: the
    model refuses it with ``ValidationError``. ``then``: segments the use
    appends to the name's path (``F(name)[0]`` appends one).
    """
    parts = name.split("__")
    return len(parts) + then > 1 and parts[0] in ("key", "id", "rev")


def stored_segments(name: str) -> List[str]:
    """The name's segments as stored (``key``, ``id``, ``rev`` are the model's system fields)."""
    first, *rest = name.split("__")
    return [InjectionThing.wire_name(first), *rest]


def quoted_segments(name: str) -> List[str]:
    """The name's segments as the text must hold them: inside double quotes."""
    return [f'"{p}"' for p in stored_segments(name) if not re.fullmatch(r"[0-9]+", p)]


#: The ways a field name reaches a query; each returns a compiled query.
NAME_USES: Dict[str, Callable[[str], Any]] = {
    "F": lambda n: objects().filter(F(n) == 1).compile(),
    "F.exists": lambda n: objects().filter(F(n).exists()).compile(),
    "F.not_exists": lambda n: objects().exclude(F(n).exists(False)).compile(),
    "F.contains": lambda n: objects().filter(F(n).contains("v")).compile(),
    "F.compare": lambda n: objects().filter(F("name") > F(n)).compile(),
    "Q": lambda n: objects().filter(Q(**{f"{n}__exact": 1}) | ~Q(**{f"{n}__isnull": True})).compile(),
    "order_by": lambda n: objects().order_by(n, f"-{n}").compile(),
    "values": lambda n: objects().values(n).compile(),
    "values_list": lambda n: objects().values_list("name", n).compile(),
    "nested": lambda n: objects().filter(F("name")[1] == F(n)[0]).compile(),
    "update": lambda n: compile_update(objects()._spec(), {n: F("count") + 1}),
}


@SETTINGS
@given(name=names, use=st.sampled_from(sorted(NAME_USES)))
def test_field_names_are_validated(name: str, use: str) -> None:
    if use == "update":  # update() sets one stored field: a single segment
        ok = bool(SEGMENT.fullmatch(name))
    elif use == "Q":  # the name and the lookup make one "__" path: "_" + "__exact" cannot split
        ok = usable(f"{name}__exact")
    else:
        ok = usable(name)
    try:
        compiled = NAME_USES[use](name)
    except InvalidNameError as err:
        assert not ok, f"{name!r} is usable, yet refused: {err}"
        return
    except ValidationError:
        # past a scalar field, or a value the declared system field (a string) refuses
        assert ok and (past_a_scalar_field(name, then=1 if use == "nested" else 0)
                       or name.split("__")[0] in ("key", "id", "rev")), name
        return
    assert ok, f"{name!r} is not a usable name, yet it compiled"
    segments = [f'"{name}"'] if use == "update" else quoted_segments(name)
    for quoted in segments:
        assert quoted in compiled.sdbql


@SETTINGS
@given(name=names, value=st.integers(0, 5))
def test_keyword_lookups_either_compile_or_refuse(name: str, value: int) -> None:
    """``filter(**{name: value})``: a query, InvalidNameError, or a refused lookup value."""
    for method in ("filter", "exclude"):
        try:
            compiled = getattr(objects(), method)(**{name: value}).compile()
        except InvalidNameError:
            continue
        except ValidationError:
            # the value does not suit the lookup the name ends with (``x__in=3``),
            # the path goes on past a scalar field of the model, or the value does not
            # suit the type of a declared field (the system fields are strings)
            assert (name.split("__")[-1] in registered_lookups() or past_a_scalar_field(name)
                    or name.split("__")[0] in ("key", "id", "rev")), name
            continue
        for part in stored_segments(name):
            if re.fullmatch(r"[0-9]+", part):
                continue
            assert SEGMENT.fullmatch(part), name
            if part not in registered_lookups() and part not in ("len", "lower", "upper"):
                assert f'"{part}"' in compiled.sdbql, name


@SETTINGS
@given(name=st.one_of(st.text(), st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,130}", fullmatch=True)))
def test_collection_names_are_validated(name: str) -> None:
    try:
        compiled = compile_select(SelectSpec(collection=name))
    except InvalidNameError:
        assert not COLLECTION.fullmatch(name)
        return
    assert COLLECTION.fullmatch(name)
    assert compiled.sdbql.startswith(f"FOR d IN `{name}`")


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a`b", "a.b", "é", "a" * 129, "_system"])
def test_a_model_with_an_unusable_collection_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):

        class BadModel(Document):
            class Meta:
                collection = name


@pytest.mark.parametrize("index", [-1, True, 2**31, 10**30, "0", 1.0])
def test_unusable_list_positions_are_refused(index: Any) -> None:
    with pytest.raises(InvalidNameError):
        F("tags")[index]
    with pytest.raises(InvalidNameError):
        F(("tags", index))


# ---------------------------------------------------------------------------
# On the real server
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(solidb_server: SoliDBServer) -> Iterator[Database]:
    name = f"inj_{uuid.uuid4().hex[:10]}"
    admin = solidb_server.client()
    admin.create_database(name)
    client = solidb_server.client(name)
    try:
        client.create_collection(name, InjectionThing.collection_name())
        client.create_index(name, InjectionThing.collection_name(), "i_name", ["name"])
        yield Database(client, name)
    finally:
        client.close()
        try:
            admin.delete_database(name)
        finally:
            admin.close()


server_segment = st.one_of(
    st.from_regex(r"[A-Za-z$][A-Za-z0-9_$\-]{0,12}", fullmatch=True),
    st.sampled_from(KEYWORDS),
    # not the model's own fields, nor the aliases of system fields
).filter(lambda s: s not in ("key", "id", "rev", "name", "other"))
server_paths = st.tuples(
    server_segment,
    st.lists(st.one_of(server_segment, st.integers(0, 3)), max_size=3),
)


def nest(rest: List[Any], value: Any) -> Any:
    """The JSON holding ``value`` at the path ``rest``."""
    if not rest:
        return value
    head, tail = rest[0], rest[1:]
    if isinstance(head, int):
        return [None] * head + [nest(tail, value)]
    return {head: nest(tail, value)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=server_paths, value=st.text(), other=json_values)
def test_usable_names_and_any_values_run_on_the_server(
    db: Database, path: Any, value: str, other: Any
) -> None:
    first, rest = path
    name = "__".join(str(p) for p in [first, *rest])
    # A name ending or starting with "_" next to "__" splits differently
    # ("A_" + "__" + "A" reads as "A" / "_A"): such paths are written as tuples.
    assume(split_path(name) == (first, *rest))
    key = uuid.uuid4().hex
    document = {"_key": key, first: nest(list(rest), value), "name": value, "other": other}
    db.client.insert(db.name, InjectionThing.collection_name(), document)
    things = InjectionThing.objects.using(db)

    assert key in set(things.filter(F(name) == value).values_list("_key", flat=True))
    assert key in set(things.filter(name=value).values_list("_key", flat=True))
    mine = things.filter(key=key)
    assert mine.filter(F(name).startswith(value), F(name).exists()).count() == 1
    assert mine.filter(F(name).contains(value)).count() == 1
    assert mine.filter(F(name).iexact(value)).count() == 1
    assert mine.filter(F(name).in_([value, "", "x"])).count() == 1
    assert mine.exclude(F(name) == value).count() == 0
    assert mine.filter(F(name) > value).count() == 0
    assert list(mine.values_list(name, flat=True)) == [value]
    assert list(mine.order_by(name, f"-{name}").values_list("_key", flat=True)) == [key]
    if other is not None:
        assert mine.filter(other=other).count() == 1
        assert mine.filter(other__in=[other]).count() == 1
    assert mine.update(**{first: value}) == 1
    assert list(mine.values_list(first, flat=True)) == [value]
