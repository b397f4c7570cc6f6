"""What migrations, export and import rely on in solidb 2.6.0, pinned against the real server."""

from __future__ import annotations

import pytest

from solidb_odm import Database
from solidb_odm import exceptions as exc


def test_list_pages_in_key_order_from_an_offset(odm_db: Database) -> None:
    odm_db.create_collection("keys")
    odm_db.client.bulk_insert(odm_db.name, "keys", [{"_key": k} for k in ("b", "a", "d", "c", "a1")])
    page, total = odm_db.client.list_page(odm_db.name, "keys", 2, 1)
    assert [d["_key"] for d in page] == ["a1", "b"] and total == 5


def test_sdbql_replace_keeps_created_at_and_drops_absent_fields(odm_db: Database) -> None:
    odm_db.create_collection("docs")
    before = odm_db.client.insert(odm_db.name, "docs", {"a": 1, "b": 2}, key="k")
    odm_db.query("FOR doc IN @docs REPLACE doc IN docs", {"docs": [{"_key": "k", "c": 3}]})
    after = odm_db.client.get(odm_db.name, "docs", "k")
    assert after["_created_at"] == before["_created_at"] and after["_rev"] != before["_rev"]
    assert {k: v for k, v in after.items() if not k.startswith("_")} == {"c": 3}


def test_schema_validation_off_lets_sdbql_writes_through(odm_db: Database) -> None:
    odm_db.create_collection("checked")
    odm_db.client.insert(odm_db.name, "checked", {"name": "x"}, key="k")
    record = {"name": "checked", "schema": {"type": "object", "required": ["name"]}}
    odm_db.client.command("set_collection_schema", database=odm_db.name, collection="checked",
                          schema=dict(record, validation_mode="strict"))
    replace = "FOR doc IN @docs REPLACE doc IN checked"
    with pytest.raises(exc.SchemaValidationError):
        odm_db.query(replace, {"docs": [{"_key": "k", "other": 1}]})
    odm_db.client.command("set_collection_schema", database=odm_db.name, collection="checked",
                          schema=dict(record, validation_mode="off"))
    odm_db.query(replace, {"docs": [{"_key": "k", "other": 1}]})
    assert "name" not in odm_db.client.get(odm_db.name, "checked", "k")


def test_bulk_insert_with_one_existing_key_stores_nothing_of_the_frame(odm_db: Database) -> None:
    odm_db.create_collection("bulk")
    odm_db.client.insert(odm_db.name, "bulk", {}, key="taken")
    with pytest.raises(exc.UniqueViolationError):
        odm_db.client.bulk_insert(odm_db.name, "bulk", [{"_key": "new"}, {"_key": "taken"}])
    assert [d["_key"] for d in odm_db.client.list(odm_db.name, "bulk")] == ["taken"]


def test_bulk_insert_ignores_server_fields_it_is_given(odm_db: Database) -> None:
    odm_db.create_collection("stamped")
    odm_db.client.bulk_insert(odm_db.name, "stamped", [
        {"_key": "k", "_created_at": "2000-01-01T00:00:00Z", "_rev": "mine", "_id": "other:x/k"}])
    stored = odm_db.client.get(odm_db.name, "stamped", "k")
    assert stored["_rev"] != "mine" and not stored["_created_at"].startswith("2000")
    assert stored["_id"] == f"{odm_db.name}:stamped/k"


def test_collections_may_start_with_an_underscore(odm_db: Database) -> None:
    odm_db.client.create_collection(odm_db.name, "_odm_probe")
    assert "_odm_probe" in odm_db.collection_names()
    assert odm_db.query("FOR d IN `_odm_probe` RETURN d") == []
