"""pytest fixtures that run tests against a real SoliDB server.

Registered through the ``pytest11`` entry point, so any project that installs
solidb-odm gets them:

- ``solidb_server``: one throw-away server for the whole test session;
- ``solidb_client``: a connected client authenticated as admin;
- ``solidb_database``: the name of a fresh database, dropped after the test.

A server that cannot start is an error, never a skip.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from ..client import Client
from .server import SoliDBServer


@pytest.fixture(scope="session")
def solidb_server() -> Iterator[SoliDBServer]:
    """A SoliDB server started for this test session and stopped after it."""
    with SoliDBServer() as server:
        yield server


@pytest.fixture
def solidb_client(solidb_server: SoliDBServer) -> Iterator[Client]:
    """A client authenticated as admin on the session's server."""
    client = solidb_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def solidb_database(solidb_server: SoliDBServer) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = solidb_server.client()
    try:
        admin.create_database(name)
        yield name
    finally:
        try:
            admin.delete_database(name)
        finally:
            admin.close()
