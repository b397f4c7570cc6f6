"""The N+1 detector over the ODM's own paths, at its strictest (no shape may run twice).

What it shows, pinned here so that a regression is a failure: iteration, list(),
select_related and prefetch_related cost a fixed number of queries whatever
the row count; a session commit is one batch (but ``save()`` in ``atomic``
is a batch per call); bulk_create is one request per batch. A result larger
than one page (``iterator(chunk_size=...)``) is one query for the first page and
one server-side cursor for the rest, but with prefetch_related each batch loads
its related documents again, even those an earlier batch loaded.
"""

from __future__ import annotations

import pytest

from solidb_odm.database import Database
from solidb_odm.testing import NPlusOneError, capture_queries, detect_n_plus_one

from ..models.models import Post, User
from ..modes import Mode

ROWS = 9


@pytest.fixture
def db(solidb_odm_db: Database) -> Database:
    solidb_odm_db.register(User, Post)
    solidb_odm_db.sync()
    users = [User(name=f"u{i}", email=f"u{i}@x", key=f"u{i}").save() for i in range(3)]
    Post.objects.bulk_create(
        [Post(title=f"t{i}", author=users[i % 3], key=f"t{i}") for i in range(ROWS)])
    return solidb_odm_db


def strict() -> object:
    """Every request shape, writes included, at most once."""
    return detect_n_plus_one(threshold=1, kinds=None)


async def test_iteration_and_list_run_one_query(mode: Mode, db: Database) -> None:
    with strict(), capture_queries() as captured:
        assert len(await mode.list(Post.objects.all())) == ROWS
    assert len(captured) == 1
    with strict(), capture_queries() as captured:
        assert len([p async for p in mode.iterate(Post.objects.all(), "iterator")]) == ROWS
    assert len(captured) == 1
    if not mode.is_async:
        with strict(), capture_queries() as captured:
            qs = Post.objects.all()
            assert len(list(qs)) == ROWS and len(qs) == ROWS  # the length hint's fetch is reused
        assert len(captured) == 1


async def test_select_related_is_one_query(mode: Mode, db: Database) -> None:
    with strict(), capture_queries() as captured:
        posts = await mode.list(Post.objects.select_related("author"))
        authors = [await mode(p, "get_related", "author") for p in posts]
    assert len(captured) == 1 and {a.name for a in authors} == {"u0", "u1", "u2"}


async def test_prefetch_related_is_two_queries(mode: Mode, db: Database) -> None:
    with strict(), capture_queries() as captured:
        posts = await mode.list(Post.objects.prefetch_related("author"))
        authors = [await mode(p, "get_related", "author") for p in posts]
    assert len(captured) == 2 and {a.name for a in authors} == {"u0", "u1", "u2"}
    assert "@ids" in captured.statements[1]


async def test_prefetch_per_page_loads_the_same_documents_again(mode: Mode, db: Database) -> None:
    qs = Post.objects.prefetch_related("author").order_by("title")
    with pytest.raises(NPlusOneError) as caught:
        with strict():
            [p async for p in mode.iterate(qs, "iterator", chunk_size=3)]
    lines = str(caught.value).splitlines()
    # t0..t8 in batches of three: the first from a query, the others from one cursor; each
    # batch points at u0, u1 and u2, which its prefetch loads again (the same bind values)
    assert not any("LIMIT" in line for line in lines), lines
    assert any(line.startswith("3x query") and "1 distinct bind value set:" in line
               and "FOR i IN @ids" in line for line in lines), lines


async def test_session_flush_and_commit_are_one_batch(mode: Mode, db: Database) -> None:
    with strict(), capture_queries() as captured:
        async with mode.session(db) as session:
            posts = await mode.list(Post.objects.filter(views=0))
            for post in posts:
                post.views += 1
            for i in range(5):
                session.add(Post(title=f"s{i}"))
            await mode(session, "flush")
            for post in posts:
                post.views += 1
    ops = [e.operation for e in captured]
    assert ops == ["begin_transaction", "query", "batch", "batch", "commit_transaction"], ops
    assert captured[2].batch.count("update") == ROWS and captured[2].batch.count("insert") == 5


async def test_save_per_row_in_atomic_is_a_batch_per_row(mode: Mode, db: Database) -> None:
    """``save()`` flushes at once, also inside ``atomic`` (one round trip per save, as in
    Django); ``session.add()`` of the same objects waits for the commit's one batch."""
    with pytest.raises(NPlusOneError, match=r"5x batch( in \w+)?: insert"):
        with strict():
            async with mode.atomic(db):
                for i in range(5):
                    await mode(Post(title=f"a{i}"), "save")
    with strict(), capture_queries() as captured:
        async with mode.atomic(db) as session:
            for i in range(5):
                session.add(Post(title=f"b{i}"))
    assert [e.operation for e in captured] == ["begin_transaction", "batch", "commit_transaction"]
    assert captured[1].batch == ("insert",) * 5


async def test_bulk_create_is_one_request_per_batch(mode: Mode, db: Database) -> None:
    with strict(), capture_queries() as captured:
        await mode(Post.objects, "bulk_create", [Post(title=f"b{i}") for i in range(25)])
    assert [e.operation for e in captured] == ["bulk_insert"]
    with pytest.raises(NPlusOneError, match="3x bulk_insert"):
        with strict():
            await mode(Post.objects, "bulk_create", [Post(title=f"c{i}") for i in range(25)], batch_size=10)
