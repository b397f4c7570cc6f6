"""pytest fixtures that run tests against a real SoliDB server.

Registered through the ``pytest11`` entry point, so any project that installs
solidb-odm gets them:

- ``solidb_server``: one throw-away server for the whole test session (one per
  pytest-xdist worker, since each worker is its own session), or the server
  named by ``--solidb-url`` / ``$SOLIDB_TEST_URL``, shared by every worker;
- ``solidb_client``: a connected client authenticated as admin;
- ``solidb_database``: the name of a fresh database, dropped after the test;
- ``solidb_db``: a :class:`~solidb_odm.database.Database` on a fresh database,
  dropped after the test; ``solidb_odm_db``: the same, also set as the default
  database of the models for the test;
- ``capture_queries``, ``assert_num_queries``, ``assert_max_queries``,
  ``detect_n_plus_one``: the helpers of :mod:`solidb_odm.testing.queries`;
- ``solidb_cluster``: a three-node :class:`~solidb_odm.testing.SoliDBCluster`
  for the test session (started on first use; a test that breaks a node
  restarts it), for tests marked ``solidb_cluster``;
- the ``solidb_n_plus_one`` marker (or ``--solidb-n-plus-one=N`` for every test)
  runs the test under :func:`~solidb_odm.testing.queries.detect_n_plus_one`.

A server that cannot start is an error, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, Optional, Union

import pytest

from ..client import Client
from ..database import Database, parse_url, set_default_database
from . import queries
from .cluster import SoliDBCluster
from .server import SoliDBServer

#: where a shared server's address comes from when ``--solidb-url`` is not given
URL_VARIABLE = "SOLIDB_TEST_URL"


class SharedServer:
    """A server someone else runs (``--solidb-url``): the part of ``SoliDBServer`` tests use."""

    def __init__(self, url: str) -> None:
        options = parse_url(url)
        if not options["username"]:
            raise pytest.UsageError(f"{url!r}: a shared test server needs admin credentials")
        self.host: str = options["host"]
        self.port: int = options["port"]
        self.username: str = options["username"]
        self.password: str = options["password"] or ""
        self.url = url

    def client(self, database: str = "_system", **kwargs: Any) -> Client:
        client = Client(self.host, self.port, **kwargs)
        client.connect()
        client.auth(database, self.username, self.password)
        return client


Server = Union[SoliDBServer, SharedServer]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("solidb", "solidb-odm test server")
    group.addoption("--solidb-url", default=None,
                    help=f"use this running server (solidb://admin:pw@host:port) instead of "
                         f"starting one per worker; default ${URL_VARIABLE}")
    group.addoption("--solidb-n-plus-one", type=int, default=None, metavar="N",
                    help="fail any test in which one request shape runs more than N times")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "solidb_n_plus_one(threshold=5, kinds=None): fail the test when one request shape "
        "(an SDBQL text, a get-by-key on one collection) runs more than threshold times",
    )
    config.addinivalue_line(
        "markers", "solidb_cluster: runs against a real local SoliDB cluster (select with "
        "-m solidb_cluster, leave out with -m 'not solidb_cluster')",
    )


def worker_id() -> str:
    """The pytest-xdist worker running this process (``gw0``...), ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def database_name(prefix: str = "test") -> str:
    """A database name no other test, worker or run uses: ``test_gw0_1a2b3c4d5e6f``."""
    return f"{prefix}_{worker_id()}_{uuid.uuid4().hex[:12]}"


# -- the server ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def solidb_server(pytestconfig: pytest.Config) -> Iterator[Server]:
    """The session's server: started for it and stopped after it, or the shared one."""
    url = pytestconfig.getoption("solidb_url") or os.environ.get(URL_VARIABLE)
    if url:
        yield SharedServer(url)
        return
    with SoliDBServer() as server:
        yield server


@pytest.fixture(scope="session")
def solidb_cluster() -> Iterator[SoliDBCluster]:
    """Three real nodes on loopback for the session; each test must leave them all running."""
    with SoliDBCluster(nodes=3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def solidb_admin(solidb_server: Server) -> Iterator[Client]:
    """One admin client for the session, for creating and dropping the tests' databases."""
    client = solidb_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def solidb_client(solidb_server: Server) -> Iterator[Client]:
    """A client authenticated as admin on the session's server."""
    client = solidb_server.client()
    try:
        yield client
    finally:
        client.close()


@contextmanager
def fresh_database(admin: Client) -> Iterator[str]:
    """A new, empty database, dropped when the block ends (whatever the block did in it)."""
    name = database_name()
    admin.create_database(name)
    try:
        yield name
    finally:
        admin.delete_database(name)


@contextmanager
def isolated_database(server: Server, admin: Client, **client_options: Any
                      ) -> Iterator[Database]:
    """A ``Database`` on a fresh server database with its own client; all of it gone after."""
    with fresh_database(admin) as name:
        db = Database(server.client(name, **client_options), name, owns_client=True)
        try:
            yield db
        finally:
            db.close()


@pytest.fixture
def solidb_database(solidb_admin: Client) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    with fresh_database(solidb_admin) as name:
        yield name


@pytest.fixture
def solidb_db(solidb_server: Server, solidb_admin: Client) -> Iterator[Database]:
    """A ``Database`` on a fresh database for one test, dropped afterwards."""
    with isolated_database(solidb_server, solidb_admin) as db:
        yield db


@pytest.fixture
def solidb_odm_db(solidb_db: Database) -> Iterator[Database]:
    """``solidb_db``, set as the models' default database for the test."""
    set_default_database(solidb_db)
    try:
        yield solidb_db
    finally:
        set_default_database(None)


# -- counting requests ---------------------------------------------------------------


@pytest.fixture(name="capture_queries")
def capture_queries_fixture() -> Callable[..., Any]:
    """``with capture_queries(kinds=None) as captured: ...``"""
    return queries.capture_queries


@pytest.fixture(name="assert_num_queries")
def assert_num_queries_fixture() -> Callable[..., Any]:
    """``with assert_num_queries(n, kinds=None): ...``"""
    return queries.assert_num_queries


@pytest.fixture(name="assert_max_queries")
def assert_max_queries_fixture() -> Callable[..., Any]:
    """``with assert_max_queries(n, kinds=None): ...``"""
    return queries.assert_max_queries


@pytest.fixture(name="detect_n_plus_one")
def detect_n_plus_one_fixture() -> Callable[..., Any]:
    """``with detect_n_plus_one(threshold=5): ...``"""
    return queries.detect_n_plus_one


def _n_plus_one_settings(item: pytest.Item) -> Optional[dict[str, Any]]:
    marker = item.get_closest_marker("solidb_n_plus_one")
    if marker is not None:
        settings: dict[str, Any] = dict(marker.kwargs)
        if marker.args:
            settings["threshold"] = marker.args[0]
        if settings.get("kinds") is None:
            settings.pop("kinds", None)
        return settings
    threshold = item.config.getoption("solidb_n_plus_one", None)
    return None if threshold is None else {"threshold": threshold}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run a test marked ``solidb_n_plus_one`` under the detector (its call only, not setup)."""
    settings = _n_plus_one_settings(item)
    if settings is None:
        return (yield)
    with queries.detect_n_plus_one(**settings):
        result = yield
    return result
