"""Unit tests of the compiled SDBQL text (no server).

The rules checked here are those the compiler's docstring promises and the
server needs: one FILTER per top-level conjunct, NOT always parenthesised,
bracket field access, back-quoted collections, LIMIT as bind variables,
every value a bind variable, and one rendering per query shape.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

import pytest
from pydantic import BaseModel, Field

from solidb_odm.exceptions import InvalidNameError, ValidationError
from solidb_odm.models import Document
from solidb_odm.query.aggregates import Count, Max
from solidb_odm.query.compiler import (
    compile_aggregate,
    compile_count,
    compile_update,
    render_select,
)
from solidb_odm.query.expressions import F, Q, Stored


class Address(BaseModel):
    city: str
    zip: str = ""


class CUser(Document):
    name: str = ""
    email: str = Field(default="", alias="mail")
    age: int = 0
    tags: List[str] = []
    order: int = 0  # an SDBQL keyword
    address: Optional[Address] = None

    class Meta:
        collection = "c_users"


def text(qs: Any) -> str:
    return str(qs.compile().sdbql)


def filters(sdbql: str) -> List[str]:
    return [line for line in sdbql.splitlines() if line.startswith("FILTER ")]


# ---------------------------------------------------------------------------
# Shape of the statement
# ---------------------------------------------------------------------------


def test_a_plain_query() -> None:
    compiled = CUser.objects.filter(age__gt=25).compile()
    assert compiled.sdbql == (
        "FOR d IN `c_users`\n"
        'FILTER (d["age"] > @p0 AND d["age"] < "")\n'
        "RETURN d"
    )
    assert compiled.bind_vars == {"p0": 25}
    sdbql, binds = compiled  # unpacks like a pair
    assert (sdbql, binds) == (compiled.sdbql, compiled.bind_vars)


def test_each_top_level_conjunct_gets_its_own_filter() -> None:
    qs = (CUser.objects.filter(age__gt=25, name__startswith="A")
          .filter(Q(tags__contains="x") & Q(order__lt=3))
          .exclude(name="Bob"))
    lines = filters(text(qs))
    assert len(lines) == 5
    assert lines[-1] == 'FILTER (NOT (d["name"] == @4))'.replace("@4", "@p4")
    # an OR stays one condition
    lines = filters(text(CUser.objects.filter(Q(age__gt=1) | Q(name="x"), age__lt=9)))
    assert len(lines) == 2
    assert " OR " in lines[0]


def test_not_is_always_parenthesised() -> None:
    queries = [
        CUser.objects.exclude(name="x"),
        CUser.objects.filter(~Q(age__in=[1, 2])),
        CUser.objects.filter(name__ne="x", age__nin=[1]),
        CUser.objects.filter(~(Q(age__gt=1) | ~Q(name__isnull=True))),
        CUser.objects.filter(tags__all=["a", "b"]),
        CUser.objects.exclude(F("address__city").exists()),
    ]
    for qs in queries:
        sdbql = text(qs)
        assert "NOT" in sdbql
        # "NOT (" or the binary operator "NOT IN", never a bare prefix NOT
        assert not re.search(r"\bNOT\b(?! \(| IN\b)", sdbql), sdbql


def test_fields_use_bracket_access() -> None:
    sdbql = text(CUser.objects.filter(order=1, address__city="Lyon", tags__0="a",
                                      email="e").order_by("-order"))
    assert 'd["order"] == @p' in sdbql
    assert 'd["address"]["city"] == @p' in sdbql
    assert '(IS_ARRAY(d["tags"]) ? d["tags"][0] : null) == @p' in sdbql
    assert 'd["mail"] == @p' in sdbql  # the stored name (alias) of a field
    assert 'SORT d["order"] DESC' in sdbql
    assert not re.search(r"\bd\.", sdbql), sdbql


def test_list_positions_read_only_from_lists() -> None:
    """``tags__0`` is null unless ``tags`` is a list (the server's ``x[0]`` reads key "0" of an object)."""
    sdbql = text(CUser.objects.filter(F("tags")[2].name[0] == "x"))
    inner = '(IS_ARRAY(d["tags"]) ? d["tags"][2] : null)'
    assert f'(IS_ARRAY({inner}["name"]) ? {inner}["name"][0] : null)' in sdbql
    values = text(CUser.objects.values_list("tags__1", flat=True))
    assert '"v0": (IS_ARRAY(d["tags"]) ? d["tags"][1] : null)' in values


def test_the_collection_is_back_quoted() -> None:
    assert text(CUser.objects.all()).splitlines()[0] == "FOR d IN `c_users`"


def test_exists_reads_the_parent() -> None:
    assert filters(text(CUser.objects.filter(F("address__city").exists()))) == [
        'FILTER (IS_OBJECT(d["address"]) AND HAS(d["address"], "city"))'
    ]
    assert filters(text(CUser.objects.filter(tags__1__exists=True))) == [
        'FILTER (IS_ARRAY(d["tags"]) AND LENGTH(d["tags"]) > 1)'
    ]
    assert filters(text(CUser.objects.filter(name__exists=False))) == [
        'FILTER (NOT (IS_OBJECT(d) AND HAS(d, "name")))'
    ]


def test_ordering_alone_keeps_the_full_scan() -> None:
    """A lone FOR + SORT may be served by an index that skips null fields: a FILTER prevents it."""
    lines = text(CUser.objects.order_by("age", "-name")).splitlines()
    assert lines == ["FOR d IN `c_users`", "FILTER true", 'SORT d["age"] ASC, d["name"] DESC',
                     "RETURN d"]
    assert "FILTER true" not in text(CUser.objects.filter(age=3).order_by("age"))
    assert "SORT" not in text(CUser.objects.all())


# ---------------------------------------------------------------------------
# Slices
# ---------------------------------------------------------------------------


def test_slices_are_limit_offset_count_bind_variables() -> None:
    compiled = CUser.objects.order_by("age")[5:15].compile()
    assert compiled.sdbql.splitlines()[-2] == "LIMIT @p0, @p1"
    assert compiled.bind_vars == {"p0": 5, "p1": 10}
    assert CUser.objects.all()[:3].compile().bind_vars == {"p0": 0, "p1": 3}
    assert CUser.objects.all()[7:].compile().bind_vars == {"p0": 7, "p1": 2**53}
    assert CUser.objects.all()[2:10][1:3].compile().bind_vars == {"p0": 3, "p1": 2}
    assert CUser.objects.all()[2:4][5:].compile().bind_vars == {"p0": 7, "p1": 0}
    assert CUser.objects.all()[5:2].compile().bind_vars == {"p0": 5, "p1": 0}
    # slices of different sizes share one text
    assert text(CUser.objects.all()[1:2]) == text(CUser.objects.all()[100:5000])


@pytest.mark.parametrize("item", [slice(-1, None), slice(None, -1), slice(-5, -1), slice(0, 5, 2)])
def test_negative_and_stepped_slices_are_refused(item: slice) -> None:
    with pytest.raises(ValidationError):
        CUser.objects.all()[item]


def test_negative_index_is_refused() -> None:
    with pytest.raises(ValidationError):
        CUser.objects.all()[-1]


def test_a_sliced_query_cannot_be_filtered_or_reordered() -> None:
    qs = CUser.objects.all()[:5]
    for change in (lambda: qs.filter(age=1), lambda: qs.exclude(age=1),
                   lambda: qs.order_by("age")):
        with pytest.raises(ValidationError):
            change()


# ---------------------------------------------------------------------------
# Values are bind variables
# ---------------------------------------------------------------------------


def test_every_value_is_a_bind_variable() -> None:
    qs = CUser.objects.filter(
        Q(name__icontains="100%") | Q(name__regex="^a.*'; REMOVE d IN c_users --"),
        age__range=(18, 65), tags__any=["x", "y"], address__city__in=["Lyon", None],
        email__iexact='"quoted"',
    ).exclude(F("age") > F("order") + 1)[10:20]
    compiled = qs.compile()
    for value in ("100%", "REMOVE", "Lyon", "quoted", "18", "65"):
        assert value not in compiled.sdbql
    used = {f"p{i}" for i in re.findall(r"@p(\d+)", compiled.sdbql)}
    assert used == set(compiled.bind_vars)
    assert compiled.bind_vars["p0"] == "100%"
    assert ["Lyon"] in compiled.bind_vars.values()  # None is dropped from ``in``


def test_updates_and_counts_bind_their_values() -> None:
    qs = CUser.objects.filter(name="a")
    update = compile_update(qs._spec(), {"name": "b", "age": F("age") + 1})
    assert update.sdbql.splitlines()[-2].startswith("UPDATE d WITH {")
    assert update.sdbql.endswith("IN `c_users`\nRETURN 1")
    assert sorted(update.bind_vars.values(), key=repr) == sorted([1, "a", "b"], key=repr)
    count = compile_count(qs._spec())
    assert count.sdbql.startswith("RETURN LENGTH((")
    assert count.bind_vars == {"p0": "a"}


# ---------------------------------------------------------------------------
# Index-safe spellings (see solidb_odm/query/lookups.py)
# ---------------------------------------------------------------------------


def test_equality_with_zero_looks_up_both_zeros() -> None:
    compiled = CUser.objects.filter(age=0).compile()
    assert filters(compiled.sdbql) == ['FILTER (d["age"] IN [@p0, @p1])']
    values = list(compiled.bind_vars.values())
    assert values == [0.0, -0.0] and str(values[1]) == "-0.0"
    assert filters(text(CUser.objects.filter(age=5))) == ['FILTER (d["age"] == @p0)']
    assert CUser.objects.filter(age__in=[0, 3]).compile().bind_vars["p0"] == [3, 0.0, -0.0]


def test_greater_or_equal_zero_starts_below_negative_zero() -> None:
    compiled = CUser.objects.filter(age__gte=0).compile()
    assert filters(compiled.sdbql) == ['FILTER (d["age"] > @p0 AND d["age"] < "")']
    assert compiled.bind_vars == {"p0": -5e-324}
    compiled = CUser.objects.filter(age__range=(0, 9)).compile()
    assert filters(compiled.sdbql) == [
        'FILTER (d["age"] > @p0 AND d["age"] < "")',
        'FILTER (d["age"] <= @p1 AND d["age"] > true)',
    ]
    assert text(CUser.objects.filter(age__gte=1)).count(">= @p0") == 1


def test_lists_and_objects_are_compared_off_the_indexes() -> None:
    assert filters(text(CUser.objects.filter(tags=["a"]))) == ['FILTER ((d["tags"] ?? null) == @p0)']
    assert filters(text(CUser.objects.filter(address={"city": "x"}))) == [
        'FILTER ((d["address"] ?? null) == @p0)'
    ]
    assert filters(text(CUser.objects.filter(tags__in=[["a"], ["b"]]))) == [
        'FILTER ((d["tags"] ?? null) IN @p0)'
    ]
    # a list field compares whole lists: a scalar among the values is refused by the field
    with pytest.raises(ValidationError, match=r"CUser\.tags"):
        CUser.objects.filter(tags__in=["a", "b"])


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a b", 'a"b', "a.b", "a`b", "a\\b", "é", "", "__", "a__-1",
                                  "a__99999999999999999999", "1a"])
