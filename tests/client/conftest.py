"""Fixtures shared by the low-level client tests (all against real servers)."""

from __future__ import annotations

from typing import Iterator

import pytest

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer


@pytest.fixture
def db(solidb_database: str) -> str:
    """Short alias: the fresh database of this test."""
    return solidb_database


@pytest.fixture
def col(solidb_client: Client, db: str) -> str:
    """A fresh document collection in the test's database."""
    name = "items"
    solidb_client.create_collection(db, name)
    return name


@pytest.fixture
def own_server() -> Iterator[SoliDBServer]:
    """A private server that a test may kill, restart or misconfigure."""
    with SoliDBServer() as server:
        yield server
