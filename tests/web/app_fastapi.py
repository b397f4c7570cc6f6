"""A FastAPI app over one Database: sync and async endpoints, sync and async session dependencies.

Routes (all ``POST``, ``?n=`` documents, ``?fail=true`` to raise after writing):

- ``/sdep/explicit/{sync,async}/{rid}``: the sync dependency ``get_session``;
  writes go to the request's session explicitly, alternately
  ``obj.save(session=s)`` (staged at once) and ``s.add(obj)`` (staged at commit);
- ``/sdep/mixed/{sync,async}/{rid}``: the same dependency; even writes go
  through the session explicitly, odd ones are a plain ``save()``/``asave()``.
  FastAPI ran the dependency's enter in its own context copy, so the session
  is not open in the endpoint's context: a plain save writes on its own;
- ``/plain/{sync,async}/{rid}``: no session at all, plain saves;
- ``/adep/implicit/{sync,async}/{rid}``: the async dependency ``get_asession``,
  which runs in the request's own context: a plain ``save()``/``asave()``
  joins the request's session (and rolls back with it).

Annotations are evaluated at definition time (no ``from __future__ import
annotations``), because the dependency aliases are local to ``create_app``.
"""

import asyncio
import time
from typing import Annotated, Any, AsyncIterator, Dict, Iterator, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from solidb_odm import Database
from solidb_odm.session import Session

from .common import Deliberate, Owners, Recorder, WebNote

#: a short pause between writes, so that concurrent requests interleave
PAUSE = 0.002


def create_app(db: Database, owners: Owners, *, session_limit: Optional[int] = None) -> FastAPI:
    """The app; ``session_limit`` caps the sync dependency's sessions open at once."""
    app = FastAPI()

    def get_session(rid: str) -> Iterator[Session]:
        with db.session() as s:
            yield owners.claim(s, rid)

    async def get_asession(rid: str) -> AsyncIterator[Session]:
        async with db.session() as s:
            yield owners.claim(s, rid)

    SyncSession = Annotated[Session, Depends(get_session, max_concurrency=session_limit)]
    AsyncSession = Annotated[Session, Depends(get_asession)]

    @app.exception_handler(Deliberate)
    async def deliberate(request: Request, error: Deliberate) -> JSONResponse:
        return JSONResponse({"deliberate": True, **error.report}, status_code=500)

    def finish(rec: Recorder, fail: bool) -> Dict[str, Any]:
        if fail:
            raise rec.fail()
        return rec.report()

    # -- the sync dependency: the session is reached explicitly ------------------------

    @app.post("/sdep/explicit/sync/{rid}")
    def sdep_explicit_sync(rid: str, s: SyncSession, n: int = 4, fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "sdep-explicit-sync")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            if seq % 2:
                s.add(obj)
            else:
                obj.save(session=s)
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        rec.seen = {"ctx": WebNote.objects.filter(request=rid).count(),
                    "session": s.query(WebNote).filter(request=rid).count()}
        return finish(rec, fail)

    @app.post("/sdep/explicit/async/{rid}")
    async def sdep_explicit_async(rid: str, s: SyncSession, n: int = 4,
                                  fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "sdep-explicit-async")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            if seq % 2:
                s.add(obj)
            else:
                await obj.asave(session=s)
            rec.wrote(obj, ctx)
            await asyncio.sleep(PAUSE)
        rec.seen = {"ctx": await WebNote.objects.filter(request=rid).acount(),
                    "session": await s.query(WebNote).filter(request=rid).acount()}
        return finish(rec, fail)

    @app.post("/sdep/mixed/sync/{rid}")
    def sdep_mixed_sync(rid: str, s: SyncSession, n: int = 4, fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "sdep-mixed-sync")
        for seq in range(n):
            obj = rec.note(seq, "plain" if seq % 2 else "session")
            ctx = rec.context_owner()
            if seq % 2:
                obj.save()  # the dependency's session is not open here: writes on its own
            else:
                obj.save(session=s)
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        rec.seen = {"ctx": WebNote.objects.filter(request=rid).count(),
                    "session": s.query(WebNote).filter(request=rid).count()}
        return finish(rec, fail)

    @app.post("/sdep/mixed/async/{rid}")
    async def sdep_mixed_async(rid: str, s: SyncSession, n: int = 4,
                               fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "sdep-mixed-async")
        for seq in range(n):
            obj = rec.note(seq, "plain" if seq % 2 else "session")
            ctx = rec.context_owner()
            if seq % 2:
                await obj.asave()
            else:
                await obj.asave(session=s)
            rec.wrote(obj, ctx)
            await asyncio.sleep(PAUSE)
        rec.seen = {"ctx": await WebNote.objects.filter(request=rid).acount(),
                    "session": await s.query(WebNote).filter(request=rid).acount()}
        return finish(rec, fail)

    # -- no session --------------------------------------------------------------------

    @app.post("/plain/sync/{rid}")
    def plain_sync(rid: str, n: int = 4, fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "plain-sync")
        for seq in range(n):
            obj = rec.note(seq, "plain")
            ctx = rec.context_owner()
            obj.save()
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        rec.seen = {"ctx": WebNote.objects.filter(request=rid).count(), "session": None}
        return finish(rec, fail)

    @app.post("/plain/async/{rid}")
    async def plain_async(rid: str, n: int = 4, fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "plain-async")
        for seq in range(n):
            obj = rec.note(seq, "plain")
            ctx = rec.context_owner()
            await obj.asave()
            rec.wrote(obj, ctx)
            await asyncio.sleep(PAUSE)
        rec.seen = {"ctx": await WebNote.objects.filter(request=rid).acount(), "session": None}
        return finish(rec, fail)

    # -- the async dependency: an implicit save joins the request's session ------------

    @app.post("/adep/implicit/sync/{rid}")
    def adep_implicit_sync(rid: str, s: AsyncSession, n: int = 4, fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "adep-implicit-sync")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            obj.save()  # no session= : the context has the request's session open
            rec.wrote(obj, ctx)
            time.sleep(PAUSE)
        # iterating, not counting: the blocking read is carried to the session's event loop
        rec.seen = {"ctx": len(list(WebNote.objects.filter(request=rid))),
                    "session": s.query(WebNote).filter(request=rid).count()}
        return finish(rec, fail)

    @app.post("/adep/implicit/async/{rid}")
    async def adep_implicit_async(rid: str, s: AsyncSession, n: int = 4,
                                  fail: bool = False) -> Dict[str, Any]:
        rec = Recorder(db, owners, rid, "adep-implicit-async")
        for seq in range(n):
            obj = rec.note(seq, "session")
            ctx = rec.context_owner()
            await obj.asave()
            rec.wrote(obj, ctx)
            await asyncio.sleep(PAUSE)
        rec.seen = {"ctx": await WebNote.objects.filter(request=rid).acount(),
                    "session": await s.query(WebNote).filter(request=rid).acount()}
        return finish(rec, fail)

    return app
