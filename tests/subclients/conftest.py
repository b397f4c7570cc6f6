"""Fixtures shared by the sub-client tests."""

from __future__ import annotations

import pytest

from solidb_odm import Client


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Client:
    """The admin client, scoped to a fresh database with ``use_database``.

    Test modules that need more setup define their own ``client``.
    """
    return solidb_client.use_database(solidb_database)
