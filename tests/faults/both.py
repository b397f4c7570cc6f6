"""One test body for both clients: a blocking ``Client`` or an ``AsyncClient``.

``Driver`` wraps the client of the test's mode (``tests/modes.py``); every
method is awaited, whatever the mode::

    doc = await driver.get(db, col, "k")   # client.get(...) or await aclient.get(...)

In sync mode the blocking call runs inside the test's coroutine; in async mode
the method must return an awaitable (or the call fails), so the asyncio path
is really exercised. :meth:`Driver.crowd` runs one coroutine body many times
at once: on threads (each with its own event loop) around the one blocking
client, or as tasks around the one asyncio client.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from solidb_odm import AsyncClient, Client

from ..modes import Mode


class Driver:
    def __init__(self, mode: Mode, host: str, port: int, **options: Any) -> None:
        self.mode = mode
        self.client: Client | AsyncClient = (
            AsyncClient(host, port, **options) if mode.is_async else Client(host, port, **options)
        )

    def __repr__(self) -> str:
        return f"Driver({self.mode}, {self.client.host}:{self.client.port})"

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)
        if not callable(method):
            raise AttributeError(f"{name} is not a method of {type(self.client).__name__}")

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if self.mode.is_async:
                assert inspect.isawaitable(result), f"AsyncClient.{name} did not return an awaitable"
                return await result
            assert not inspect.isawaitable(result), f"Client.{name} returned an awaitable"
            return result

        return call

    def crowd(self, count: int, body: Callable[[int], Awaitable[None]]) -> Crowd:
        """Start ``body(0) ... body(count - 1)`` concurrently (threads or tasks, by mode)."""
        return Crowd(self.mode, count, body)


class Crowd:
    """``count`` concurrent runs of one coroutine body; ``await join()`` waits for them."""

    def __init__(self, mode: Mode, count: int, body: Callable[[int], Awaitable[None]]) -> None:
        self.mode = mode
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._tasks: list[asyncio.Task[None]] = []
        if mode.is_async:
            self._tasks = [asyncio.ensure_future(self._guard(body, n)) for n in range(count)]
        else:
            self._threads = [
                threading.Thread(target=lambda n=n: asyncio.run(self._guard(body, n)),
                                 name=f"crowd-{n}", daemon=True)
                for n in range(count)
            ]
            for thread in self._threads:
                thread.start()

    async def _guard(self, body: Callable[[int], Awaitable[None]], n: int) -> None:
        try:
            await body(n)
        except BaseException as err:  # reported by join()
            self.errors.append(err)

    async def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds; fail if a run is still going or raised."""
        if self.mode.is_async:
            _, running = await asyncio.wait(self._tasks, timeout=timeout)
            for task in running:
                task.cancel()
            stuck = len(running)
        else:
            deadline = time.monotonic() + timeout
            for thread in self._threads:
                thread.join(max(deadline - time.monotonic(), 0.0))
            stuck = sum(thread.is_alive() for thread in self._threads)
        assert stuck == 0, f"{stuck} concurrent runs did not finish within {timeout}s"
        assert self.errors == [], self.errors
