"""One test body, both modes: blocking calls or their awaitable twins.

A test written as ``async def test_x(mode, ...)`` runs twice (``[sync]`` and
``[async]``). It reaches the library through ``mode``:

    user = await mode(User.objects.filter(age__gt=3), "get")   # get() or await aget()
    await mode(user, "save")                                   # save() or await asave()
    rows = await mode.list(User.objects.all())                 # list(qs) or [x async for x in qs]
    async with mode.session(db) as s: ...                      # with db.session() / async with
    async with mode.atomic(db): ...

In sync mode every call is the blocking method, made inside the test's
coroutine (so contextvars behave as in one request); in async mode it is the
``a``-prefixed coroutine method, awaited. Nothing is mocked: both go to the
real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from solidb_odm import Database
from solidb_odm.session import Session, atomic

#: blocking method name -> its awaitable twin, where ``"a" + name`` is not it
TWINS = {"sync": "async_sync"}


class Mode:
    def __init__(self, name: str) -> None:
        assert name in ("sync", "async")
        self.name = name

    @property
    def is_async(self) -> bool:
        return self.name == "async"

    def __repr__(self) -> str:
        return self.name

    async def __call__(self, obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """``obj.method(*args)`` in sync mode; ``await obj.amethod(*args)`` in async mode."""
        if not self.is_async:
            return getattr(obj, method)(*args, **kwargs)
        twin = getattr(obj, TWINS.get(method, "a" + method))
        return await twin(*args, **kwargs)

    async def list(self, qs: Any) -> list[Any]:
        if not self.is_async:
            return list(qs)
        return [item async for item in qs]

    @asynccontextmanager
    async def session(self, db: Database, **options: Any) -> AsyncIterator[Session]:
        session = db.session(**options)
        if self.is_async:
            async with session as s:
                yield s
        else:
            with session as s:
                yield s

    @asynccontextmanager
    async def atomic(self, db: Database | None = None, **options: Any) -> AsyncIterator[Session]:
        block = atomic(db, **options)
        if self.is_async:
            async with block as s:
                yield s
        else:
            with block as s:
                yield s
