"""What the real server does with a commit sent in the same frame as the staged writes.

A session's commit costs three round trips (begin, one frame with the staged
writes and the revision check, commit). Sending the commit inside the batch
would save one, but these tests show why the session does not: the server
commits the staged items that succeeded even when another item of the same
batch failed, so only a commit sent after reading every answer is atomic.
"""

from __future__ import annotations

from typing import Any, Dict, List

from solidb_odm import exceptions as exc
from solidb_odm import protocol
from solidb_odm.testing import SoliDBServer


def _rows(client: Any, db: str) -> List[List[Any]]:
    return list(client.query(db, "FOR d IN c SORT d._key RETURN [d._key, d.n]"))


def _update(db: str, key: str, n: int) -> Dict[str, Any]:
    return protocol.command("update", database=db, collection="c", key=key,
                            document={"n": n}, merge=True)


def test_commit_inside_the_batch_commits_what_succeeded(solidb_server: SoliDBServer,
                                                        solidb_database: str) -> None:
    db = solidb_database
    reader = solidb_server.client(db)
    reader.create_collection(db, "c")
    reader.insert(db, "c", {"_key": "a", "n": 0})
    writer = solidb_server.client(db)
    try:
        tx_id = writer.begin_transaction(db)
        replies = writer.batch(
            [_update(db, "a", 1), _update(db, "missing", 1),
             protocol.command("commit_transaction", tx_id=tx_id)],
            tx_id=tx_id,
        )
        assert isinstance(replies[0], protocol.Reply)
        assert isinstance(replies[1], exc.NotFoundError)
        assert isinstance(replies[2], protocol.Reply)  # the commit went through regardless
        assert _rows(reader, db) == [["a", 1]]  # ... with the update that succeeded: not atomic
    finally:
        writer.close()
        reader.close()


def test_commit_inside_the_batch_is_atomic_only_for_commit_time_conflicts(
        solidb_server: SoliDBServer, solidb_database: str) -> None:
    db = solidb_database
    reader = solidb_server.client(db)
    reader.create_collection(db, "c")
    reader.insert(db, "c", {"_key": "a", "n": 0})
    reader.insert(db, "c", {"_key": "b", "n": 0})
    writer = solidb_server.client(db)
    try:
        tx_id = writer.begin_transaction(db)
        replies = writer.batch(
            [_update(db, "a", 1),
             protocol.command("insert", database=db, collection="c", document={"_key": "b"}),
             protocol.command("commit_transaction", tx_id=tx_id)],
            tx_id=tx_id,
        )
        # a staged insert of an existing key is only refused by the commit, which then
        # applies nothing
        assert isinstance(replies[2], exc.AlreadyExistsError)
        assert _rows(reader, db) == [["a", 0], ["b", 0]]
    finally:
        writer.close()
        reader.close()


def test_begin_inside_a_batch_answers_the_id_but_plain_writes_after_it_are_not_staged(
        solidb_server: SoliDBServer, solidb_database: str) -> None:
    db = solidb_database
    reader = solidb_server.client(db)
    reader.create_collection(db, "c")
    reader.insert(db, "c", {"_key": "a", "n": 0})
    writer = solidb_server.client(db)
    try:
        begun, updated = writer.batch(
            [protocol.command("begin_transaction", database=db), _update(db, "a", 1)])
        assert isinstance(begun, protocol.Reply) and str(begun.tx_id).startswith("tx:")
        assert isinstance(updated, protocol.Reply)
        assert _rows(reader, db) == [["a", 1]]  # visible at once: written outside the transaction
    finally:
        writer.close()
        reader.close()
