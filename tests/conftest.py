"""Shared fixtures: the real-server fixtures come from solidb_odm's pytest plugin."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from hypothesis import settings

from solidb_odm.database import Database, set_default_database
from solidb_odm.testing import SoliDBServer

from .modes import Mode

# CI replays a fixed set of generated examples so that a green run stays green;
# local runs explore new ones each time (and remember failures).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def odm_db(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Database]:
    """A Database on a fresh server database, set as the default for the test."""
    client = solidb_server.client(solidb_database, pool_size=8)
    db = Database(client, solidb_database, owns_client=True)
    set_default_database(db)
    try:
        yield db
    finally:
        set_default_database(None)
        db.close()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    """Run the test body once with blocking calls and once with their awaitable twins."""
    return Mode(request.param)
