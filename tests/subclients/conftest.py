"""Fixtures shared by the sub-client tests: every client comes in both modes.

A test that uses ``client``, ``solidb_client`` or ``new_client`` runs twice:
``[sync]`` with ``Client`` and ``[async]`` with ``AsyncClient`` behind the
blocking proxy of ``tests/blocking.py``, so one test body checks both.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, cast

import pytest

from solidb_odm import Client
from solidb_odm.testing import SoliDBServer

from ..blocking import blocking_client

CLIENT_MODES = ["sync", "async"]


@pytest.fixture(params=CLIENT_MODES)
def client_mode(request: pytest.FixtureRequest) -> str:
    """``"sync"``: the blocking ``Client``; ``"async"``: ``AsyncClient`` behind blocking calls."""
    return str(request.param)


@pytest.fixture
def new_client(client_mode: str) -> Iterator[Callable[..., Client]]:
    """Make clients of this test's mode, like ``Client(host, port, ...)``; all closed afterwards."""
    made: List[Client] = []

    def make(*args: Any, **kwargs: Any) -> Client:
        if client_mode == "sync":
            client = Client(*args, **kwargs)
        else:
            client = cast(Client, blocking_client(*args, **kwargs))
        made.append(client)
        return client

    yield make
    for client in reversed(made):
        client.close()


@pytest.fixture
def solidb_client(solidb_server: SoliDBServer, new_client: Callable[..., Client]) -> Client:
    """A client of this test's mode authenticated as admin, no database selected.

    Overrides the plugin's fixture of the same name (always blocking) here.
    """
    client = new_client(solidb_server.host, solidb_server.port)
    client.connect()
    client.auth("_system", solidb_server.username, solidb_server.password)
    return client


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Client:
    """The admin client, scoped to a fresh database with ``use_database``.

    Test modules that need more setup define their own ``client``.
    """
    return solidb_client.use_database(solidb_database)
