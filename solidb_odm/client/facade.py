"""The blocking and the asyncio face of a set of operations.

Each public method of ``Client``, ``AsyncClient`` and their sub-clients is
one line that builds an operation and hands it to the executor. Those lines
are generated from the operation classes by ``scripts/gen_facades.py`` (CI
fails when they are stale), so the two faces cannot drift apart.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from ..ops import Op

Ops = TypeVar("Ops")
T = TypeVar("T")


class SyncExecutor(Protocol):
    def run(self, op: Op[T]) -> T: ...


class AsyncExecutor(Protocol):
    async def run(self, op: Op[T]) -> T: ...


class SyncFacade(Generic[Ops]):
    """Methods that run their operation at once and return its result."""

    _ops: Ops
    _executor: SyncExecutor

    def __init__(self, ops: Ops, executor: SyncExecutor) -> None:
        self._ops = ops
        self._executor = executor


class AsyncFacade(Generic[Ops]):
    """Methods that return awaitables of their operation's result."""

    _ops: Ops
    _executor: AsyncExecutor

    def __init__(self, ops: Ops, executor: AsyncExecutor) -> None:
        self._ops = ops
        self._executor = executor
