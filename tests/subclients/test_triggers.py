"""client.triggers against a real server: a write fires the trigger's script.

On solidb 2.6.0 triggers fire for writes made through the server's HTTP
document API, so most tests write documents over plain HTTP (the client's own
routing of writes to watched collections is tested in ``tests/triggers``).
Firing is synchronous (the HTTP insert queues a job before it answers), which
lets the "does not fire" tests look for the job at once instead of waiting.
"""

from __future__ import annotations

from typing import Any, Iterator, List, TypeVar

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

from ._helpers import raw_http, wait_for

T = TypeVar("T")

AUDIT = """
db:collection("audit"):insert({
  user_key = request.body.key,
  name = request.body.data.name,
  event = request.body.event,
  trigger = request.body.trigger_name,
  handler = "audit",
})
return {}
"""
ALT_AUDIT = AUDIT.replace('handler = "audit"', 'handler = "alt"')


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Iterator[Client]:
    solidb_client.use_database(solidb_database)
    solidb_client.create_collection(solidb_database, "users")
    solidb_client.create_collection(solidb_database, "audit")
    solidb_client.scripts.create(name="audit", path="/scripts/on-user-create",
                                 methods=["POST"], code=AUDIT)
    yield solidb_client



def insert_over_http(server: SoliDBServer, db: str, doc: dict[str, Any]) -> str:
    status, body = raw_http(server, "POST", f"/_api/database/{db}/document/users", doc)
    assert status == 200, body
    return str(body["_key"])


def audit_rows(client: Client, db: str) -> List[dict[str, Any]]:
    return client.query(db, "FOR a IN audit SORT a.name RETURN a")


def jobs_for(client: Client, db: str, key: str) -> List[dict[str, Any]]:
    """The jobs the trigger queued for one document (none: the trigger did not fire)."""
    try:
        return client.query(db, "FOR j IN _jobs FILTER j.params.key == @k RETURN j", {"k": key})
    except exc.NotFoundError:  # no _jobs collection: nothing ever fired
        return []


