"""One test body, both modes: blocking calls or their awaitable twins.

A test written as ``async def test_x(mode, ...)`` runs twice (``[sync]`` and
``[async]``). It reaches the library through ``mode``:

    user = await mode(User.objects.filter(age__gt=3), "get")   # get() or await aget()
    await mode(user, "save")                                   # save() or await asave()
    rows = await mode.list(User.objects.all())                 # list(qs) or [x async for x in qs]
    async for u in mode.iterate(qs, "iterator", chunk_size=9): # iterator() or aiterator()
    async with mode.session(db) as s: ...                      # with db.session() / async with
    async with mode.atomic(db): ...
    work = atomic(db)(mode.function(body))                     # body: an async def using mode
    await mode.call(work)                                      # work() or await work()

In sync mode every call is the blocking method, made inside the test's
coroutine (so contextvars behave as in one request); in async mode it is the
``a``-prefixed coroutine method, awaited. Nothing is mocked: both go to the
real server.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from solidb_odm import AsyncClient, Client, Database
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

    async def iterate(self, obj: Any, method: str, *args: Any, **kwargs: Any
                      ) -> AsyncIterator[Any]:
        """``for x in obj.method(...)`` or ``async for x in obj.amethod(...)``, item by item."""
        if not self.is_async:
            for item in getattr(obj, method)(*args, **kwargs):
                yield item
            return
        async for item in getattr(obj, "a" + method)(*args, **kwargs):
            yield item

    def client(self, db: Database) -> Client | AsyncClient:
        """The client that runs this mode's operations on ``db`` (to spy on its round trips)."""
        return db.aclient if self.is_async else db.client

    def function(self, body: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """``body`` (an ``async def`` written with this mode) as a function of this mode.

        In async mode that is ``body`` itself; in sync mode a plain function
        that runs it to the end at once: there, every ``await mode(...)`` is a
        blocking call that never suspends. For decorators that tell the two
        kinds apart (``@atomic``).
        """
        if self.is_async:
            return body

        @functools.wraps(body)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return run_unsuspended(body(*args, **kwargs))

        return blocking

    async def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(...)``, awaited when it gives an awaitable."""
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

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


def run_unsuspended(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError(f"{coro.__qualname__} suspended: a sync-mode body awaited real I/O")


def spy(monkeypatch: Any, obj: Any, name: str, record: Callable[..., None]) -> None:
    """Replace ``obj.name`` (a method, plain or ``async``) by one that calls ``record`` first.

    The original still runs: the server answers every call the spy sees.
    """
    original = getattr(obj, name)
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(original):
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            record(*args, **kwargs)
            return await original(*args, **kwargs)
    else:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            record(*args, **kwargs)
            return original(*args, **kwargs)
    monkeypatch.setattr(obj, name, wrapper)
