"""What the real server's query planner does with the statements the compiler writes.

Each test asks a real solidb 2.6.0 and backs a row of docs/server-behaviour.md
("Queries and indexes"). The compiler's spellings depend on these facts:

- the index-ordered SORT + LIMIT path leaves out documents whose sort field is
  null or missing, any FILTER (even ``FILTER true``) turns it off, and
  ``explain()`` reports a full scan for it;
- bracket access (``d["n"]``) and a bound ``LIMIT @o, @n`` keep it on;
- the type order ``null < false < true < numbers < strings < arrays <
  objects`` bounds a kind from both sides, and an index-served range
  re-checks the whole FILTER (so ``d.n > @p AND d.n < ""`` stays numbers-only);
- the index-only count takes ``RETURN d["_key"]`` like ``RETURN 1``.
"""

from __future__ import annotations

from typing import Any, List

import pytest

from solidb_odm import Client, Document
from solidb_odm.database import Database


@pytest.fixture
def col(solidb_client: Client, solidb_database: str) -> str:
    name = "plans"
    solidb_client.create_collection(solidb_database, name)
    solidb_client.create_index(solidb_database, name, "idx_n", ["n"])
    docs: List[dict[str, Any]] = [
        {"_key": "null", "n": None}, {"_key": "missing"}, {"_key": "t", "n": True},
        {"_key": "one", "n": 1}, {"_key": "two", "n": 2}, {"_key": "three", "n": 3},
        {"_key": "s", "n": "x"}, {"_key": "empty", "n": ""}, {"_key": "list", "n": [0]},
    ]
    solidb_client.bulk_insert(solidb_database, name, docs)
    return name


def keys(client: Client, db: str, sdbql: str, binds: Any = None) -> List[str]:
    return list(client.query(db, sdbql, binds))


def test_server_index_ordered_sort_leaves_out_null_and_missing_documents(
    solidb_client: Client, solidb_database: str, col: str
) -> None:
    """A lone ``FOR ... SORT d.n LIMIT k`` with an index on ``n`` is read from the index, which
    holds no entry for null or missing values: ascending, they are not first, they are gone.
    ``FILTER true`` keeps the full scan, which sorts them first (SDBQL's type order)."""
    db = solidb_database
    indexed = keys(solidb_client, db, f"FOR d IN `{col}` SORT d.n ASC LIMIT 4 RETURN d._key")
    assert indexed == ["t", "one", "two", "three"]
    scanned = keys(solidb_client, db,
                   f"FOR d IN `{col}` FILTER true SORT d.n ASC LIMIT 4 RETURN d._key")
    assert sorted(scanned[:2]) == ["missing", "null"] and scanned[2:] == ["t", "one"]
    # descending, the index order agrees with the scan while it holds enough entries
    top = "SORT d.n DESC LIMIT 3 RETURN d._key"
    assert keys(solidb_client, db, f"FOR d IN `{col}` {top}") == keys(
        solidb_client, db, f"FOR d IN `{col}` FILTER true {top}")
    # ...and runs short where the null documents would have filled the page
    tail = "SORT d.n DESC LIMIT 7, 5 RETURN d._key"
    assert len(keys(solidb_client, db, f"FOR d IN `{col}` {tail}")) == 0
    assert len(keys(solidb_client, db, f"FOR d IN `{col}` FILTER true {tail}")) == 2


def test_server_index_ordered_sort_takes_brackets_and_bound_limits(
    solidb_client: Client, solidb_database: str, col: str
) -> None:
    """``d["n"]`` and ``LIMIT @o, @k`` are read from the index too (nulls left out), and
    ``explain()`` reports a full scan for that path: only the result (or timing) shows it."""
    db = solidb_database
    sdbql = f'FOR d IN `{col}` SORT d["n"] ASC LIMIT @o, @k RETURN d._key'
    assert keys(solidb_client, db, sdbql, {"o": 0, "k": 2}) == ["t", "one"]
    plan = solidb_client.explain(db, sdbql, {"o": 0, "k": 2})
    assert [c["access_type"] for c in plan["collections"]] == ["full_scan"]
    assert plan["documents_scanned"] == 9  # what the full scan would read, not what was read


