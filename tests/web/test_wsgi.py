"""Concurrent requests through a Flask app on real threaded WSGI servers, against a real server.

Two server shapes: a new thread per request, and a fixed pool of reused
threads. Requests come from a client thread pool over real HTTP on
127.0.0.1, all in flight at once; then the stored documents are compared
with what every request had to leave behind.
"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List

import httpx
import pytest

from solidb_odm.database import Database

from .app_wsgi import create_app, serve
from .common import Case, Outcome, Owners, audit, stored_notes

N = 4
REPEATS = 5
CLIENT_THREADS = 48


def cases() -> List[Case]:
    out: List[Case] = []
    for fail in (False, True):
        out += [
            Case("with", "/with", fail, ("session",) * N,
                 ctx=("own",) * N, seen_ctx=N, seen_session=N),
            Case("with-thread", "/with-thread", fail,
                 tuple("plain" if seq % 2 else "session" for seq in range(N)),
                 ctx=tuple(None if seq % 2 else "own" for seq in range(N)),
                 seen_ctx=N, seen_session=N),
            Case("hooks", "/hooks", fail, ("session",) * N,
                 ctx=("own",) * N, seen_ctx=N, seen_session=N),
            Case("atomic", "/atomic", fail, ("session",) * N,
                 ctx=("own",) * N, seen_ctx=N, seen_session=N),
            Case("plain", "/plain", fail, ("plain",) * N,
                 ctx=(None,) * N, seen_ctx=N, seen_session=None),
        ]
    return out


@pytest.fixture(params=["thread-per-request", "thread-pool"])
def owners_and_url(request: pytest.FixtureRequest, web_db: Database) -> Iterator[tuple[Owners, str]]:
    owners = Owners()
    with serve(create_app(web_db, owners), request.param) as url:
        yield owners, url


def test_atomic_keeps_the_view_name_and_docstring(web_db: Database) -> None:
    app = create_app(web_db, Owners())
    view = app.view_functions["atomic_view"]  # Flask names endpoints after the function
    assert view.__name__ == "atomic_view"
    assert view.__doc__ == "Writes n notes in one transaction."


@pytest.mark.parametrize(("run", "repeats"), [(0, REPEATS), (1, REPEATS), (2, REPEATS), (3, 30)],
                         ids=["run0", "run1", "run2", "300-requests"])
def test_concurrent_requests_keep_sessions_apart(web_db: Database, owners_and_url: tuple[Owners, str],
                                                 run: int, repeats: int, request: pytest.FixtureRequest) -> None:
    _, url = owners_and_url
    plan = [(case, f"w{run}-{i}-{uuid.uuid4().hex[:8]}") for i, case in enumerate(cases() * repeats)]
    random.Random(run).shuffle(plan)
    assert len(plan) >= 40

    limits = httpx.Limits(max_connections=CLIENT_THREADS)
    with httpx.Client(base_url=url, timeout=60, limits=limits,
                      headers={"Connection": "close"}) as client:

        def call(case: Case, rid: str) -> Outcome:
            try:
                response = client.post(f"{case.path}/{rid}", params={"n": N, "fail": int(case.fail)})
            except Exception as error:
                return Outcome(rid, case, None, None, error=f"{type(error).__name__}: {error}")
            try:
                body = response.json()
            except ValueError:
                body = response.text
            return Outcome(rid, case, response.status_code, body)

        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            outcomes = list(pool.map(lambda item: call(*item), plan))

    figures = audit(outcomes, stored_notes(web_db))
    print(figures.line(f"wsgi {request.node.callspec.params['owners_and_url']} run {run}"))
    figures.assert_clean()
    assert figures.writes_expected_kept == figures.stored
