"""client.ttl: run_cleanup removes exactly what the index says has expired.

The documents are written before the index is created (or re-created by
``update_expiration``): the server's own 60-second sweep only knows documents
written while the index exists, so it cannot race the cleanup under test and
every count is exact.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Dict, List, Set

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc


def iso(seconds_ago: int) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return moment.isoformat()


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Client:
    solidb_client.use_database(solidb_database)
    solidb_client.create_collection(solidb_database, "sessions")
    return solidb_client


def seed(client: Client, database: str) -> Dict[str, int]:
    """Documents of known ages (seconds) in both timestamp forms; returns key -> age."""
    now = int(time.time())
    ages = {"h2": 7200, "m30": 1800, "m5": 300, "fresh": 0}
    docs: List[dict] = []
    for name, age in ages.items():
        docs.append({"_key": f"{name}_int", "created_at": now - age})
        docs.append({"_key": f"{name}_iso", "created_at": iso(age)})
    docs += [
        {"_key": "no_field"},
        {"_key": "not_a_time", "created_at": "yesterday"},
        {"_key": "millis", "created_at": (now - 7200) * 1000},  # read as seconds: the future
    ]
    client.bulk_insert(database, "sessions", docs)
    result = {f"{name}_{kind}": age for name, age in ages.items() for kind in ("int", "iso")}
    result.update(no_field=-1, not_a_time=-1, millis=-1)
    return result


def keys(client: Client, database: str) -> Set[str]:
    return set(client.query(database, "FOR d IN sessions RETURN d._key"))


def expired(ages: Dict[str, int], period: int) -> Set[str]:
    return {k for k, age in ages.items() if age >= 0 and age >= period}


def test_run_cleanup_removes_what_is_older_than_the_period_and_counts_it(
    client: Client, solidb_database: str
) -> None:
    db = solidb_database
    ages = seed(client, db)
    info = client.ttl.create_index("sessions", "session_ttl", "created_at", 3600)
    assert info == {"name": "session_ttl", "field": "created_at", "expire_after_seconds": 3600}

    gone = expired(ages, 3600)
    assert gone == {"h2_int", "h2_iso"}
    assert client.ttl.run_cleanup("sessions") == {"deleted": len(gone)}
    assert keys(client, db) == set(ages) - gone
    assert client.ttl.run_cleanup("sessions") == {"deleted": 0}


def test_update_expiration_changes_what_expires(client: Client, solidb_database: str) -> None:
    db = solidb_database
    ages = seed(client, db)
    client.ttl.create_index("sessions", "session_ttl", "created_at", 3600)

    updated = client.ttl.update_expiration("sessions", "session_ttl", 600)
    assert updated["expire_after_seconds"] == 600
    assert client.ttl.get_index_info("sessions", "session_ttl")["expire_after_seconds"] == 600
    gone = expired(ages, 600)
    assert gone == {"h2_int", "h2_iso", "m30_int", "m30_iso"}
    assert client.ttl.run_cleanup("sessions") == {"deleted": 4}
    assert keys(client, db) == set(ages) - gone

    client.ttl.update_expiration("sessions", "session_ttl", 7 * 24 * 3600)
    assert client.ttl.run_cleanup("sessions") == {"deleted": 0}
    client.ttl.update_expiration("sessions", "session_ttl", 60)
    assert client.ttl.run_cleanup("sessions") == {"deleted": 2}
    assert keys(client, db) == {"fresh_int", "fresh_iso", "no_field", "not_a_time", "millis"}


def test_a_nested_field_and_several_indexes(client: Client, solidb_database: str) -> None:
    db = solidb_database
    now = int(time.time())
    client.bulk_insert(db, "sessions", [
        {"_key": "a", "meta": {"seen": now - 100}, "created_at": now},
        {"_key": "b", "meta": {"seen": now}, "created_at": now - 100},
        {"_key": "c", "meta": {"seen": now}, "created_at": now},
    ])
    client.ttl.create_index("sessions", "seen_ttl", "meta.seen", 50)
    client.ttl.create_index("sessions", "created_ttl", "created_at", 50)
    assert {i["name"] for i in client.ttl.list_indexes("sessions")} == {"seen_ttl", "created_ttl"}
    assert client.ttl.run_cleanup("sessions") == {"deleted": 2}
    assert keys(client, db) == {"c"}


def test_indexes_are_listed_and_deleted(client: Client) -> None:
    assert client.ttl.run_cleanup("sessions") == {"deleted": 0}  # no index: nothing expires
    client.ttl.create_index("sessions", "session_ttl", "created_at", 60)
    client.ttl.delete_index("sessions", "session_ttl")
    assert client.ttl.list_indexes("sessions") == []
    with pytest.raises(exc.NotFoundError):
        client.ttl.get_index_info("sessions", "session_ttl")
    with pytest.raises(exc.NotFoundError):
        client.ttl.update_expiration("sessions", "session_ttl", 10)
    with pytest.raises(exc.NotFoundError):
        client.ttl.delete_index("sessions", "session_ttl")


def test_ttl_input_is_checked(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.ttl.create_index("sessions", "bad", "created_at", -1)
    with pytest.raises(exc.ValidationError):
        client.ttl.create_index("sessions", "bad", "created_at", 1.5)  # type: ignore[arg-type]
    assert client.ttl.list_indexes("sessions") == []
