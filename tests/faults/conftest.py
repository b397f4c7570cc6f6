"""Fixtures for the fault tests: a fault proxy in front of the session's real server,
and clients of the test's mode (``mode``: sync or async) through it or not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Optional

import pytest

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer

from ..modes import Mode
from .both import Driver
from .proxy import FaultProxy

Connect = Callable[..., Awaitable[Driver]]


@pytest.fixture
def db(solidb_database: str) -> str:
    return solidb_database


@pytest.fixture
def col(solidb_client: Client, db: str) -> str:
    """A fresh collection in the test's database (made by the admin, directly)."""
    solidb_client.create_collection(db, "items")
    return "items"


@pytest.fixture
def proxy(solidb_server: SoliDBServer) -> Iterator[FaultProxy]:
    """A fault proxy to the session's server; closed (threads joined) after the test."""
    with FaultProxy(solidb_server.host, solidb_server.port, lifetime=120.0) as faulty:
        yield faulty
    assert faulty.running_threads() == 0


@pytest.fixture
async def connect(mode: Mode, solidb_server: SoliDBServer) -> AsyncIterator[Connect]:
    """Make a client of this test's mode, authenticated as admin; all closed afterwards.

    ``await connect(port, pool_size=1, timeout=1.0)``: ``port`` is the proxy's
    (default: the server's own).
    """
    made: list[Driver] = []

    async def make(port: Optional[int] = None, **options: Any) -> Driver:
        driver = Driver(mode, solidb_server.host, port or solidb_server.port, **options)
        made.append(driver)
        await driver.auth("_system", solidb_server.username, solidb_server.password)
        return driver

    yield make
    for driver in reversed(made):
        await driver.close()
