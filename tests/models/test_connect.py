"""connect() and aconnect(): URL and keyword forms, database creation, default database, schema sync.

The tests that talk to the server run in both modes (``mode``, see
``tests/modes.py``): ``connect(...)`` or ``await aconnect(...)``, and so on.
"""

from __future__ import annotations

import pytest

import solidb_odm
from solidb_odm import AsyncClient, Client, Document, get_default_database
from solidb_odm import exceptions as exc
from solidb_odm.database import parse_url, set_default_database
from solidb_odm.testing import SoliDBServer

from ..modes import Mode


class Gadget(Document):
    name: str
    price: int

    class Meta:
        collection = "gadgets"


def test_parse_url() -> None:
    assert parse_url("solidb://u:p%40ss@db.local:7000/shop?pool_size=8&timeout=2.5") == {
        "host": "db.local", "port": 7000, "username": "u", "password": "p@ss",
        "database": "shop", "pool_size": 8, "timeout": 2.5,
    }
    with pytest.raises(exc.ValidationError):
        parse_url("http://x")
    with pytest.raises(exc.ValidationError):
        parse_url("solidb://x/db?bogus=1")


async def test_connect_url_creates_database_and_becomes_default(mode: Mode,
                                                                 solidb_server: SoliDBServer) -> None:
    db = await mode(solidb_odm, "connect", solidb_server.url + "/connect_url_db")
    try:
        assert get_default_database() is db
        # built on the client of its mode; the other one is made on demand, same identity
        assert isinstance(db._origin, AsyncClient if mode.is_async else Client)
        assert "connect_url_db" in db.client.list_databases()
        await mode(db.register(Gadget), "sync")
        await mode(Gadget(name="phone", price=3), "save")
        assert await mode(Gadget.objects, "count") == 1
    finally:
        db.client.delete_database("connect_url_db")
        await mode(db, "close")
        set_default_database(None)


async def test_connect_keywords_without_default(mode: Mode, solidb_server: SoliDBServer) -> None:
    db = await mode(solidb_odm, "connect", host=solidb_server.host, port=solidb_server.port,
                    username="admin", password=solidb_server.password, database="_system",
                    default=False)
    try:
        with pytest.raises(exc.SoliDBError):
            get_default_database()
        assert db.name == "_system"
    finally:
        await mode(db, "close")


async def test_connect_bad_password_is_an_authentication_error(mode: Mode,
                                                                solidb_server: SoliDBServer) -> None:
    with pytest.raises(exc.AuthenticationError):
        await mode(solidb_odm, "connect", host=solidb_server.host, port=solidb_server.port,
                   username="nobody-here", password="wrong", database="x", default=False)


async def test_sync_schema_makes_the_server_refuse_invalid_documents(mode: Mode, odm_db) -> None:
    odm_db.register(Gadget)
    created = await mode(odm_db, "sync", schema=True)
    assert created["schemas"] == ["gadgets"]
    await mode(Gadget(name="ok", price=1), "save")
    with pytest.raises(exc.SchemaValidationError):
        odm_db.client.insert(odm_db.name, "gadgets", {"name": "bad", "price": "not a number"})
    odm_db.client.insert(odm_db.name, "gadgets", {"name": "extra", "price": 2, "colour": "red"})
    assert await mode(Gadget.objects, "count") == 2
