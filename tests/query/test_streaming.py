"""Large results come from one server-side cursor: iterator() always, list() past its first page.

The server evaluates a FILTER over the whole collection before it applies
LIMIT, so offset pages would cost a full evaluation each; these tests pin
that the cursor path returns exactly what paging would (order, slices,
prefetch), that transactions still see their own staged writes, and the
server facts the choice rests on.
"""

from __future__ import annotations

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.client.cursors import close_cursor, next_page, open_cursor
from solidb_odm.database import Database
from solidb_odm.query.queryset import DEFAULT_CHUNK_SIZE
from solidb_odm.testing import capture_queries

from ..models.models import Post, User
from ..modes import Mode

ROWS = 95


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(User, Post)
    odm_db.sync()
    User.objects.bulk_create(
        [User(name=f"n{i:03d}", email=f"n{i}@x", age=i % 7, key=f"u{i:03d}") for i in range(ROWS)])
    return odm_db


async def test_iterator_returns_every_row_in_order_across_batches(mode: Mode, db: Database) -> None:
    qs = User.objects.filter(age__gte=0).order_by("name")
    seen = [u.name async for u in mode.iterate(qs, "iterator", chunk_size=10)]
    assert seen == [f"n{i:03d}" for i in range(ROWS)]


@pytest.mark.parametrize("start, stop", [(5, 62), (3, None), (None, 41), (90, 200), (None, 10)])
async def test_slices_stream_like_lists(mode: Mode, db: Database, start: int | None,
                                        stop: int | None) -> None:
    qs = User.objects.order_by("-name")[start:stop]
    expected = [f"n{i:03d}" for i in reversed(range(ROWS))][start:stop]
    assert [u.name async for u in mode.iterate(qs, "iterator", chunk_size=9)] == expected
    assert [u.name for u in await mode.list(qs)] == expected


async def test_list_of_more_than_a_page(mode: Mode, db: Database) -> None:
    extra = DEFAULT_CHUNK_SIZE + 30 - ROWS
    await mode(User.objects, "bulk_create",
               [User(name=f"z{i:05d}", email=f"z{i}@x", age=9) for i in range(extra)])
    names = [u.name for u in await mode.list(User.objects.filter(age__lte=9).order_by("name"))]
    assert len(names) == DEFAULT_CHUNK_SIZE + 30 and names == sorted(names)
    assert len(set(names)) == len(names)


async def test_values_and_prefetch_over_batches(mode: Mode, db: Database) -> None:
    authors = await mode.list(User.objects.order_by("name")[:3])
    await mode(Post.objects, "bulk_create",
               [Post(title=f"t{i:02d}", author=authors[i % 3]) for i in range(25)])
    qs = Post.objects.prefetch_related("author").order_by("title")
    posts = [p async for p in mode.iterate(qs, "iterator", chunk_size=4)]
    assert [p.title for p in posts] == [f"t{i:02d}" for i in range(25)]
    related = [await mode(p, "get_related", "author") for p in posts]
    assert [a.name for a in related] == [authors[i % 3].name for i in range(25)]
    ages = [v async for v in mode.iterate(User.objects.order_by("name").values_list("age", flat=True),
                                          "iterator", chunk_size=8)]
    assert ages == [i % 7 for i in range(ROWS)]


def test_a_transaction_keeps_paging_through_its_own_connection(db: Database) -> None:
    """Inside a transaction every page is a query on the transaction's connection, which
    reads what the transaction reads; a cursor would be a request outside it."""
    client = db.client
    tx = client.begin_transaction(db.name)
    try:
        with capture_queries() as captured:
            names = [u.name for u in User.objects.order_by("name").iterator(chunk_size=10)]
    finally:
        client.rollback_transaction(tx)
    assert names == [f"n{i:03d}" for i in range(ROWS)]
    assert [e.operation for e in captured] == ["query"] * 10
    assert {e.tx_id for e in captured} == {tx}


def test_outside_transactions_iterator_reads_one_cursor(db: Database) -> None:
    with capture_queries() as captured:
        assert len(list(User.objects.order_by("name").iterator(chunk_size=10))) == ROWS
    assert [e.operation for e in captured] == ["query"] + ["HTTP PUT"] * 9


def test_a_list_is_one_query_when_it_fits_a_page(db: Database) -> None:
    """list(qs) asks with a query first (most results are small), and opens a cursor only
    for what does not fit in its first page."""
    with capture_queries() as captured:
        assert len(list(User.objects.all())) == ROWS
    assert [e.operation for e in captured] == ["query"]


def test_leaving_early_frees_the_cursor(db: Database) -> None:
    it = User.objects.order_by("name").iterator(chunk_size=10)
    assert [next(it).name for _ in range(15)][-1] == "n014"
    it.close()  # the generator's finally deletes the server's copy; nothing is left to fail
    assert User.objects.count() == ROWS


def test_server_cursor_pages_one_evaluation(db: Database) -> None:
    """Server facts: batches of the asked size from one evaluation, then the cursor is gone."""
    client = db.client
    query = "FOR u IN users SORT u.name RETURN u.name"
    first = client.run(open_cursor(db.name, query, {}, 40))
    assert first.rows == [f"n{i:03d}" for i in range(40)] and first.cursor_id
    client.insert(db.name, "users", {"name": "a-new-one", "email": "new@x", "age": 1, "tags": []})
    second = client.run(next_page(first.cursor_id))
    assert second.rows == [f"n{i:03d}" for i in range(40, 80)]  # the snapshot, not the new row
    third = client.run(next_page(second.cursor_id or ""))
    assert third.rows == [f"n{i:03d}" for i in range(80, ROWS)] and third.cursor_id is None
    with pytest.raises(exc.NotFoundError):
        client.run(next_page(second.cursor_id or ""))  # read to its end: freed
    opened = client.run(open_cursor(db.name, query, {}, 10))
    assert opened.cursor_id
    client.run(close_cursor(opened.cursor_id))
    with pytest.raises(exc.NotFoundError):
        client.run(next_page(opened.cursor_id))
    client.run(close_cursor(opened.cursor_id))  # closing twice is harmless


def test_server_filters_the_whole_collection_before_limit(db: Database) -> None:
    """Server fact: ``FILTER … LIMIT n`` scans every document (no early exit), so each offset
    page of a filtered query costs a full evaluation."""
    plan = db.client.explain(db.name, "FOR u IN users FILTER u.age >= 0 LIMIT 0, 2 RETURN u")
    assert plan["documents_scanned"] == ROWS
    assert plan["filters"][0]["documents_before"] == ROWS
