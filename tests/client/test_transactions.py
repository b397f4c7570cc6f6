"""ACID transactions against the real server, as the SDK reference shows them.

A transaction lives on one server connection; the client pins that
connection and routes this thread's document writes into it.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

from solidb_odm import Client, protocol
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer


def count(client: Client, db: str, col: str) -> int:
    """The documents really stored (``collection_stats``' counter can lag concurrent inserts)."""
    return int(client.query(db, f"RETURN LENGTH(FOR d IN `{col}` RETURN d._key)")[0])


def test_reference_example_rollback_discards_writes(
    solidb_client: Client, db: str, col: str
) -> None:
    tx_id = solidb_client.begin_transaction(db, isolation="read_committed")
    assert isinstance(tx_id, str) and tx_id.startswith("tx:")
    solidb_client.insert(db, col, {"id": 1, "balance": 1000})
    solidb_client.insert(db, col, {"id": 2, "balance": 500})
    assert solidb_client.rollback_transaction(tx_id) is None
    assert solidb_client.list(db, col) == []
    assert solidb_client.in_transaction() is None


def test_reference_example_commit_makes_writes_visible(
    solidb_client: Client, db: str, col: str
) -> None:
    tx_id = solidb_client.begin_transaction(db)
    staged = solidb_client.insert(db, col, {"id": 1, "balance": 1000}, key="acc1")
    assert staged["_key"] == "acc1" and staged["balance"] == 1000
    solidb_client.insert(db, col, {"id": 2, "balance": 500}, key="acc2")
    assert solidb_client.commit_transaction(tx_id) is None
    assert sorted(d["_key"] for d in solidb_client.list(db, col)) == ["acc1", "acc2"]
    assert solidb_client.get(db, col, "acc1")["balance"] == 1000


def test_staged_writes_are_invisible_to_other_clients_until_commit(
    solidb_client: Client, solidb_server: SoliDBServer, db: str, col: str
) -> None:
    solidb_client.insert(db, col, {"balance": 100}, key="acc")
    other = solidb_server.client()
    try:
        tx_id = solidb_client.begin_transaction(db)
        solidb_client.insert(db, col, {"balance": 1}, key="new")
        solidb_client.update(db, col, "acc", {"balance": 50})
        with pytest.raises(exc.NotFoundError):
            other.get(db, col, "new")
        assert other.get(db, col, "acc")["balance"] == 100
        assert count(other, db, col) == 1
        solidb_client.commit_transaction(tx_id)
        assert other.get(db, col, "new")["balance"] == 1
        assert other.get(db, col, "acc")["balance"] == 50
    finally:
        other.close()


def test_reads_inside_a_transaction_see_committed_data_only(
    solidb_client: Client, db: str, col: str
) -> None:
    """get and read-only queries run against committed data, not staged writes."""
    tx_id = solidb_client.begin_transaction(db)
    try:
        solidb_client.insert(db, col, {"v": 1}, key="staged")
        with pytest.raises(exc.NotFoundError):
            solidb_client.get(db, col, "staged")
        assert solidb_client.query(db, f"FOR d IN {col} RETURN d._key") == []
    finally:
        solidb_client.rollback_transaction(tx_id)


def test_delete_inside_a_transaction_is_staged(
    solidb_client: Client, db: str, col: str
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="keep")
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.delete(db, col, "keep")
    assert solidb_client.get(db, col, "keep")["v"] == 1
    solidb_client.rollback_transaction(tx_id)
    assert solidb_client.get(db, col, "keep")["v"] == 1

    tx_id = solidb_client.begin_transaction(db)
    solidb_client.delete(db, col, "keep")
    solidb_client.commit_transaction(tx_id)
    with pytest.raises(exc.NotFoundError):
        solidb_client.get(db, col, "keep")


def test_update_inside_a_transaction_merges(solidb_client: Client, db: str, col: str) -> None:
    solidb_client.insert(db, col, {"name": "Bob", "age": 25}, key="u")
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.update(db, col, "u", {"age": 26})
    solidb_client.commit_transaction(tx_id)
    got = solidb_client.get(db, col, "u")
    assert got["name"] == "Bob" and got["age"] == 26


def test_update_merge_false_inside_a_transaction_replaces(
    solidb_client: Client, db: str, col: str
) -> None:
    """The server's staged update always merges; the client still replaces."""
    solidb_client.insert(db, col, {"name": "Bob", "age": 25}, key="r")
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.update(db, col, "r", {"name": "Robert"}, merge=False)
    assert solidb_client.get(db, col, "r")["age"] == 25  # still staged
    solidb_client.commit_transaction(tx_id)
    got = solidb_client.get(db, col, "r")
    assert got["name"] == "Robert" and "age" not in got


def test_server_staged_update_ignores_merge_false(
    solidb_client: Client, db: str, col: str
) -> None:
    """Server fact: ``update`` staged in a transaction merges even with merge=false."""
    solidb_client.insert(db, col, {"name": "Bob", "age": 25}, key="m")
    tx_id = solidb_client.begin_transaction(db)
    inner = protocol.command(
        "update", database=db, collection=col, key="m", document={"name": "Robert"}, merge=False
    )
    solidb_client.command("transaction_command", tx_id=tx_id, command=inner)
    solidb_client.commit_transaction(tx_id)
    got = solidb_client.get(db, col, "m")
    assert got["name"] == "Robert" and got["age"] == 25


def test_insert_of_an_existing_key_fails_the_whole_commit(
    solidb_client: Client, db: str, col: str
) -> None:
    """Server fact: a staged insert of an existing key is accepted, then the commit fails."""
    solidb_client.insert(db, col, {"v": 0}, key="taken")
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.insert(db, col, {"v": 1}, key="fresh")
    solidb_client.insert(db, col, {"v": 1}, key="taken")  # staged without complaint
    # "Transaction conflict: Document 'taken' already exists in ...": the key
    # clash decides the class, as for a plain insert.
    with pytest.raises(exc.AlreadyExistsError, match="Transaction conflict"):
        solidb_client.commit_transaction(tx_id)
    assert [d["_key"] for d in solidb_client.list(db, col)] == ["taken"]
    assert solidb_client.get(db, col, "taken")["v"] == 0
    assert solidb_client.in_transaction() is None


def test_commit_fails_when_a_staged_document_changed_meanwhile(
    solidb_client: Client, solidb_server: SoliDBServer, db: str, col: str
) -> None:
    """Optimistic concurrency: the commit checks staged updates against the store."""
    solidb_client.insert(db, col, {"v": 0}, key="acc")
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.update(db, col, "acc", {"v": 1})
    other = solidb_server.client()
    try:
        other.update(db, col, "acc", {"v": 99})
    finally:
        other.close()
    with pytest.raises(exc.ConflictError):
        solidb_client.commit_transaction(tx_id)
    assert solidb_client.get(db, col, "acc")["v"] == 99


def test_staged_update_of_a_missing_document_is_not_found(
    solidb_client: Client, db: str, col: str
) -> None:
    tx_id = solidb_client.begin_transaction(db)
    try:
        with pytest.raises(exc.NotFoundError):
            solidb_client.update(db, col, "missing", {"v": 1})
        with pytest.raises(exc.NotFoundError):
            solidb_client.delete(db, col, "missing")
    finally:
        solidb_client.rollback_transaction(tx_id)


def test_mutating_query_inside_a_transaction_is_refused(
    solidb_client: Client, db: str, col: str
) -> None:
    tx_id = solidb_client.begin_transaction(db)
    try:
        with pytest.raises(exc.TransactionError, match="query that writes"):
            solidb_client.query(db, f"INSERT {{v: 1}} INTO {col}")
    finally:
        solidb_client.rollback_transaction(tx_id)
    assert solidb_client.list(db, col) == []


def test_only_document_writes_and_reads_can_be_staged(
    solidb_client: Client, db: str, col: str
) -> None:
    """Server fact: ``get`` (and anything else) wrapped in a transaction is refused."""
    tx_id = solidb_client.begin_transaction(db)
    try:
        inner = protocol.command("get", database=db, collection=col, key="k")
        with pytest.raises(exc.TransactionError, match="only Insert, Update, Delete"):
            solidb_client.command("transaction_command", tx_id=tx_id, command=inner)
    finally:
        solidb_client.rollback_transaction(tx_id)


def test_unknown_transaction_id_raises_transaction_error(solidb_client: Client) -> None:
    with pytest.raises(exc.TransactionError):
        solidb_client.commit_transaction("tx:0")
    with pytest.raises(exc.TransactionError):
        solidb_client.rollback_transaction("tx:0")
    # The server says the same when asked directly.
    with pytest.raises(exc.TransactionError, match="Transaction not found"):
        solidb_client.command("commit_transaction", tx_id="tx:0")
    with pytest.raises(exc.TransactionError, match="Transaction not found"):
        solidb_client.command("rollback_transaction", tx_id="tx:0")


def test_a_finished_transaction_cannot_be_finished_again(
    solidb_client: Client, db: str
) -> None:
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.commit_transaction(tx_id)
    with pytest.raises(exc.TransactionError):
        solidb_client.commit_transaction(tx_id)
    with pytest.raises(exc.TransactionError):
        solidb_client.rollback_transaction(tx_id)


def test_transaction_ids_are_bound_to_their_connection(
    solidb_client: Client, solidb_server: SoliDBServer, db: str
) -> None:
    """Server fact: a tx id is only known on the connection that began it."""
    tx_id = solidb_client.begin_transaction(db)
    other = solidb_server.client()
    try:
        with pytest.raises(exc.TransactionError, match="Transaction not found"):
            other.command("commit_transaction", tx_id=tx_id)
    finally:
        other.close()
        solidb_client.rollback_transaction(tx_id)


@pytest.mark.parametrize(
    "isolation", ["read_uncommitted", "read_committed", "repeatable_read", "serializable"]
)
def test_isolation_levels_of_the_reference_are_accepted(
    solidb_client: Client, db: str, col: str, isolation: str
) -> None:
    tx_id = solidb_client.begin_transaction(db, isolation=isolation)
    solidb_client.insert(db, col, {"iso": isolation})
    solidb_client.commit_transaction(tx_id)
    assert solidb_client.list(db, col)[0]["iso"] == isolation


def test_isolation_level_keyword_of_the_official_sdk(solidb_client: Client, db: str) -> None:
    tx_id = solidb_client.begin_transaction(db, isolation_level="serializable")
    solidb_client.rollback_transaction(tx_id)


def test_unknown_isolation_level_is_refused(solidb_client: Client, db: str) -> None:
    with pytest.raises(exc.ValidationError):
        solidb_client.begin_transaction(db, isolation="chaos")


def test_server_refuses_read_uncommitted_by_name(solidb_client: Client, db: str) -> None:
    """Server fact: the wire only knows three levels; the client maps the fourth."""
    with pytest.raises(exc.ProtocolError, match="Deserialization"):
        solidb_client.command("begin_transaction", database=db, isolation_level="read_uncommitted")


def test_begin_on_missing_database_raises_not_found(solidb_client: Client) -> None:
    with pytest.raises(exc.NotFoundError):
        solidb_client.begin_transaction("no_such_db_here")


def test_unique_violation_inside_a_transaction(solidb_client: Client, db: str, col: str) -> None:
    solidb_client.create_index(db, col, "u", ["email"], unique=True)
    solidb_client.insert(db, col, {"email": "taken"})
    tx_id = solidb_client.begin_transaction(db)
    try:
        # Against committed data: refused when staged.
        with pytest.raises(exc.UniqueViolationError):
            solidb_client.insert(db, col, {"email": "taken"})
    finally:
        solidb_client.rollback_transaction(tx_id)
    # Twice within the transaction: both staged, the commit refuses them.
    tx_id = solidb_client.begin_transaction(db)
    solidb_client.insert(db, col, {"email": "twice"})
    solidb_client.insert(db, col, {"email": "twice"})
    with pytest.raises(exc.UniqueViolationError):
        solidb_client.commit_transaction(tx_id)
    assert count(solidb_client, db, col) == 1


def test_bulk_insert_inside_a_transaction_is_staged(
    solidb_client: Client, db: str, col: str
) -> None:
    tx_id = solidb_client.begin_transaction(db)
    assert solidb_client.bulk_insert(db, col, [{"i": i} for i in range(20)]) == 20
    assert count(solidb_client, db, col) == 0
    solidb_client.rollback_transaction(tx_id)
    assert count(solidb_client, db, col) == 0


def test_transactions_are_per_thread(solidb_client: Client, db: str, col: str) -> None:
    """Another thread's writes on the same Client do not join this thread's transaction."""
    tx_id = solidb_client.begin_transaction(db)
    errors: List[BaseException] = []

    def outside() -> None:
        try:
            assert solidb_client.in_transaction() is None
            solidb_client.insert(db, col, {"who": "other thread"}, key="outside")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    worker = threading.Thread(target=outside)
    worker.start()
    worker.join()
    assert not errors
    solidb_client.insert(db, col, {"who": "tx"}, key="inside")
    solidb_client.rollback_transaction(tx_id)
    assert [d["_key"] for d in solidb_client.list(db, col)] == ["outside"]


def test_close_rolls_back_open_transactions(
    solidb_server: SoliDBServer, solidb_client: Client, db: str, col: str
) -> None:
    client = solidb_server.client()
    client.begin_transaction(db)
    client.insert(db, col, {"v": 1}, key="never")
    client.close()
    with pytest.raises(exc.NotFoundError):
        solidb_client.get(db, col, "never")


def test_nested_transactions_use_the_innermost(
    solidb_client: Client, db: str, col: str
) -> None:
    outer = solidb_client.begin_transaction(db)
    inner = solidb_client.begin_transaction(db)
    assert solidb_client.in_transaction() == inner
    solidb_client.insert(db, col, {}, key="in-inner")
    solidb_client.commit_transaction(inner)
    assert solidb_client.in_transaction() == outer
    solidb_client.insert(db, col, {}, key="in-outer")
    solidb_client.rollback_transaction(outer)
    docs: List[Dict[str, Any]] = solidb_client.list(db, col)
    assert [d["_key"] for d in docs] == ["in-inner"]
