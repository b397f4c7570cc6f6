"""Which client writes fire a collection's triggers, on solidb 2.6.0, and what the client does.

The server fires triggers only for writes through its HTTP document API. The
client sends its writes to watched collections that way (outside
transactions), so each row of the table in docs/scheduling.md's trigger
section has a test here, in both modes.
"""

from __future__ import annotations

import warnings
from typing import List

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.client.triggered import TriggersNotFiredError, TriggersNotFiredWarning, sdbql_targets
from solidb_odm.testing import SoliDBServer

from .conftest import fired


def test_server_fires_triggers_only_for_http_document_writes(
    client: Client, solidb_database: str
) -> None:
    """Server behaviour: raw driver commands and SDBQL writes never fire a trigger."""
    db = solidb_database
    client.command("insert", database=db, collection="users", key="d", document={"n": 1})
    client.command("update", database=db, collection="users", key="d", document={"n": 2})
    client.command("delete", database=db, collection="users", key="d")
    client.command("bulk_insert", database=db, collection="users", documents=[{"n": 3}])
    client.command("query", database=db, sdbql="INSERT {_key: 'q', n: 4} INTO users")
    client.command("query", database=db, sdbql="FOR u IN users UPDATE u WITH {n: 5} IN users")
    client.command("query", database=db, sdbql="FOR u IN users REMOVE u IN users")
    assert fired(client, db) == []


def test_insert_update_replace_delete_fire_the_trigger(
    client: Client, solidb_database: str, requests_seen: List[str]
) -> None:
    db = solidb_database
    stored = client.insert(db, "users", {"name": "Ada"}, key="ada")
    assert (stored["_key"], stored["name"]) == ("ada", "Ada")
    client.update(db, "users", "ada", {"age": 36})
    assert client.get(db, "users", "ada")["age"] == 36
    replaced = client.update_returning(db, "users", "ada", {"name": "Ada L."}, merge=False)
    assert "age" not in replaced and replaced["name"] == "Ada L."
    client.delete(db, "users", "ada")
    assert fired(client, db) == [("delete", "ada"), ("insert", "ada"), ("update", "ada"),
                                 ("update", "ada")]
    assert requests_seen.count("HTTP POST") == 1 and requests_seen.count("HTTP PUT") == 2
    assert requests_seen.count("HTTP DELETE") == 1


def test_routed_writes_keep_the_client_s_errors(client: Client, solidb_database: str) -> None:
    db = solidb_database
    client.insert(db, "users", {"n": 1}, key="k")
    with pytest.raises(exc.UniqueViolationError):
        client.insert(db, "users", {"n": 2}, key="k")
    with pytest.raises(exc.NotFoundError):
        client.update(db, "users", "missing", {"n": 1})
    with pytest.raises(exc.NotFoundError):
        client.update(db, "users", "missing", {"n": 1}, merge=False)
    with pytest.raises(exc.NotFoundError):
        client.delete(db, "users", "missing")
    assert client.get(db, "users", "k")["n"] == 1


def test_collections_without_triggers_stay_on_the_driver(
    client: Client, solidb_database: str, requests_seen: List[str]
) -> None:
    db = solidb_database
    client.insert(db, "plain", {"n": 1}, key="p")  # loads the trigger list once
    requests_seen.clear()
    client.update(db, "plain", "p", {"n": 2})
    client.update(db, "plain", "p", {"n": 3}, merge=False)
    client.bulk_insert(db, "plain", [{"n": 4}, {"n": 5}])
    client.delete(db, "plain", "p")
    assert not [op for op in requests_seen if op.startswith("HTTP") or op == "list_triggers"]
    assert fired(client, db, "plain") == []


def test_bulk_insert_fires_for_every_document(client: Client, solidb_database: str) -> None:
    db = solidb_database
    assert client.bulk_insert(db, "users", [{"_key": "a"}, {"_key": "b"}, {"_key": "c"}]) == 3
    assert fired(client, db) == [("insert", "a"), ("insert", "b"), ("insert", "c")]


def test_bulk_insert_that_fails_midway_says_how_many_went_in(
    client: Client, solidb_database: str
) -> None:
    db = solidb_database
    client.insert(db, "users", {}, key="b")
    with pytest.raises(exc.UniqueViolationError) as info:
        client.bulk_insert(db, "users", [{"_key": "a"}, {"_key": "b"}, {"_key": "c"}])
    assert "1 of 3 documents were inserted" in "".join(info.value.__notes__)
    assert client.query(db, "FOR u IN users SORT u._key RETURN u._key") == ["a", "b"]