def test_unusable_names_never_compile(name: str) -> None:
    for build in (lambda: CUser.objects.filter(**{name: 1}), lambda: CUser.objects.order_by(name),
                  lambda: CUser.objects.values(name), lambda: F(name)):
        with pytest.raises(InvalidNameError):
            build()


def test_unknown_lookups_and_bad_lookup_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        F("age").lookup("bogus", 1)
    for kwargs in ({"age__in": 3}, {"age__gt": None}, {"age__gt": [1]}, {"age__range": (1, "a")},
                   {"name__startswith": 3}, {"age__isnull": "yes"}, {"tags__any": "ab"}):
        with pytest.raises(ValidationError):
            CUser.objects.filter(**kwargs).compile()
    with pytest.raises(ValidationError):
        CUser.objects.filter(F("tags").lookup("len", "3")).compile()


# ---------------------------------------------------------------------------
# The shape cache
# ---------------------------------------------------------------------------


class CacheProbe(Document):
    name: str = ""
    age: int = 0

    class Meta:
        collection = "cache_probe_shape"


def test_a_repeated_shape_is_rendered_once() -> None:
    first = CacheProbe.objects.filter(name__startswith="a", age__gt=1).order_by("name")[0:5]
    before = render_select.cache_info()
    compiled = first.compile()
    after_first = render_select.cache_info()
    assert after_first.misses == before.misses + 1
    again = CacheProbe.objects.filter(name__startswith="zzz", age__gt=99).order_by("name")[10:50]
    compiled_again = again.compile()
    after_second = render_select.cache_info()
    assert after_second.hits == after_first.hits + 1
    assert after_second.misses == after_first.misses
    assert compiled_again.sdbql == compiled.sdbql
    assert compiled_again.bind_vars != compiled.bind_vars
    # "1" is prepared by the int field: the same shape, with the value 1
    coerced = CacheProbe.objects.filter(name__startswith="a", age__gt="1").order_by("name")[0:5]
    assert coerced.compile().bind_vars == compiled.bind_vars
    assert render_select.cache_info().misses == after_second.misses
    # another value type is another shape (the guards depend on it)
    CacheProbe.objects.filter(Stored("misc") > "1").compile()
    CacheProbe.objects.filter(Stored("misc") > 1).compile()
    assert render_select.cache_info().misses == after_second.misses + 2


def test_aggregates_compile_with_bound_values() -> None:
    spec = CUser.objects.filter(name="x")._spec()
    compiled = compile_aggregate(spec, [("g0", F("age"))],
                                 [("a0", Count().func, None), ("a1", Max("age").func, F("age"))])
    assert "COLLECT g0 = d[\"age\"] AGGREGATE " in compiled.sdbql
    assert compiled.bind_vars == {"p0": "x"}