def test_an_insert_fires_the_trigger_script(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    trigger = client.triggers.create(
        name="on_user_created",
        collection="users",
        operation="insert",
        script_path="/scripts/on-user-create",
    )
    assert trigger["_key"]
    assert trigger["events"] == ["insert"]
    assert trigger["enabled"] is True

    key = insert_over_http(solidb_server, solidb_database, {"name": "Ada"})
    rows = wait_for(lambda: audit_rows(client, solidb_database), lambda r: len(r) == 1)
    assert rows[0]["user_key"] == key
    assert rows[0]["name"] == "Ada"
    assert rows[0]["event"] == "insert"
    assert rows[0]["trigger"] == "on_user_created"
    assert [j["status"] for j in jobs_for(client, solidb_database, key)] == ["completed"]


def test_driver_writes_do_not_fire_triggers(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """Server behaviour on 2.6.0: only HTTP document writes fire triggers."""
    client.triggers.create(name="t", collection="users", operation="insert",
                           script_path="scripts/on-user-create")
    raw = client.command("insert", database=solidb_database, collection="users",
                         document={"name": "Driver"})
    assert jobs_for(client, solidb_database, raw.data["_key"]) == []
    via_http = insert_over_http(solidb_server, solidb_database, {"name": "Http"})
    assert len(jobs_for(client, solidb_database, via_http)) == 1
    # The client's own insert is routed over HTTP, so it fires.
    routed = client.insert(solidb_database, "users", {"name": "Routed"})["_key"]
    assert len(jobs_for(client, solidb_database, routed)) == 1


def test_toggle_stops_and_restarts_the_trigger(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    trigger = client.triggers.create(name="t", collection="users", operation="insert",
                                     script_path="scripts/on-user-create")
    off = client.triggers.toggle(trigger["_key"])
    assert off["enabled"] is False
    assert client.triggers.get(trigger["_key"])["enabled"] is False
    silent = insert_over_http(solidb_server, solidb_database, {"name": "Quiet"})
    assert jobs_for(client, solidb_database, silent) == []

    on = client.triggers.toggle(trigger["_key"])
    assert on["enabled"] is True
    heard = insert_over_http(solidb_server, solidb_database, {"name": "Loud"})
    rows = wait_for(lambda: audit_rows(client, solidb_database), lambda r: len(r) >= 1)
    assert [r["user_key"] for r in rows] == [heard]


def test_update_enabled_false_stops_the_trigger(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    trigger = client.triggers.create(name="t", collection="users", operation="insert",
                                     script_path="scripts/on-user-create")
    updated = client.triggers.update(trigger["_key"], {"enabled": False})
    assert updated["enabled"] is False
    key = insert_over_http(solidb_server, solidb_database, {"name": "Nobody"})
    assert jobs_for(client, solidb_database, key) == []
    # The trigger still parses: the server's own listing is intact.
    status, body = raw_http(solidb_server, "GET", f"/_api/database/{solidb_database}/triggers")
    assert status == 200, body
    assert [t["_key"] for t in body["triggers"]] == [trigger["_key"]]


def test_update_changes_which_script_runs_and_on_what(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.scripts.create(name="alt", path="scripts/alt", methods=["POST"], code=ALT_AUDIT)
    trigger = client.triggers.create(name="t", collection="users", operation="insert",
                                     script_path="scripts/on-user-create")
    updated = client.triggers.update(
        trigger["_key"], {"script_path": "/scripts/alt", "operation": ["insert", "update"]}
    )
    assert updated["script_path"] == "scripts/alt"
    assert updated["events"] == ["insert", "update"]

    key = insert_over_http(solidb_server, solidb_database, {"name": "Eve"})
    rows = wait_for(lambda: audit_rows(client, solidb_database), lambda r: len(r) == 1)
    assert (rows[0]["handler"], rows[0]["user_key"]) == ("alt", key)

    status, _ = raw_http(solidb_server, "PUT",
                         f"/_api/database/{solidb_database}/document/users/{key}",
                         {"name": "Eve2"})
    assert status == 200
    rows = wait_for(lambda: audit_rows(client, solidb_database), lambda r: len(r) == 2)
    assert sorted(r["event"] for r in rows) == ["insert", "update"]


def test_list_get_and_delete(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.create_collection(solidb_database, "orders")
    users = client.triggers.create(name="on_user", collection="users", operation="insert",
                                   script_path="scripts/on-user-create")
    orders = client.triggers.create(name="on_order", collection="orders", operation="delete",
                                    script_path="scripts/on-user-create", priority=5,
                                    max_retries=2)
    assert {t["_key"] for t in client.triggers.list()} == {users["_key"], orders["_key"]}
    assert [t["_key"] for t in client.triggers.list_by_collection("orders")] == [orders["_key"]]
    got = client.triggers.get(orders["_key"])
    assert (got["name"], got["events"], got["priority"], got["max_retries"]) == (
        "on_order", ["delete"], 5, 2)

    client.triggers.delete(users["_key"])
    with pytest.raises(exc.NotFoundError):
        client.triggers.get(users["_key"])
    assert [t["_key"] for t in client.triggers.list()] == [orders["_key"]]
    key = insert_over_http(solidb_server, solidb_database, {"name": "After"})
    assert jobs_for(client, solidb_database, key) == []


def test_the_server_checks_the_watched_collection(client: Client) -> None:
    with pytest.raises(exc.ServerError, match="does not exist"):
        client.triggers.create(name="t", collection="nope", operation="insert",
                               script_path="scripts/on-user-create")


def test_bad_triggers_are_refused_before_the_server(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.triggers.create(name="t", collection="users", operation="upsert",
                               script_path="scripts/x")
    with pytest.raises(exc.ValidationError):
        client.triggers.create(name="t", collection="users", operation="insert",
                               script_path="scripts/bad path")
    with pytest.raises(exc.ValidationError):
        client.triggers.update("id", {"webhook": "x"})
    with pytest.raises(exc.ValidationError):
        client.triggers.update("id", {"enabled": "no"})
    assert client.triggers.list() == []


def test_the_server_drops_a_description(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """Server behaviour: a trigger has no description field; the HTTP API ignores one."""
    status, body = raw_http(solidb_server, "POST", f"/_api/database/{solidb_database}/triggers",
                            {"name": "t", "collection": "users", "events": ["insert"],
                             "script_path": "scripts/on-user-create", "description": "kept?"})
    assert status == 200 and "description" not in body
    assert "description" not in client.command("get_trigger", database=solidb_database,
                                                trigger_id=body["_key"]).data


def test_description_is_kept_by_the_library(client: Client) -> None:
    trigger = client.triggers.create(name="on_user_created", collection="users",
                                     operation="insert", script_path="/scripts/on-user-create",
                                     description="Handle new user")
    assert trigger["description"] == "Handle new user"
    key = trigger["_key"]
    assert client.triggers.get(key)["description"] == "Handle new user"
    assert [t["description"] for t in client.triggers.list()] == ["Handle new user"]
    assert client.triggers.list_by_collection("users")[0]["description"] == "Handle new user"
    updated = client.triggers.update(key, {"description": "New users", "enabled": False})
    assert (updated["description"], updated["enabled"]) == ("New users", False)
    assert client.triggers.toggle(key)["description"] == "New users"
    assert client.triggers.update(key, {"description": None})["description"] is None
    client.triggers.update(key, {"description": "again"})
    client.triggers.delete(key)
    assert client.query(client.database or "", "FOR m IN _odm_trigger_meta RETURN m") == []
    plain = client.triggers.create(name="p", collection="users", operation="insert",
                                   script_path="/scripts/on-user-create")
    assert plain["description"] is None
    assert client.triggers.get(plain["_key"])["description"] is None


def test_description_of_a_missing_trigger_is_not_found(client: Client) -> None:
    with pytest.raises(exc.NotFoundError):
        client.triggers.update("no-such-trigger", {"description": "x"})


def test_triggers_need_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.triggers.list()


def test_a_trigger_created_over_the_driver_never_fires(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """Why triggers are written over HTTP: the driver stores timestamps the server cannot read."""
    client.run(ops.data("create_trigger", database=solidb_database, name="drv",
                        collection="users", events=["insert"],
                        script_path="scripts/on-user-create"))
    key = insert_over_http(solidb_server, solidb_database, {"name": "Unheard"})
    assert jobs_for(client, solidb_database, key) == []
    status, body = raw_http(solidb_server, "GET", f"/_api/database/{solidb_database}/triggers")
    assert status == 500 and "Corrupted trigger data" in body["error"]
