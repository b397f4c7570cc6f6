"""Sessions and transactions against the real server: each guarantee, tested.

Each test that talks to the server runs in both modes (``mode``: ``with`` and
blocking calls, or ``async with`` and their awaitable twins; see
``tests/modes.py``). How sessions follow tasks and threads: test_context.py.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.database import Database
from solidb_odm.session import ObjectState, atomic

from ..models.models import Address, Follows, Post, User
from ..modes import Mode, spy


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(User, Follows, Post)
    odm_db.sync()
    return odm_db


def stored(db: Database, key: str) -> dict | None:
    try:
        return db.client.get(db.name, "users", key)
    except exc.NotFoundError:
        return None


def seed(db: Database, n: int = 3) -> list[User]:
    return [User(name=f"u{i}", email=f"u{i}@x", age=i, key=f"u{i}").save() for i in range(n)]


async def test_identity_map_and_field_level_tracking(mode: Mode, db: Database) -> None:
    seed(db)
    async with mode.session(db) as session:
        a = await mode(session, "get", User, "u1")
        assert a is await mode(session, "get", User, "u1")
        assert a is await mode(session.query(User), "get", name="u1")
        assert session.state(a) is ObjectState.PERSISTENT
        a.age += 1
        a.tags.append("vip")
        a.address = Address(city="Rome", zip="1")
        assert session.state(a) is ObjectState.DIRTY
        assert a.changed_fields() == {"age": 2, "tags": ["vip"], "address": {"city": "Rome", "zip": "1"}}
    after = stored(db, "u1")
    assert after["age"] == 2 and after["tags"] == ["vip"] and after["address"]["city"] == "Rome"
    assert session.state(a) is ObjectState.DETACHED


async def test_nested_in_place_change_is_tracked(mode: Mode, db: Database) -> None:
    await mode(User(name="n", email="n@x", key="n", address=Address(city="A", zip="1")), "save")
    async with mode.session(db) as session:
        user = await mode(session, "get", User, "n")
        user.address.city = "B"
    assert stored(db, "n")["address"] == {"city": "B", "zip": "1"}


async def test_exception_leaves_nothing_behind(mode: Mode, db: Database) -> None:
    seed(db)
    with pytest.raises(RuntimeError):
        async with mode.session(db) as session:
            session.add(User(name="new", email="new@x", key="new"))
            (await mode(session, "get", User, "u0")).age = 100
            session.delete(await mode(session, "get", User, "u2"))
            await mode(session, "flush")  # staged on the server, not yet committed
            raise RuntimeError("boom")
    assert stored(db, "new") is None
    assert stored(db, "u0")["age"] == 0
    assert stored(db, "u2") is not None


async def test_uncommitted_writes_are_invisible_to_other_connections(mode: Mode, db: Database,
                                                                     solidb_server) -> None:
    other = solidb_server.client(db.name)
    try:
        async with mode.session(db) as session:
            session.add(User(name="hidden", email="h@x", key="hidden"))
            await mode(session, "flush")
            assert other.query(db.name, "FOR u IN users FILTER u._key == 'hidden' RETURN u") == []
            with pytest.raises(exc.NotFoundError):
                other.get(db.name, "users", "hidden")
        assert other.get(db.name, "users", "hidden")["name"] == "hidden"
    finally:
        other.close()


async def test_failure_at_kth_write_leaves_nothing(mode: Mode, db: Database) -> None:
    await mode(User(name="taken", email="taken@x"), "save")
    with pytest.raises(exc.UniqueViolationError):
        async with mode.session(db) as session:
            for i in range(1000):
                email = "taken@x" if i == 499 else f"m{i}@x"
                session.add(User(name=f"m{i}", email=email))
    assert await mode(User.objects, "count") == 1


async def test_thousand_changes_commit_in_a_handful_of_round_trips(mode: Mode, db: Database,
                                                                   monkeypatch) -> None:
    await mode(User.objects, "bulk_create", [User(name=f"r{i}", email=f"r{i}@x", age=0) for i in range(1000)])
    calls = []

    def record(tx, message, **_):  # count frames sent on the transaction's connection
        calls.append(message["cmd"])

    spy(monkeypatch, mode.client(db), "_send_pinned", record)
    async with mode.session(db) as session:
        for user in await mode.list(session.query(User).all()):
            user.age = 1
    assert await mode(User.objects.filter(age=1), "count") == 1000
    print("frames on the transaction connection:", calls)
    assert calls and len(calls) <= 5, calls


async def test_query_sees_pending_changes(mode: Mode, db: Database) -> None:
    seed(db, 5)
    async with mode.session(db) as session:
        (await mode(session, "get", User, "u1")).age = 50
        session.delete(await mode(session, "get", User, "u4"))
        session.add(User(name="fresh", email="f@x", age=40))
        adults = session.query(User).filter(age__gt=2).order_by("-age")
        assert [u.name for u in await mode.list(adults)] == ["u1", "fresh", "u3"]
        assert await mode(session.query(User), "count") == 5
        await mode(session, "flush")  # staged, still invisible to the server's reads
        again = session.query(User).filter(age__gt=2).order_by("-age")
        assert [u.name for u in await mode.list(again)] == ["u1", "fresh", "u3"]


async def test_flush_order_documents_before_edges_and_deletes_last(mode: Mode, db: Database) -> None:
    import datetime as dt

    async with mode.session(db) as session:
        a = User(name="a", email="a@x")
        b = User(name="b", email="b@x")
        session.add(a)
        session.add(b)
        await mode(session, "flush")
        session.add(Follows(from_=a, to=b, since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    assert await mode(Follows.objects, "count") == 1


async def test_optimistic_concurrency_conflict(mode: Mode, db: Database, solidb_server) -> None:
    seed(db)
    other = solidb_server.client(db.name)  # another connection: not in the session's transaction
    try:
        with pytest.raises(exc.ConflictError):
            async with mode.session(db) as session:
                user = await mode(session, "get", User, "u1")
                other.update(db.name, "users", "u1", {"age": 77})
                user.age = 5
        assert stored(db, "u1")["age"] == 77  # the other write was not lost
        with pytest.raises(exc.ConflictError):  # and a change between flush and commit
            async with mode.session(db) as session:
                user = await mode(session, "get", User, "u2")
                user.age = 5
                await mode(session, "flush")
                other.update(db.name, "users", "u2", {"age": 88})
        assert stored(db, "u2")["age"] == 88
    finally:
        other.close()


def test_two_threads_no_lost_update(db: Database) -> None:
    User(name="counter", email="c@x", key="c", age=0).save()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            with db.session() as session:
                user = session.get(User, "c")
                barrier.wait(timeout=10)
                user.age += 1
            outcomes.append("ok")
        except exc.ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert stored(db, "c")["age"] == 1


async def test_two_tasks_no_lost_update(mode: Mode, db: Database) -> None:
    """As with threads: two tasks, each in its own session, load the same document."""
    await mode(User(name="counter", email="c@x", key="c", age=0), "save")
    barrier = asyncio.Barrier(2)
    outcomes: list[str] = []

    async def worker() -> None:
        try:
            async with mode.session(db) as session:
                user = await mode(session, "get", User, "c")
                await asyncio.wait_for(barrier.wait(), 10)
                user.age += 1
            outcomes.append("ok")
        except exc.ConflictError:
            outcomes.append("conflict")

    await asyncio.wait_for(asyncio.gather(worker(), worker()), 30)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert stored(db, "c")["age"] == 1


async def test_savepoint_undoes_only_its_block(mode: Mode, db: Database) -> None:
    seed(db)
    async with mode.session(db) as session:
        a = await mode(session, "get", User, "u0")
        a.age = 10
        with pytest.raises(ValueError):
            with session.begin_nested():
                a.age = 20
                session.add(User(name="inner", email="inner@x", key="inner"))
                raise ValueError
        assert a.age == 10
        with session.begin_nested():
            session.add(User(name="kept", email="kept@x", key="kept"))
            with pytest.raises(exc.SessionError):
                await mode(session, "flush")
    assert stored(db, "u0")["age"] == 10
    assert stored(db, "inner") is None and stored(db, "kept") is not None


async def test_expunge_refresh_and_states(mode: Mode, db: Database) -> None:
    seed(db)
    async with mode.session(db) as session:
        new = User(name="t", email="t@x")
        assert session.state(new) is ObjectState.TRANSIENT
        session.add(new)
        assert session.state(new) is ObjectState.PENDING
        a = await mode(session, "get", User, "u0")
        a.age = 99
        await mode(session, "refresh", a)
        assert a.age == 0 and session.state(a) is ObjectState.PERSISTENT
        session.expunge(a)
        a.age = 5
        assert session.state(a) is ObjectState.DETACHED
        b = await mode(session, "get", User, "u1")
        session.delete(b)
        assert session.state(b) is ObjectState.DELETED
    assert stored(db, "u0")["age"] == 0 and stored(db, "u1") is None


async def test_atomic_context_and_decorator(mode: Mode, db: Database) -> None:
    async with mode.atomic():
        user = await mode(User(name="at", email="at@x"), "save")
        assert user.key is not None
        assert await mode(User.objects, "get", name="at") is user  # reads see the block's own writes
    assert await mode(User.objects.filter(name="at"), "count") == 1

    @atomic
    @mode.function  # a plain function in sync mode, a coroutine function in async mode
    async def fails() -> None:
        await mode(User(name="gone", email="gone@x"), "save")
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await mode.call(fails)
    assert await mode(User.objects.filter(name="gone"), "count") == 0

    @atomic(db)
    @mode.function
    async def nested_ok() -> None:
        await mode(User(name="outer", email="o@x"), "save")
        try:
            async with mode.atomic():
                await mode(User(name="inner", email="i@x"), "save")
                raise ValueError
        except ValueError:
            pass

    await mode.call(nested_ok)
    assert await mode(User.objects.filter(name="outer"), "count") == 1
    assert await mode(User.objects.filter(name="inner"), "count") == 0


async def test_queryset_update_and_delete_inside_a_session_are_atomic(mode: Mode, db: Database) -> None:
    seed(db, 4)
    with pytest.raises(RuntimeError):
        async with mode.session(db) as session:
            assert await mode(session.query(User).filter(age__lt=2), "update", age=50) == 2
            assert await mode(session.query(User).filter(age=3), "delete") == 1
            raise RuntimeError
    assert await mode(User.objects.filter(age=50), "count") == 0 and await mode(User.objects, "count") == 4
    async with mode.session(db) as session:
        await mode(session.query(User).filter(age__lt=2), "update", age=50)
    assert await mode(User.objects.filter(age=50), "count") == 2
