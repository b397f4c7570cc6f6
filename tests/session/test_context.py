"""Where a session is open: it follows the request (asyncio tasks, context copies), nothing else.

Sessions live in ``contextvars``: an asyncio task sees the sessions open where
it was created, and so does work handed to a thread through a context copy
(``asyncio.to_thread``, ``contextvars.copy_context().run``); a concurrent task
or another copy does not. A session is pinned to the mode that opened it;
a call from the other mode is carried over where it can be (``Session.run``
and ``Session.arun``) and refused, with a clear message, where it would block
the session's own event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any, Iterator

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.database import Database, set_default_database
from solidb_odm.session import ObjectState, Session, current_session
from solidb_odm.testing import SoliDBServer

from ..models.models import User
from ..modes import Mode

#: concurrent tasks in the task test; each session pins a connection of its own
TASKS = 20


@pytest.fixture
def db(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Database]:
    """Like ``odm_db``, with an asyncio pool large enough for every task's transaction."""
    client = solidb_server.client(solidb_database, pool_size=8)
    db = Database(client, solidb_database, owns_client=True, options={"pool_size": TASKS + 4})
    set_default_database(db)
    db.register(User).sync()
    try:
        yield db
    finally:
        set_default_database(None)
        db.close()


@pytest.fixture
def other(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Client]:
    """Another connection: it sees committed data only, and joins no session."""
    client = solidb_server.client(solidb_database)
    try:
        yield client
    finally:
        client.close()


def committed(other: Client, db: Database, key: str) -> dict[str, Any] | None:
    try:
        return other.get(db.name, "users", key)  # type: ignore[no-any-return]
    except exc.NotFoundError:
        return None


def new_user(key: str) -> User:
    return User(name=key, email=f"{key}@x", key=key)


class Boom(Exception):
    """Raised inside a session to roll it back."""


async def test_an_implicit_save_in_a_task_session_stays_in_that_task(db: Database,
                                                                     other: Client) -> None:
    """20 concurrent tasks: 10 commit a session, 5 roll one back, 5 save with no session.

    Each saves with a plain ``await obj.asave()``: inside ``async with
    db.session()`` that goes through the task's session, in the other tasks
    straight to the server. The barriers hold every task at the same point,
    so all sessions are open (their inserts staged) while the others look.
    """
    saved = asyncio.Barrier(TASKS)
    looked = asyncio.Barrier(TASKS)
    kinds = ["commit", "commit", "rollback", "plain"] * (TASKS // 4)

    async def in_session(key: str, fail: bool) -> User:
        async with db.session() as session:
            user = await new_user(key).asave()
            assert current_session(db) is session
            assert session.state(user) is ObjectState.PERSISTENT  # tracked by this session
            assert committed(other, db, key) is None  # staged, not committed
            await saved.wait()
            # this session's own insert, and no other session's
            assert await User.objects.filter(name__startswith="s").acount() == 1
            assert [u.key async for u in User.objects.filter(name__startswith="s")] == [key]
            assert await User.objects.filter(name__startswith="p").acount() == TASKS // 4
            await looked.wait()
            if fail:
                raise Boom(key)
        return user

    async def plain(key: str) -> User:
        assert current_session(db) is None
        user = await new_user(key).asave()
        assert committed(other, db, key) is not None  # written at once
        await saved.wait()
        assert current_session(db) is None  # 15 sessions are open, none here
        assert await User.objects.filter(name__startswith="s").acount() == 0
        # the raw client in this task's context joins no transaction either
        assert await db.aclient.query(db.name, "FOR u IN users FILTER u._key == @k RETURN u",
                                      {"k": "s0"}) == []
        await looked.wait()
        return user

    jobs = []
    for i, kind in enumerate(kinds):
        if kind == "plain":
            jobs.append(plain(f"p{i}"))
        else:
            jobs.append(in_session(f"s{i}", fail=kind == "rollback"))
    outcomes = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), 60)

    for i, (kind, outcome) in enumerate(zip(kinds, outcomes, strict=True)):
        if kind == "rollback":
            assert isinstance(outcome, Boom) and outcome.args == (f"s{i}",), outcome
        else:
            assert isinstance(outcome, User), outcome
            assert outcome.key == ("p" if kind == "plain" else "s") + str(i)
    landed = sorted(await User.objects.values_list("key", flat=True).alist())
    expected = sorted(("p" if kind == "plain" else "s") + str(i)
                      for i, kind in enumerate(kinds) if kind != "rollback")
    assert landed == expected
    assert len(landed) == TASKS // 2 + TASKS // 4
    assert current_session(db) is None


