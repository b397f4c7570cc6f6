"""The blocking proxy behind the ``[async]`` tests really runs the asyncio client.

No server is needed: these calls fail (or answer) before any request.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.client.aclient import AsyncClient
from solidb_odm.client.subclients.vector import AsyncVectorClient

from ..blocking import Blocking, blocking_client


def test_calls_run_as_coroutines_on_the_proxys_own_loop() -> None:
    proxy = blocking_client("127.0.0.1", 1)
    try:
        assert isinstance(proxy._target, AsyncClient)
        assert proxy.use_database("mydb") is proxy  # a sync method; the client comes back wrapped
        assert proxy.database == "mydb"
        vector = proxy.vector
        assert isinstance(vector, Blocking) and isinstance(vector._target, AsyncVectorClient)
        seen: list[str] = []

        async def probe() -> None:
            seen.append(threading.current_thread().name)

        proxy._loop.run(probe())
        assert seen == ["blocking-proxy-loop"]
    finally:
        proxy.close()
    proxy.close()  # closing twice is harmless


def test_errors_raised_in_the_coroutine_reach_the_caller() -> None:
    proxy = blocking_client()
    try:
        with pytest.raises(exc.ValidationError, match="use_database"):
            proxy.vector.list_indexes("items")
    finally:
        proxy.close()


def test_an_operation_that_is_not_awaitable_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = blocking_client()
    try:
        def not_a_coroutine(self: Any, collection: str) -> list[Any]:
            return []

        monkeypatch.setattr(AsyncVectorClient, "list_indexes", not_a_coroutine)
        with pytest.raises(AssertionError, match="not a coroutine"):
            proxy.vector.list_indexes("items")
    finally:
        proxy.close()
