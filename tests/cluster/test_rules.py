"""The failover rules, host lists and URLs: pure functions, no server needed."""

from __future__ import annotations

import time

import pytest

from solidb_odm import exceptions as exc
from solidb_odm.client import failover
from solidb_odm.client.hosts import HostSet, parse_host, parse_hosts
from solidb_odm.database import parse_url


def test_host_specs() -> None:
    assert parse_host("h:1") == ("h", 1)
    assert parse_host("h") == ("h", 6745)
    assert parse_host("[::1]:7") == ("::1", 7)
    assert parse_host(("h", 2)) == ("h", 2)
    assert parse_hosts(["a:1", "a:1", ("b", 2)]) == [("a", 1), ("b", 2)]
    for bad in ("", "h:x", ("h", "1"), ("h", True), "h:0", 5):
        with pytest.raises(exc.ValidationError):
            parse_host(bad)  # type: ignore[arg-type]
    with pytest.raises(exc.ValidationError):
        parse_hosts([])


def test_urls_with_several_hosts() -> None:
    options = parse_url("solidb://u:p%40w@h1:1,h2:2,h3:3/db?strategy=round_robin&discover=true")
    assert options["hosts"] == [("h1", 1), ("h2", 2), ("h3", 3)]
    assert (options["host"], options["port"]) == ("h1", 1)
    assert options["password"] == "p@w" and options["database"] == "db"
    assert options["strategy"] == "round_robin" and options["discover"] is True
    single = parse_url("solidb://u:p@h1:1/db?timeout=5")
    assert "hosts" not in single and single["timeout"] == 5.0
    assert parse_url("solidb://h1:1/db?discover=1")["hosts"] == [("h1", 1)]
    with pytest.raises(exc.ValidationError):
        parse_url("solidb://h1:1/db?nope=1")


@pytest.mark.parametrize(("message", "retry", "expected"), [
    ({"cmd": "get"}, True, failover.READ),
    ({"cmd": "query", "sdbql": "FOR d IN docs RETURN d"}, False, failover.READ),
    ({"cmd": "query", "sdbql": "FOR d IN docs REMOVE d IN docs"}, False, failover.NEVER),
    ({"cmd": "query", "sdbql": "for d in docs update d with {} in docs"}, False, failover.NEVER),
    ({"cmd": "query", "sdbql": "RETURN 'insert'"}, False, failover.NEVER),  # a doubt is a write
    ({"cmd": "insert", "key": "k", "document": {}}, False, failover.KEYED_INSERT),
    ({"cmd": "insert", "document": {"_key": "k"}}, False, failover.KEYED_INSERT),
    ({"cmd": "insert", "document": {"a": 1}}, False, failover.NEVER),
    ({"cmd": "update", "key": "k", "document": {}}, False, failover.NEVER),
    ({"cmd": "delete", "key": "k"}, False, failover.NEVER),
    ({"cmd": "bulk_insert", "documents": [{"_key": "k"}]}, False, failover.NEVER),
    ({"cmd": "batch", "commands": [{"cmd": "query", "sdbql": "RETURN 1"}]}, False, failover.READ),
    ({"cmd": "batch", "commands": [{"cmd": "delete"}]}, False, failover.NEVER),
])
def test_what_may_go_to_another_node(message: dict[str, object], retry: bool,
                                     expected: str) -> None:
    assert failover.plan(message, retry) == expected


def test_a_stored_document_is_ours_when_only_server_fields_differ() -> None:
    sent = {"a": 1, "tags": ("x",), "nested": {"b": [1, 2]}}
    stored = {"_key": "k", "_id": "db:c/k", "_rev": "r", "_created_at": "t", "_updated_at": "t",
              "a": 1, "tags": ["x"], "nested": {"b": [1, 2]}}
    assert failover.same_document(sent, "k", stored)
    assert not failover.same_document(sent, "k", {**stored, "a": 2})
    assert not failover.same_document(sent, "k", {**stored, "extra": 1})
    assert not failover.same_document(sent, "other", stored)


def test_key_taken_tells_a_key_from_a_unique_index() -> None:
    assert failover.key_taken(exc.UniqueViolationError(
        "a document with key 'k' exists already",
        server_message="Conflict: Document with _key 'k' already exists"))
    assert not failover.key_taken(exc.UniqueViolationError(
        "x", server_message="Unique constraint violated: fields '[\"e\"]' with value [..]"))


def test_fallback_is_sticky_and_down_nodes_come_last() -> None:
    hosts = HostSet([("a", 1), ("b", 2), ("c", 3)], backoff=0.01, max_backoff=0.02)
    a, b, c = hosts.nodes
    assert list(hosts.candidates(True)) == [a, b, c]
    hosts.failed(a, exc.ConnectionError("refused"))
    assert hosts.primary is b and list(hosts.candidates(False)) == [b, c, a]
    hosts.answered(a)  # a answers again: b keeps the traffic
    assert hosts.primary is b and list(hosts.candidates(False)) == [b, c, a]
    hosts.failed(b, exc.ConnectionError("refused"))
    hosts.failed(c, exc.ConnectionError("refused"))
    assert hosts.primary is a
    time.sleep(0.03)
    assert {n.address for n in hosts.due_for_probe()} == {("b", 2), ("c", 3)}
    health = {h.port: h for h in hosts.health()}
    assert health[2].state == "down" and health[2].failovers == 1


def test_round_robin_rotates_reads_and_waits_for_a_rejoined_node() -> None:
    hosts = HostSet([("a", 1), ("b", 2), ("c", 3)], strategy="round_robin", rejoin_delay=60)
    firsts = [hosts.candidates(True)[0].port for _ in range(6)]
    assert sorted(firsts) == [1, 1, 2, 2, 3, 3]
    assert {hosts.candidates(False)[0].port for _ in range(3)} == {1}  # writes stay put
    a = hosts.nodes[0]
    hosts.failed(a, exc.ConnectionError("refused"))
    hosts.answered(a, probe=True)  # back, but maybe still catching up
    assert {hosts.candidates(True)[0].port for _ in range(6)} == {2, 3}
    with pytest.raises(exc.ValidationError):
        HostSet([("a", 1)], strategy="random")
