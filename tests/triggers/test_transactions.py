"""Writes inside a client transaction cannot fire triggers: they warn, or with strict, refuse.

A transaction follows the caller's context, so these tests run one coroutine
per mode (``mode``): blocking calls in sync mode, awaited ones in async mode.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from solidb_odm import AsyncClient, Client
from solidb_odm.client.triggered import TriggersNotFiredError, TriggersNotFiredWarning
from solidb_odm.testing import SoliDBServer

from ..modes import Mode
from .conftest import NOOP, fired


@pytest.fixture
async def tx_client(mode: Mode, solidb_server: SoliDBServer, solidb_database: str
                    ) -> AsyncIterator[Any]:
    client: Any
    if mode.is_async:
        client = AsyncClient(solidb_server.host, solidb_server.port)
        await client.auth("_system", solidb_server.username, solidb_server.password)
    else:
        client = Client(solidb_server.host, solidb_server.port)
        client.auth("_system", solidb_server.username, solidb_server.password)
    db = solidb_database
    client.use_database(db)
    for name in ("users", "plain"):
        await mode.call(client.create_collection, db, name)
    await mode.call(client.scripts.create, name="noop", path="scripts/noop", methods=["POST"],
                    code=NOOP)
    await mode.call(client.triggers.create, name="on_users", collection="users",
                    operation=["insert", "update", "delete"], script_path="scripts/noop")
    yield client
    await mode.call(client.close)


async def test_transaction_writes_warn_and_go_through(
    mode: Mode, tx_client: Any, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    db, c = solidb_database, tx_client
    tx = await mode.call(c.begin_transaction, db)
    with pytest.warns(TriggersNotFiredWarning, match=r"a write inside a transaction to "
                                                     r"collection 'users'.*'on_users'"):
        await mode.call(c.insert, db, "users", {"n": 1}, key="t1")
    with pytest.warns(TriggersNotFiredWarning):
        await mode.call(c.update, db, "users", "t1", {"n": 2})
    await mode.call(c.commit_transaction, tx)
    assert (await mode.call(c.get, db, "users", "t1"))["n"] == 2
    checker = solidb_server.client(db)
    try:
        assert fired(checker, db) == []
    finally:
        checker.close()


async def test_strict_routing_refuses_transaction_writes_before_sending(
    mode: Mode, tx_client: Any, solidb_database: str
) -> None:
    db, c = solidb_database, tx_client
    c.triggers.routing(strict=True)
    tx = await mode.call(c.begin_transaction, db)
    with pytest.raises(TriggersNotFiredError, match="nothing was sent"):
        await mode.call(c.insert, db, "users", {"n": 1}, key="t1")
    with pytest.raises(TriggersNotFiredError):
        await mode.call(c.batch, [{"cmd": "delete", "database": db, "collection": "users",
                                   "key": "x"}], tx_id=tx)
    await mode.call(c.insert, db, "plain", {"n": 1}, key="fine")  # unwatched: no objection
    await mode.call(c.commit_transaction, tx)
    assert await mode.call(c.list, db, "users") == []
    assert len(await mode.call(c.list, db, "plain")) == 1
