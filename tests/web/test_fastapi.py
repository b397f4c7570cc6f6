"""Concurrent requests through a FastAPI app, against a real server.

Sync and async endpoints, the sync and the async session dependency, commits,
deliberate failures that must roll back, and plain ``save()`` calls without a
session, all in flight at once (``asyncio.gather`` over httpx's ASGI
transport, so the app runs on the test's event loop and FastAPI's thread
pool exactly as under an ASGI server). Then the stored documents are compared
with what every request had to leave behind.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import List

import httpx
import pytest

from solidb_odm.database import Database

from .app_fastapi import create_app
from .common import Case, Outcome, Owners, audit, stored_notes

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


@pytest.mark.parametrize("run", range(3))
async def test_concurrent_requests_keep_sessions_apart(web_db: Database, run: int) -> None:
    owners = Owners()
    app = create_app(web_db, owners)
    plan = [(case, f"r{run}-{i}-{uuid.uuid4().hex[:8]}")
            for i, case in enumerate(cases() * REPEATS)]
    random.Random(run).shuffle(plan)
    assert len(plan) >= 40

    # raise_app_exceptions=False: an unexpected exception answers 500, like a server would
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=60) as client:
        outcomes = await asyncio.gather(*(call(client, case, rid) for case, rid in plan))

    figures = audit(list(outcomes), stored_notes(web_db))
    print(figures.line(f"fastapi run {run}"))
    figures.assert_clean()
    assert figures.writes_expected_kept == figures.stored