def test_batch_outside_a_transaction_routes_watched_writes_in_order(
    client: Client, solidb_database: str
) -> None:
    db = solidb_database
    results = client.batch([
        {"cmd": "insert", "database": db, "collection": "plain", "key": "p1", "document": {}},
        {"cmd": "insert", "database": db, "collection": "users", "key": "u1", "document": {}},
        {"cmd": "get", "database": db, "collection": "users", "key": "u1"},
        {"cmd": "update", "database": db, "collection": "users", "key": "nope", "document": {}},
        {"cmd": "delete", "database": db, "collection": "users", "key": "u1"},
    ])
    assert [type(r).__name__ for r in results] == ["Reply", "Reply", "Reply", "NotFoundError",
                                                   "Reply"]
    assert results[1].data["_key"] == "u1" and results[2].data["_key"] == "u1"  # type: ignore[union-attr]
    assert fired(client, db) == [("delete", "u1"), ("insert", "u1")]


def test_sdbql_writes_to_watched_collections_warn(client: Client, solidb_database: str) -> None:
    db = solidb_database
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.query(db, "FOR u IN users RETURN u")  # a read: silent
        client.query(db, "INSERT {n: 1} INTO plain")  # no triggers there: silent
    assert [w for w in caught if issubclass(w.category, TriggersNotFiredWarning)] == []
    with pytest.warns(TriggersNotFiredWarning, match=r"an SDBQL write to collection 'users'"):
        client.query(db, "INSERT {_key: 'q'} INTO users")
    assert client.get(db, "users", "q")["_key"] == "q"
    assert fired(client, db) == []


def test_strict_routing_refuses_sdbql_writes(client: Client, solidb_database: str) -> None:
    db = solidb_database
    client.triggers.routing(strict=True)
    with pytest.raises(TriggersNotFiredError):
        client.query(db, "FOR i IN 1..3 INSERT {i: i} INTO users")
    assert client.list(db, "users") == []


def test_disabled_and_deleted_triggers_are_not_routed(
    client: Client, solidb_database: str, requests_seen: List[str]
) -> None:
    db = solidb_database
    trigger = client.triggers.list()[0]
    client.triggers.toggle(trigger["_key"])
    requests_seen.clear()
    client.insert(db, "users", {}, key="quiet")
    assert "HTTP POST" not in requests_seen
    client.triggers.toggle(trigger["_key"])
    client.insert(db, "users", {}, key="loud")
    client.triggers.delete(trigger["_key"])
    requests_seen.clear()
    client.insert(db, "users", {}, key="after")
    assert "HTTP POST" not in requests_seen
    assert fired(client, db) == [("insert", "loud")]


def test_triggers_made_by_another_client_are_seen_after_the_refresh(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    db = solidb_database
    client.insert(db, "plain", {}, key="before")  # caches: 'plain' has no triggers
    other = solidb_server.client(db)
    try:
        other.use_database(db).triggers.create(name="on_plain", collection="plain",
                                               operation="insert", script_path="scripts/noop")
    finally:
        other.close()
    client.insert(db, "plain", {}, key="cached")  # within refresh_seconds: not yet known
    client.triggers.routing(refresh_seconds=0)  # now every write reloads the list
    client.insert(db, "plain", {}, key="fresh")
    assert fired(client, db, "plain") == [("insert", "fresh")]
    assert client.triggers.watched_collections() == {"plain": ["on_plain"], "users": ["on_users"]}


def test_route_false_turns_routing_off(client: Client, solidb_database: str) -> None:
    db = solidb_database
    client.triggers.routing(route=False)
    client.insert(db, "users", {}, key="unrouted")
    assert fired(client, db) == []


def test_sdbql_targets_reads_the_collections_after_the_write_word() -> None:
    assert sdbql_targets("FOR u IN users RETURN u") == ()
    assert sdbql_targets("INSERT @d INTO `audit`") == ("audit",)
    assert sdbql_targets("FOR u IN users FILTER u.a UPDATE u WITH {} IN users") == ("users",)
    assert sdbql_targets("FOR u IN a REMOVE u IN b") == ("b",)
    assert sdbql_targets("UPSERT {k: 1} INSERT {k: 1} UPDATE {} IN c") == ("c",)
