"""Concurrent requests through a FastAPI app, against a real server.

Sync and async endpoints, the sync and the async session dependency, commits,
deliberate failures that must roll back, and plain ``save()`` calls without a
session, all in flight at once (``asyncio.gather`` over httpx's ASGI
transport, so the app runs on the test's event loop and FastAPI's thread
pool exactly as under an ASGI server). Then the stored documents are compared
with what every request had to leave behind.

Annotations are evaluated at definition time (no ``from __future__ import
annotations``): FastAPI reads the dependencies of the endpoints defined
inside the tests from them.
"""

import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from typing import Annotated, Any, AsyncIterator, Dict, Iterator, List, Optional

import httpx
import pytest
from fastapi import Depends, FastAPI

from solidb_odm.database import Database, set_default_database
from solidb_odm.session import Session
from solidb_odm.testing import SoliDBServer

from .app_fastapi import create_app
from .common import Case, Outcome, Owners, WebNote, audit, stored_notes
from .conftest import POOL_SIZE

N = 4  # documents per request
REPEATS = 4  # requests per case and run


def cases() -> List[Case]:
    out: List[Case] = []
    for mode in ("sync", "async"):
        for fail in (False, True):
            out += [
                # the sync dependency: its session is reached explicitly only
                Case(f"sdep-explicit-{mode}", f"/sdep/explicit/{mode}", fail, ("session",) * N,
                     ctx=(None,) * N, seen_ctx=0, seen_session=N),
                Case(f"sdep-mixed-{mode}", f"/sdep/mixed/{mode}", fail,
                     tuple("plain" if seq % 2 else "session" for seq in range(N)),
                     ctx=(None,) * N, seen_ctx=N // 2, seen_session=N),
                Case(f"plain-{mode}", f"/plain/{mode}", fail, ("plain",) * N,
                     ctx=(None,) * N, seen_ctx=N, seen_session=None),
                # the async dependency: a plain save() joins the request's session
                Case(f"adep-implicit-{mode}", f"/adep/implicit/{mode}", fail, ("session",) * N,
                     ctx=("own",) * N, seen_ctx=N, seen_session=N),
            ]
    return out


async def call(client: httpx.AsyncClient, case: Case, rid: str) -> Outcome:
    try:
        response = await client.post(f"{case.path}/{rid}", params={"n": N, "fail": case.fail})
    except Exception as error:  # an exception escaping the app: unexpected
        return Outcome(rid, case, None, None, error=f"{type(error).__name__}: {error}")
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Outcome(rid, case, response.status_code, body)


@pytest.mark.parametrize(("run", "repeats", "session_limit"), [
    (0, REPEATS, None), (1, REPEATS, None), (2, REPEATS, None),
    # many more requests than connections: the sync dependency's sessions are capped so that
    # each of them can still get the second connection its plain writes and reads need
    (3, 25, POOL_SIZE // 2),
], ids=["run0", "run1", "run2", "400-requests-capped"])
async def test_concurrent_requests_keep_sessions_apart(web_db: Database, run: int, repeats: int,
                                                       session_limit: Optional[int]) -> None:
    owners = Owners()
    app = create_app(web_db, owners, session_limit=session_limit)
    plan = [(case, f"r{run}-{i}-{uuid.uuid4().hex[:8]}")
            for i, case in enumerate(cases() * repeats)]
    random.Random(run).shuffle(plan)
    assert len(plan) >= 40

    # raise_app_exceptions=False: an unexpected exception answers 500, like a server would
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=60) as client:
        outcomes = await asyncio.gather(*(call(client, case, rid) for case, rid in plan))

    figures = audit(list(outcomes), stored_notes(web_db))
    print(figures.line(f"fastapi run {run}" + (f", sync sessions capped at {session_limit}"
                                               if session_limit else "")))
    figures.assert_clean()
    assert figures.writes_expected_kept == figures.stored


# -- what the docs say about yield dependencies, pinned ---------------------------------------


@pytest.fixture
def small_pool_db(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Database]:
    """Four connections, and a one-second wait for one (so that exhaustion shows quickly)."""
    options = {"pool_size": 4, "pool_timeout": 1.0}
    client = solidb_server.client(solidb_database, **options)
    db = Database(client, solidb_database, owns_client=True, options=options)
    db.register(WebNote)
    db.sync()
    set_default_database(db)
    try:
        yield db
    finally:
        set_default_database(None)
        db.close()


def session_only_app(db: Database, **depends: Any) -> FastAPI:
    """A sync dependency opening a session, and a sync endpoint writing only through it."""
    app = FastAPI()

    def get_session() -> Iterator[Session]:
        with db.session() as s:
            yield s

    @app.post("/w/{rid}")
    def write(rid: str, s: Annotated[Session, Depends(get_session, **depends)]) -> Dict[str, str]:
        WebNote(request=rid, case="w", seq=0, route="session").save(session=s)
        time.sleep(0.005)
        return {"rid": rid}

    return app


async def post_all(app: FastAPI, paths: List[str]) -> Dict[int, int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=60) as client:
        responses = await asyncio.gather(*(client.post(p) for p in paths))
    return dict(Counter(r.status_code for r in responses))


async def test_sync_session_dependency_under_load_on_a_small_pool(small_pool_db: Database) -> None:
    """100 concurrent requests whose sync dependency opens a session, on a pool of 4.

    A session keeps a connection from the dependency's enter to its exit, and
    FastAPI enters a sync dependency on its thread pool (40 threads). Where
    sessions' connections count against the pool's size, all the threads can
    end up waiting for a connection while the requests holding the connections
    wait for a thread to run their endpoint, until the pool's timeout fails
    them. Whatever the pool does, no request may half-succeed: each one
    answers 200 with its document stored, or 500 with nothing stored; and with
    ``Depends(..., max_concurrency=pool_size)`` the requests wait on the event
    loop instead, and all of them succeed.
    """
    uncapped = await post_all(session_only_app(small_pool_db), [f"/w/x{i}" for i in range(100)])
    print("[fastapi pool of 4, 100 requests, sync dependency]", uncapped)
    assert set(uncapped) <= {200, 500}
    assert len(stored_notes(small_pool_db)) == uncapped.get(200, 0)

    capped = await post_all(session_only_app(small_pool_db, max_concurrency=4),
                            [f"/w/y{i}" for i in range(100)])
    print("[fastapi pool of 4, 100 requests, sync dependency, max_concurrency=4]", capped)
    assert capped == {200: 100}
    assert len(stored_notes(small_pool_db)) == uncapped.get(200, 0) + 100


async def test_a_failed_commit_reaches_the_client_only_with_function_scope(web_db: Database) -> None:
    """With the default ``scope="request"`` the dependency's exit runs after the response.

    So a commit that fails there (here: the key already exists) cannot change
    the answer any more: the client got 200 for a write that never landed.
    ``Depends(get_session, scope="function")`` commits before the response is
    sent, and the client gets a 500.
    """
    WebNote(key="taken", request="seed", case="seed", seq=0, route="plain").save()
    app = FastAPI()

    def get_session() -> Iterator[Session]:
        with web_db.session() as s:
            yield s

    async def get_asession() -> AsyncIterator[Session]:
        async with web_db.session() as s:
            yield s

    for scope in ("request", "function"):
        for name, dependency in (("sync", get_session), ("async", get_asession)):

            def write(s: Annotated[Session, Depends(dependency, scope=scope)]) -> Dict[str, bool]:
                s.add(WebNote(key="taken", request="late", case="late", seq=0, route="session"))
                return {"ok": True}  # the insert is sent at commit, and refused there

            app.post(f"/{scope}/{name}")(write)

    answers = {}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        for path in ("/request/sync", "/request/async", "/function/sync", "/function/async"):
            answers[path] = (await client.post(path)).status_code
    print("[fastapi failed commit]", answers)
    assert answers == {"/request/sync": 200, "/request/async": 200,
                       "/function/sync": 500, "/function/async": 500}
    assert [d["request"] for d in stored_notes(web_db)] == ["seed"]


# -- concurrent work inside ONE request's session -------------------------------------------


async def test_gathered_saves_through_the_request_session_insert_each_document_once(
        web_db: Database) -> None:
    """An endpoint that saves ten documents at once (``asyncio.gather``) through its session.

    Tasks started inside the request see the async dependency's session (that
    is what contextvars are for), so each save joins it and flushes; the ten
    flushes overlap on the event loop. Each document must be stored once, and
    each save must return only once its own document is staged (it has its
    key). The sync dependency's session is the next test.
    """
    app = FastAPI()

    async def get_asession() -> AsyncIterator[Session]:
        async with web_db.session() as s:
            yield s

    async def save_and_report(note: WebNote) -> Optional[str]:
        await note.asave()  # implicit: joins the request's session
        return note.key  # read at once: the save has returned

    @app.post("/{rid}")
    async def gathered(rid: str, s: Annotated[Session, Depends(get_asession)]) -> Dict[str, Any]:
        notes = [WebNote(request=rid, case="gather", seq=i, route="session") for i in range(10)]
        return {"keys": await asyncio.gather(*(save_and_report(note) for note in notes))}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.post("/g1")
    stored = stored_notes(web_db)
    keys = answer.json().get("keys", []) if answer.status_code == 200 else []
    print(f"[fastapi gathered saves, async dependency] answered {answer.status_code}, "
          f"stored {len(stored)} documents for 10 saves, "
          f"{sum(k is None for k in keys)} saves returned before their document was staged")
    assert answer.status_code == 200
    assert Counter(d["seq"] for d in stored) == Counter(range(10))
    assert sorted(keys, key=str) == sorted(d["_key"] for d in stored)


async def test_raw_client_writes_join_the_request_transaction_only_through_the_sessions_mode(
        web_db: Database) -> None:
    """Each request writes one raw document, then fails: which of them were rolled back?"""
    app = FastAPI()

    async def get_asession() -> AsyncIterator[Session]:
        async with web_db.session() as s:
            yield s

    def get_session() -> Iterator[Session]:
        with web_db.session() as s:
            yield s

    def raw(rid: str) -> Dict[str, Any]:
        return {"request": rid, "case": "raw", "seq": 0, "route": "raw"}

    @app.post("/adep/async")
    async def adep_async(s: Annotated[Session, Depends(get_asession)]) -> None:
        await web_db.aclient.insert(web_db.name, "web_notes", raw("adep-async"))
        raise RuntimeError("fail")

    @app.post("/adep/sync")
    def adep_sync(s: Annotated[Session, Depends(get_asession)]) -> None:
        web_db.client.insert(web_db.name, "web_notes", raw("adep-sync"))
        raise RuntimeError("fail")

    @app.post("/sdep/sync")
    def sdep_sync(s: Annotated[Session, Depends(get_session)]) -> None:
        web_db.client.insert(web_db.name, "web_notes", raw("sdep-sync"))
        raise RuntimeError("fail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        statuses = [(await client.post(p)).status_code for p in ("/adep/async", "/adep/sync", "/sdep/sync")]
    kept = sorted(d["request"] for d in stored_notes(web_db))
    print("[fastapi raw client writes kept after rollback]", kept)
    assert statuses == [500, 500, 500]
    assert kept == ["adep-sync", "sdep-sync"]  # only the async client's write was in the transaction


async def test_gathered_saves_through_a_sync_dependency_session_under_thread_contention(
        web_db: Database) -> None:
    app = FastAPI()

    def get_session() -> Iterator[Session]:
        with web_db.session() as s:
            yield s

    @app.post("/{rid}")
    async def gathered(rid: str, s: Annotated[Session, Depends(get_session)]) -> Dict[str, Any]:
        notes = [WebNote(request=rid, case="gather", seq=i, route="session") for i in range(50)]

        async def save(note: WebNote) -> Optional[str]:
            await note.asave(session=s)  # each one runs in a worker thread
            return note.key

        return {"keys": await asyncio.gather(*(save(n) for n in notes))}

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: the race shows at once
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            answers = [await client.post(f"/c{i}") for i in range(10)]
    finally:
        sys.setswitchinterval(interval)
    statuses = Counter(a.status_code for a in answers)
    early = sum(k is None for a in answers if a.status_code == 200 for k in a.json()["keys"])
    per_request = Counter(d["request"] for d in stored_notes(web_db))
    print(f"[fastapi 10 requests x 50 gathered saves through a sync-dependency session, contended] "
          f"answers {dict(statuses)}, {early} saves returned before their document was staged, "
          f"stored per request {sorted(per_request.values())}")
    assert statuses == {200: 10} and early == 0
    assert per_request == {f"c{i}": 50 for i in range(10)}
