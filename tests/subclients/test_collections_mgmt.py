"""client.collections_mgmt against a real server."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc

SYSTEM_FIELDS = ("_id", "_rev", "_created_at", "_updated_at")

USER_SCHEMA = {
    "type": "object",
    "required": ["name", "email"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0},
    },
}



def fill(client: Client, db: str, collection: str, n: int) -> List[Dict[str, Any]]:
    client.create_collection(db, collection)
    docs = [{"_key": f"k{i:03d}", "n": i, "tags": ["x", str(i)], "nested": {"even": i % 2 == 0}}
            for i in range(n)]
    assert client.bulk_insert(db, collection, docs) == n
    return docs


def content(docs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Documents without the fields the server sets, sorted by key."""
    return sorted(({k: v for k, v in d.items() if k not in SYSTEM_FIELDS} for d in docs),
                  key=lambda d: str(d["_key"]))


def everything(client: Client, db: str, collection: str) -> List[Dict[str, Any]]:
    return client.query(db, f"FOR d IN {collection} RETURN d")


def test_truncate_empties_the_collection(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "logs", 25)
    client.create_index(solidb_database, "logs", "idx_n", ["n"])
    assert len(everything(client, solidb_database, "logs")) == 25

    client.collections_mgmt.truncate("logs")
    assert everything(client, solidb_database, "logs") == []
    assert client.list(solidb_database, "logs") == []
    assert client.collections_mgmt.stats("logs")["document_count"] == 0
    # The collection and its indexes remain, and take new documents.
    assert "idx_n" in [i["name"] for i in client.list_indexes(solidb_database, "logs")]
    client.insert(solidb_database, "logs", {"n": 1})
    assert client.collections_mgmt.stats("logs")["document_count"] == 1


def test_stats_count_the_documents(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "users", 7)
    stats = client.collections_mgmt.stats("users")
    assert stats["document_count"] == 7
    client.delete(solidb_database, "users", "k000")
    assert client.collections_mgmt.stats("users")["document_count"] == 6
    with pytest.raises(exc.NotFoundError):
        client.collections_mgmt.stats("nope")


def test_set_schema_refuses_invalid_and_accepts_valid_documents(
    client: Client, solidb_database: str
) -> None:
    client.create_collection(solidb_database, "users")
    client.collections_mgmt.set_schema("users", USER_SCHEMA)

    with pytest.raises(exc.SchemaValidationError):
        client.insert(solidb_database, "users", {"name": "No email"})
    with pytest.raises(exc.SchemaValidationError):
        client.insert(solidb_database, "users", {"name": "Neg", "email": "n@example.com",
                                                 "age": -1})
    ok = client.insert(solidb_database, "users", {"name": "Ada", "email": "ada@example.com",
                                                  "age": 36})
    assert client.get(solidb_database, "users", ok["_key"])["name"] == "Ada"
    assert client.collections_mgmt.stats("users")["document_count"] == 1

    schema = client.collections_mgmt.get_schema("users")
    assert schema == {"name": "users", "schema": USER_SCHEMA, "validation_mode": "strict"}

    client.collections_mgmt.delete_schema("users")
    assert client.collections_mgmt.get_schema("users") is None
    client.insert(solidb_database, "users", {"name": "No email"})  # accepted again
    assert client.collections_mgmt.stats("users")["document_count"] == 2


def test_lenient_schema_stores_invalid_documents(client: Client, solidb_database: str) -> None:
    client.create_collection(solidb_database, "users")
    client.collections_mgmt.set_schema("users", USER_SCHEMA, validation_mode="lenient")
    client.insert(solidb_database, "users", {"name": "No email"})
    assert client.collections_mgmt.get_schema("users")["validation_mode"] == "lenient"  # type: ignore[index]
    assert client.collections_mgmt.stats("users")["document_count"] == 1


def test_export_then_import_reproduces_the_documents(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "users", 30)
    original = everything(client, solidb_database, "users")

    data = client.collections_mgmt.export("users", format="json")
    assert isinstance(data, list)
    assert content(data) == content(original)

    assert client.collections_mgmt.import_data("users_backup", data, format="json") == 30
    copied = everything(client, solidb_database, "users_backup")
    assert content(copied) == content(original)
    assert all(d["_id"].endswith(f"users_backup/{d['_key']}") for d in copied)
    # The source is untouched.
    assert content(everything(client, solidb_database, "users")) == content(original)


def test_export_and_import_as_json_lines(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "users", 5)
    text = client.collections_mgmt.export("users", format="jsonl")
    assert isinstance(text, str)
    lines = text.splitlines()
    assert len(lines) == 5
    assert all(isinstance(json.loads(line), dict) for line in lines)

    client.create_collection(solidb_database, "copy")
    assert client.collections_mgmt.import_data("copy", text, format="jsonl") == 5
    assert content(everything(client, solidb_database, "copy")) == content(
        everything(client, solidb_database, "users"))


def test_importing_existing_keys_is_refused(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "users", 3)
    data = client.collections_mgmt.export("users")
    with pytest.raises(exc.ServerError):
        client.collections_mgmt.import_data("users", data)
    assert client.collections_mgmt.stats("users")["document_count"] == 3


def test_compact_and_repair_lose_nothing(client: Client, solidb_database: str) -> None:
    fill(client, solidb_database, "orders", 200)
    for i in range(0, 200, 2):
        client.delete(solidb_database, "orders", f"k{i:03d}")
    client.update(solidb_database, "orders", "k001", {"n": 1001})
    before = content(everything(client, solidb_database, "orders"))
    assert len(before) == 100

    client.collections_mgmt.compact("orders")
    assert content(everything(client, solidb_database, "orders")) == before

    client.create_index(solidb_database, "orders", "idx_n", ["n"])
    report = client.collections_mgmt.repair("orders")
    assert report["status"] == "repaired"
    assert report["document_count"] == 100
    assert "not sharded" in report["report"]
    assert content(everything(client, solidb_database, "orders")) == before
    assert client.collections_mgmt.stats("orders")["document_count"] == 100
    assert client.get(solidb_database, "orders", "k001")["n"] == 1001
    # The rebuilt index still finds what it should.
    found = client.query(solidb_database, "FOR o IN orders FILTER o.n == 1001 RETURN o._key")
    assert found == ["k001"]


def test_repair_of_a_sharded_collection_uses_the_servers_shard_repair(
    client: Client, solidb_database: str
) -> None:
    response = client.run(ops.http(ops.HttpRequest(
        "POST", f"/_api/database/{solidb_database}/collection",
        {"name": "sharded", "numShards": 1})))
    assert response.status == 200, response.body
    docs = [{"_key": f"s{i}", "n": i} for i in range(20)]
    assert client.bulk_insert(solidb_database, "sharded", docs) == 20
    before = content(everything(client, solidb_database, "sharded"))

    report = client.collections_mgmt.repair("sharded")
    assert report["status"] == "repaired"
    assert "0 errors" in report["report"]
    assert content(everything(client, solidb_database, "sharded")) == before


def test_bad_input_is_refused_before_the_server(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.collections_mgmt.export("users", format="csv")
    with pytest.raises(exc.ValidationError):
        client.collections_mgmt.import_data("users", "not json")
    with pytest.raises(exc.ValidationError):
        client.collections_mgmt.import_data("users", [1, 2])  # type: ignore[list-item]
    with pytest.raises(exc.ValidationError):
        client.collections_mgmt.set_schema("users", USER_SCHEMA, validation_mode="loose")


def test_collections_mgmt_needs_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.collections_mgmt.stats("users")