def test_server_type_order_bounds_a_kind_from_both_sides(
    solidb_client: Client, solidb_database: str, col: str
) -> None:
    """``null < false < true < numbers < strings < arrays < objects``: ``x > @p AND x < ""``
    keeps numbers only, with or without an index serving ``x > @p``."""
    db = solidb_database
    order = solidb_client.query(
        db, 'RETURN [null < false, false < true, true < @low, @high < "", "" < "a", '
            '@top < [], [] < {}, [9] < [10]]', {"low": -1e308, "high": 1e308, "top": "\U0010ffff"})
    assert order == [[True] * 8]
    for source in (f"`{col}`", f"(FOR x IN `{col}` RETURN x)"):  # index-served, then not
        numbers = f'FOR d IN {source} FILTER (d.n > @p AND d.n < "") SORT d._key RETURN d._key'
        assert keys(solidb_client, db, numbers, {"p": 1}) == ["three", "two"]
        below = f"FOR d IN {source} FILTER (d.n < @p AND d.n > true) RETURN d._key"
        assert keys(solidb_client, db, below, {"p": 2}) == ["one"]
        strings = f'FOR d IN {source} FILTER (d.n >= @p AND d.n < []) SORT d._key RETURN d._key'
        assert keys(solidb_client, db, strings, {"p": ""}) == ["empty", "s"]
        between = f"FOR d IN {source} FILTER (d.n >= @lo AND d.n <= @hi) SORT d.n RETURN d._key"
        assert keys(solidb_client, db, between, {"lo": 1, "hi": 3}) == ["one", "two", "three"]


def test_server_index_only_count_takes_a_field_of_the_document(
    solidb_client: Client, solidb_database: str, col: str
) -> None:
    """The index-only count (doubles, see test_server_index_served_count_...) also serves
    ``RETURN d["_key"]``: any field of the loop variable counts as "cannot fail". A second
    FILTER, a non-equality or an object built per row takes the ordinary path."""
    db = solidb_database
    for i, value in enumerate([2**53, 2**53 + 1]):
        solidb_client.insert(db, col, {"n": value}, key=f"big{i}")
    where = f'FOR d IN `{col}` FILTER d["n"] == @p'
    assert solidb_client.query(db, f'RETURN LENGTH(({where} RETURN d["_key"]))',
                               {"p": 2**53}) == [2]  # wrong: one row matches
    assert solidb_client.query(db, f'RETURN LENGTH(({where} RETURN {{"k": d._key}}))',
                               {"p": 2**53}) == [1]
    assert solidb_client.query(db, f"RETURN LENGTH(({where} FILTER true RETURN 1))",
                               {"p": 2**53}) == [1]


class Plan(Document):
    n: Any = None

    class Meta:
        collection = "plans"


def test_count_is_exact_beyond_doubles_and_index_served_below(
    odm_db: Database, solidb_client: Client, col: str
) -> None:
    """count() sends ``RETURN 1`` (counted from the index for one equality) unless a bound
    number reaches 2**53, where it builds a value per row and stays exact."""
    db = odm_db.name
    for i, value in enumerate([2**53, 2**53 + 1]):
        solidb_client.insert(db, col, {"n": value}, key=f"big{i}")
    assert Plan.objects.filter(n=2**53).count() == 1
    assert Plan.objects.filter(n=2**53 + 1).count() == 1
    assert Plan.objects.filter(n=2).count() == 1
    assert Plan.objects.filter(n__gt=1).count() == 4  # 2, 3, 2**53, 2**53 + 1
    assert "RETURN 1" in _count_text(Plan.objects.filter(n=2))
    assert "RETURN 1" not in _count_text(Plan.objects.filter(n=2**53))


def _count_text(qs: Any) -> str:
    from solidb_odm.query.compiler import compile_count

    return compile_count(qs._spec()).sdbql


def test_server_serves_a_range_from_the_index_and_reads_every_match(
    solidb_client: Client, solidb_database: str, col: str
) -> None:
    """A range on an indexed field is read from the index (``explain()`` names it), from the
    bound to the end of the index: the type bound ``< ""`` does not close it, so the strings
    and lists stored in the field are read too, then every candidate is read and re-checked.
    Over half a collection that costs more than the scan (benchmarks/query_bench.py: count
    of ``age >= v`` over 100k documents)."""
    db = solidb_database
    sdbql = f'FOR d IN `{col}` FILTER (d.n > @p AND d.n < "") RETURN d._key'
    plan = solidb_client.explain(db, sdbql, {"p": 1})
    assert [c["index_used"] for c in plan["collections"]] == ["idx_n"]
    assert plan["documents_scanned"] == 5  # 2, 3, "x", "", [0]
    assert sorted(keys(solidb_client, db, sdbql, {"p": 1})) == ["three", "two"]
