"""A Database sized for concurrent requests, on a fresh server database."""

from __future__ import annotations

from typing import Iterator

import pytest

from solidb_odm.database import Database, set_default_database
from solidb_odm.testing import SoliDBServer

from .common import WebNote

#: Every open session holds one connection for its whole transaction, so the
#: pools are sized above the number of requests in flight (see docs/web-apps.md).
POOL_SIZE = 96


@pytest.fixture
def web_db(solidb_server: SoliDBServer, solidb_database: str) -> Iterator[Database]:
    client = solidb_server.client(solidb_database, pool_size=POOL_SIZE)
    db = Database(client, solidb_database, owns_client=True, options={"pool_size": POOL_SIZE})
    db.register(WebNote)
    db.sync()
    set_default_database(db)  # plain save() calls use the default database
    try:
        yield db
    finally:
        set_default_database(None)
        db.close()