async def test_a_session_in_a_thread_context_copy_is_invisible_from_another_copy(
    mode: Mode, db: Database, other: Client
) -> None:
    """``asyncio.to_thread`` runs in a copy of the context: a session opened there stays there."""
    opened, release = threading.Event(), threading.Event()

    def in_thread() -> Session:
        with db.session() as session:
            new_user("t1").save()  # implicit: through this thread's session
            assert current_session(db) is session
            opened.set()
            assert release.wait(30)
        return session

    worker = asyncio.ensure_future(asyncio.to_thread(in_thread))
    try:
        assert await asyncio.to_thread(opened.wait, 30)
        assert current_session(db) is None  # the caller's context
        assert await asyncio.to_thread(current_session, db) is None  # another copy
        assert contextvars.copy_context().run(current_session, db) is None
        await mode(new_user("c1"), "save")  # from the caller: not through that session
        await asyncio.to_thread(new_user("c2").save)  # from another copy: neither
        assert committed(other, db, "c1") is not None and committed(other, db, "c2") is not None
        assert committed(other, db, "t1") is None  # still staged in the thread's session
    finally:
        release.set()
        session = await worker
    assert session.closed
    assert committed(other, db, "t1") is not None


async def test_a_session_entered_in_copy_context_run_stays_in_that_copy(
    mode: Mode, db: Database, other: Client
) -> None:
    copy = contextvars.copy_context()
    session = db.session()
    copy.run(session.__enter__)
    try:
        assert copy.run(current_session, db) is session
        assert current_session(db) is None
        assert contextvars.copy_context().run(current_session, db) is None
        staged = copy.run(new_user("k1").save)  # implicit: through the copy's session
        assert session.state(staged) is ObjectState.PERSISTENT
        outside = await mode(new_user("k2"), "save")  # the caller: straight to the server
        assert session.state(outside) is ObjectState.DETACHED
        assert committed(other, db, "k1") is None and committed(other, db, "k2") is not None
    finally:
        copy.run(session.__exit__, None, None, None)
    assert committed(other, db, "k1") is not None


async def test_to_thread_inside_a_session_follows_it(mode: Mode, db: Database,
                                                     other: Client) -> None:
    """Work handed to a thread from inside the block runs in the block's session."""
    async with mode.session(db) as session:
        assert await asyncio.to_thread(current_session, db) is session
        user = await asyncio.to_thread(new_user("w1").save)  # blocking, in a worker thread
        assert session.state(user) is ObjectState.PERSISTENT
        assert committed(other, db, "w1") is None  # staged in the session's transaction
        assert await mode(session, "get", User, "w1") is user
        found = await asyncio.to_thread(User.objects.get, key="w1")
        assert found is user  # the identity map, from the thread
    assert committed(other, db, "w1")["name"] == "w1"


async def test_to_thread_inside_a_session_that_raises_is_rolled_back(mode: Mode, db: Database,
                                                                     other: Client) -> None:
    with pytest.raises(Boom):
        async with mode.session(db):
            await asyncio.to_thread(new_user("w2").save)
            raise Boom
    assert committed(other, db, "w2") is None


async def test_an_async_session_refuses_blocking_calls_on_its_event_loop(db: Database,
                                                                        other: Client) -> None:
    """Blocking on the loop that runs the session would deadlock: refused, with a clear message.

    From another thread the same blocking calls are carried over to the loop.
    """
    new_user("u0").save()
    async with db.session() as session:
        await session.aget(User, "u0")  # the session is now pinned to this loop
        with pytest.raises(exc.SessionError, match="opened in async code: use the awaitable"):
            new_user("b1").save()  # implicit: through the session
        with pytest.raises(exc.SessionError, match="opened in async code"):
            session.get(User, "u0")
        with pytest.raises(exc.SessionError, match="opened in async code"):
            User.objects.count()
        assert session.new == [] and session.dirty == []  # nothing was added

        results: dict[str, Any] = {}

        def plain_thread() -> None:  # no context: the session is passed explicitly
            try:
                results["user"] = new_user("x1").save(session=session)
                results["got"] = session.get(User, "x1")
                results["count"] = session.query(User).count()
            except BaseException as err:  # reported below
                results["error"] = err

        thread = threading.Thread(target=plain_thread)
        thread.start()
        await asyncio.to_thread(thread.join, 30)  # the loop stays free to run the carried calls
        assert not thread.is_alive() and "error" not in results, results
        assert results["got"] is results["user"]
        assert results["count"] == 2
        assert session.state(results["user"]) is ObjectState.PERSISTENT
        assert committed(other, db, "x1") is None
    assert committed(other, db, "x1") is not None
    assert committed(other, db, "b1") is None


async def test_a_blocking_session_used_with_awaitables_runs_in_a_thread(db: Database,
                                                                        other: Client) -> None:
    """The mirror case: ``with db.session()`` in async code; its awaitables are carried over."""
    with db.session() as session:
        user = await new_user("y1").asave()  # implicit: through the blocking session
        assert session.state(user) is ObjectState.PERSISTENT
        assert await session.aget(User, "y1") is user
        assert await User.objects.filter(name="y1").acount() == 1
        assert committed(other, db, "y1") is None
    assert committed(other, db, "y1") is not None
