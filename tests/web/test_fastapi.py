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


async def test_sync_session_dependency_exhausts_the_pool_unless_its_concurrency_is_limited(
        small_pool_db: Database) -> None:
    """A session holds a connection from the dependency's enter to its exit.

    FastAPI enters a sync dependency on its thread pool (40 threads). With
    more requests in flight than threads plus connections, every thread ends
    up waiting for a connection while the requests holding the connections
    wait for a thread to run their endpoint: stuck until the pool's timeout.
    ``Depends(..., max_concurrency=pool_size)`` makes the requests wait on the
    event loop instead.
    """
    paths = [f"/w/x{i}" for i in range(100)]
    stuck = await post_all(session_only_app(small_pool_db), paths)
    print("[fastapi pool of 4, 100 requests, sync dependency]", stuck)
    assert stuck.get(500, 0) > 0

    limited = await post_all(session_only_app(small_pool_db, max_concurrency=4),
                             [f"/w/y{i}" for i in range(100)])
    print("[fastapi pool of 4, 100 requests, sync dependency, max_concurrency=4]", limited)
    assert limited == {200: 100}
    assert len(stored_notes(small_pool_db)) == stuck.get(200, 0) + 100


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
