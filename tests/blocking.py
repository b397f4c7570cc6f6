"""An ``AsyncClient`` behind blocking calls, so that one test body checks both clients.

:func:`blocking_client` makes an ``AsyncClient`` and returns a proxy that
looks like a ``Client``: the proxy owns an event loop running in a thread of
its own, and each call that returns a coroutine is run there to its end
(``asyncio.run_coroutine_threadsafe(...).result()``). Results that are not
coroutines pass through; sub-clients (``client.roles`` ...) come back behind
the same kind of proxy.

The async side is really exercised: a method whose blocking twin runs an
operation must return a coroutine, and a sub-client attribute must be an
asyncio facade, or the call fails with AssertionError. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from types import TracebackType
from typing import Any, Callable, Coroutine, Optional, Type

from solidb_odm.client.aclient import AsyncClient
from solidb_odm.client.facade import AsyncFacade
from solidb_odm.client.subclients import Sub

#: AsyncClient methods that must be coroutines besides those over an operation.
CLIENT_COROUTINES = frozenset({"run", "auth", "auth_with_api_key", "connect", "close"})
#: Longest a single blocking call may take before the test fails instead of hanging.
CALL_TIMEOUT = 300.0


class LoopThread:
    """An event loop running forever in a daemon thread, until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="blocking-proxy-loop",
                                        daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and wait for its result (or its exception)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(CALL_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self.running:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()


class Blocking:
    """Blocking calls over one asyncio object (the client or one of its sub-clients)."""

    def __init__(self, target: Any, loop: LoopThread, root: Optional[Blocking]) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_root", root)

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name!r} on a blocking proxy")

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(getattr(type(self._target), name, None), Sub):
            assert isinstance(value, AsyncFacade), (
                f"{type(self._target).__name__}.{name} is {type(value).__name__}, "
                "not an asyncio facade"
            )
        if inspect.ismethod(value):
            return self._blocking(name, value)
        return self._wrap(value)

    def _must_be_coroutine(self, name: str) -> bool:
        """True when the blocking twin of ``name`` runs an operation (or is I/O by contract)."""
        target = self._target
        if isinstance(target, AsyncFacade):
            return inspect.isgeneratorfunction(getattr(target._ops, name, None))
        if isinstance(target, AsyncClient):
            return name in CLIENT_COROUTINES or inspect.isgeneratorfunction(
                getattr(target.ops, name, None))
        return False

    def _blocking(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        owner = type(self._target).__name__
        expect_coroutine = self._must_be_coroutine(name)

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._wrap(self._loop.run(result))
            assert not expect_coroutine, (
                f"{owner}.{name} returned {type(result).__name__}, not a coroutine, "
                "although its blocking twin runs an operation"
            )
            return self._wrap(result)

        return call

    def _wrap(self, value: Any) -> Any:
        root: Blocking = self._root if self._root is not None else self
        if value is root._target:
            return root
        if isinstance(value, AsyncFacade):
            return Blocking(value, self._loop, root)
        return value


class BlockingClient(Blocking):
    """The proxy of an ``AsyncClient``: it owns the event loop and stops it on close."""

    def __init__(self, target: AsyncClient, loop: LoopThread) -> None:
        super().__init__(target, loop, None)

    def close(self) -> None:
        """``await client.close()``, then stop the loop (closing twice is harmless)."""
        loop: LoopThread = self._loop
        if not loop.running:
            return
        try:
            self._blocking("close", self._target.close)()
        finally:
            loop.stop()

    def __enter__(self) -> BlockingClient:
        self._loop.run(self._target.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()


def blocking_client(*args: Any, **kwargs: Any) -> BlockingClient:
    """``AsyncClient(*args, **kwargs)`` behind blocking calls, on an event loop of its own."""
    loop = LoopThread()
    try:
        return BlockingClient(AsyncClient(*args, **kwargs), loop)
    except BaseException:
        loop.stop()
        raise
