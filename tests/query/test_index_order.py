"""``order_by("-f")[i:j]`` read from an index: the same rows as the full sort, whatever the data.

Also the server's index order for strings holding NUL, which is why text keeps the full sort.

The compiler sends ``LET top = (FOR d IN c SORT d.f DESC LIMIT o, n RETURN d)`` and falls
back to the full sort (``FILTER true``) when that page is short (the server's index-ordered
path leaves out null and missing values: tests/query/test_server_plans.py). Checked here on
every window over data with nulls, missing fields, ties, both zeros, integers beyond 2**53
and mixed ints and floats, on a collection with an index on the field and on one without.
"""

from __future__ import annotations

import random
from typing import Any, Iterator, List, Optional

import pytest

from solidb_odm import Document
from solidb_odm.database import Database
from solidb_odm.query.compiler import compile_count

BIG = 2**53


class Ranked(Document):
    n: Optional[int] = None
    s: Optional[str] = None

    class Meta:
        collection = "ranked"


def _documents() -> List[dict[str, Any]]:
    rng = random.Random(7)
    numbers: List[Any] = [0, 0, -1, 1, 1, 2, 3, 3, 3, -7, 10**6, -(10**6), BIG, BIG + 1,
                          BIG + 2, -BIG - 1, -BIG - 2, -BIG, 0.0, -0.0, 1.0]
    strings = ["", "a", "a", "B", "b", "é", "z", "zz", "10", "9", "a\x00", "a\x00b", "\x00"]
    docs: List[dict[str, Any]] = []
    for i in range(60):
        doc: dict[str, Any] = {"_key": f"k{i:02d}"}
        r = rng.random()
        if r < 0.15:
            doc["n"] = None
        elif r > 0.25:
            doc["n"] = rng.choice(numbers)
        r = rng.random()
        if r < 0.15:
            doc["s"] = None
        elif r > 0.25:
            doc["s"] = rng.choice(strings)
        docs.append(doc)
    return docs


DOCS = _documents()


def _number_key(value: Any) -> Any:
    return value  # Python compares ints exactly and int/float by value, as the server does


def _expected(field: str) -> List[Any]:
    present = [d[field] for d in DOCS if d.get(field) is not None]
    if field == "s":
        present.sort(key=lambda v: v.encode("utf-8"), reverse=True)
    else:
        present.sort(key=_number_key, reverse=True)
    return present + [None] * (len(DOCS) - len(present))


@pytest.fixture(params=["indexed", "plain"])
def ranked(request: Any, odm_db: Database) -> Iterator[Database]:
    client = odm_db.client
    client.create_collection(odm_db.name, "ranked")
    if request.param == "indexed":
        client.create_index(odm_db.name, "ranked", "idx_n", ["n"])
        client.create_index(odm_db.name, "ranked", "idx_s", ["s"])
    client.bulk_insert(odm_db.name, "ranked", DOCS)
    yield odm_db


@pytest.mark.parametrize("field", ["n", "s"])
def test_descending_pages_match_the_full_sort(ranked: Database, field: str) -> None:
    expected = _expected(field)
    qs = Ranked.objects.order_by(f"-{field}")
    # free text keeps the full sort: the index puts "a" after "a\x00b"
    assert ("LET top" in qs[0:5].compile().sdbql) == (field == "n")
    for size in (1, 4, 10, len(DOCS)):
        for start in range(0, len(DOCS) + 2):
            window = qs[start:start + size]
            got = list(window.values_list(field, flat=True))
            assert got == expected[start:start + size], (start, size)
            assert window.count() == len(expected[start:start + size])
    assert [getattr(o, field) for o in qs[40:60]] == expected[40:60]  # as models
    assert list(qs[55:].values_list(field, flat=True)) == expected[55:]  # no end: full sort


def test_server_index_orders_a_string_holding_nul_after_its_prefix(ranked: Database) -> None:
    """Read from the index, descending, "a" comes before "a\x00b"; SORT (byte order) puts it
    after. Without an index both are the full sort."""
    client, db = ranked.client, ranked.name

    def order(sdbql: str) -> List[str]:
        return [v for v in client.query(db, sdbql) if v in ("a", "a\x00b")]

    indexed = order("FOR d IN ranked SORT d.s DESC LIMIT 100 RETURN d.s")
    full = order("FOR d IN ranked FILTER true SORT d.s DESC LIMIT 100 RETURN d.s")
    assert full == sorted(full, key=lambda v: v.encode(), reverse=True)
    if client.list_indexes(db, "ranked"):
        assert indexed.index("a") < indexed.index("a\x00b")
    else:
        assert indexed == full


def test_ascending_and_filtered_orders_keep_the_full_sort(ranked: Database) -> None:
    for qs in (Ranked.objects.order_by("n")[:5], Ranked.objects.filter(n__gt=0).order_by("-n")[:5],
               Ranked.objects.order_by("-n", "s")[:5]):
        assert "LET top" not in qs.compile().sdbql
        assert "FILTER" in qs.compile().sdbql
    assert list(Ranked.objects.order_by("n")[:3].values_list("n", flat=True)) == [None] * 3
    assert "LET top" in compile_count(Ranked.objects.order_by("-n")[:5]._spec()).sdbql
