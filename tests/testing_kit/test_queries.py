"""The request-counting kit against the real server, in both modes."""

from __future__ import annotations

import asyncio

import pytest

from solidb_odm.database import Database
from solidb_odm.testing import (
    NPlusOneError,
    assert_max_queries,
    assert_num_queries,
    capture_queries,
    detect_n_plus_one,
)

from ..models.models import Post, User
from ..modes import Mode


async def get_by_key(mode: Mode, db: Database, collection: str, key: str) -> object:
    """The client's get-by-key (``AsyncClient.get`` is a coroutine of the same name)."""
    result = mode.client(db).get(db.name, collection, key)
    return await result if mode.is_async else result  # type: ignore[misc]


@pytest.fixture
def db(solidb_odm_db: Database) -> Database:
    solidb_odm_db.register(User, Post)
    solidb_odm_db.sync()
    alice = User(name="Alice", email="alice@x", key="alice").save()
    bob = User(name="Bob", email="bob@x", key="bob").save()
    Post.objects.bulk_create(
        [Post(title=f"p{i}", author=(alice if i % 2 else bob), key=f"p{i}") for i in range(8)])
    return solidb_odm_db


async def test_every_request_counts(mode: Mode, db: Database) -> None:
    with capture_queries() as captured:
        await mode(Post.objects, "count")
        await get_by_key(mode, db, "posts", "p1")
        async with mode.session(db) as session:
            post = await mode(session, "get", Post, "p2")
            post.title = "renamed"
            session.add(Post(title="new"))
    assert [e.operation for e in captured.queries] == [
        "query", "get", "begin_transaction", "get", "batch", "commit_transaction"]
    assert len(captured) == 6
    assert captured.statements == [captured.queries[0].statement]
    assert captured[4].batch and captured[4].tx_id == captured[2].tx_id


async def test_assert_num_and_max(mode: Mode, db: Database) -> None:
    with assert_num_queries(1) as captured:
        rows = [p async for p in mode.iterate(Post.objects.filter(views=0), "iterator")]
    assert len(rows) == 8 and len(captured) == 1
    async with mode.atomic(db):
        with assert_max_queries(1):
            await mode(Post(title="in tx"), "save")  # staged until commit: no request yet
    with assert_num_queries(4, kinds="transaction"), assert_num_queries(2, kinds="writes"):
        async with mode.atomic(db):
            await mode(Post(title="a"), "save")
        await mode(Post.objects.filter(title="a"), "update", views=3)
        async with mode.atomic(db):  # an empty block still begins and commits
            pass


async def test_kinds_filter(mode: Mode, db: Database) -> None:
    with capture_queries(kinds={"query"}) as queries, capture_queries("reads") as reads, \
            capture_queries(["get", "transaction"]) as mixed, capture_queries() as every:
        await mode(User.objects, "get", name="Alice")
        await get_by_key(mode, db, "users", "bob")
        await mode(Post(title="x"), "save")
        async with mode.atomic(db):
            await mode(Post(title="y"), "save")
    assert [e.operation for e in every] == [
        "query", "get", "insert", "begin_transaction", "batch", "commit_transaction"]
    assert [e.operation for e in queries] == ["query"]
    assert [e.operation for e in reads] == ["query", "get"]
    assert [e.operation for e in mixed] == ["get", "begin_transaction", "commit_transaction"]
    with pytest.raises(ValueError):
        with capture_queries(kinds=()):
            pass


async def test_failures_list_the_requests(mode: Mode, db: Database) -> None:
    with pytest.raises(AssertionError) as failure:
        with assert_num_queries(1):
            await mode(Post.objects, "count")
            await get_by_key(mode, db, "posts", "p3")
    text = str(failure.value)
    assert text.startswith("expected 1 requests, 2 were sent:\n")
    assert "1. query" in text and "RETURN" in text and "2. get " + db.name + ".posts" in text
    assert "ms" in text
    with pytest.raises(AssertionError, match=r"at most 0 requests of kinds \['query'\], 1 were sent"):
        with assert_max_queries(0, kinds="query"):
            await mode(Post.objects.filter(views__gt=1), "count")


async def test_duration_rows_and_bind_names(mode: Mode, db: Database) -> None:
    with capture_queries() as captured:
        await mode.list(Post.objects.filter(title__in=["p0", "p1", "p2"]))
    event = captured[0]
    assert event.rows == 3 and event.duration > 0 and event.bind_names
    assert all(f"@{name}" in event.statement for name in event.bind_names)
    assert event.database == db.name


async def test_only_the_calling_context_is_seen(db: Database) -> None:
    """Concurrent tasks: the one started inside the block is seen, the neighbour is not."""
    started = asyncio.Event()

    async def neighbour() -> None:  # started outside the block: not seen
        await started.wait()
        await Post.objects.acount()

    other = asyncio.ensure_future(neighbour())
    with capture_queries() as captured:
        started.set()
        child = asyncio.ensure_future(Post.objects.filter(views=1).acount())  # started inside: seen
        await asyncio.gather(other, child)
    assert len(captured) == 1 and "FILTER" in captured[0].statement


async def test_n_plus_one_is_caught(mode: Mode, db: Database) -> None:
    posts = await mode.list(Post.objects.order_by("title"))
    with pytest.raises(NPlusOneError) as caught:
        with detect_n_plus_one(threshold=3):
            for post in posts:
                await mode(post, "get_related", "author")
    assert "8x query" in str(caught.value) and "DOCUMENT(@id)" in str(caught.value)
    assert "2 distinct bind value sets" in str(caught.value)

    with pytest.raises(NPlusOneError, match=r"8x get in \w+: posts"):
        with detect_n_plus_one(threshold=3):
            for post in posts:
                await get_by_key(mode, db, "posts", post.key)


async def test_select_and_prefetch_related_pass(mode: Mode, db: Database) -> None:
    with detect_n_plus_one(threshold=3), assert_max_queries(4):
        for qs in (Post.objects.select_related("author"), Post.objects.prefetch_related("author")):
            async for post in mode.iterate(qs, "iterator"):
                assert (await mode(post, "get_related", "author")).name in ("Alice", "Bob")


async def test_a_save_per_row_is_caught_when_writes_are_watched(mode: Mode, db: Database) -> None:
    with detect_n_plus_one(threshold=3):  # writes are not watched by default
        for i in range(5):
            await mode(User(name=f"u{i}", email=f"u{i}@x"), "save")
    with pytest.raises(NPlusOneError, match="5x insert"):
        with detect_n_plus_one(threshold=3, kinds={"query", "get", "writes"}):
            for i in range(5, 10):
                await mode(User(name=f"u{i}", email=f"u{i}@x"), "save")


@pytest.mark.solidb_n_plus_one(threshold=2)
async def test_the_marker_passes_a_clean_test(mode: Mode, db: Database) -> None:
    assert await mode(Post.objects, "count") == 8


async def test_fixtures_give_the_same_helpers(
    mode: Mode, db: Database, capture_queries, assert_num_queries, assert_max_queries, detect_n_plus_one,
) -> None:
    with assert_num_queries(1), assert_max_queries(1), capture_queries("query") as captured, \
            detect_n_plus_one(threshold=1):
        await mode(Post.objects, "count")
    assert len(captured) == 1
