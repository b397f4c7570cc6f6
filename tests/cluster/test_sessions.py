"""Sessions on a cluster: one node for the whole unit of work, all or nothing when it dies."""

from __future__ import annotations

from typing import Any

import pytest

from solidb_odm import Document
from solidb_odm import exceptions as exc
from solidb_odm.client.failover import TransactionLostError
from solidb_odm.database import Database
from solidb_odm.session import Session
from solidb_odm.testing import SoliDBCluster

from ..modes import Mode
from .conftest import call, open_client

pytestmark = pytest.mark.solidb_cluster


class Note(Document):
    text: str

    class Meta:
        collection = "docs"


async def test_a_session_reads_its_own_writes_even_with_round_robin(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    client = await open_client(mode, cluster, strategy="round_robin")
    db = Database(client, cluster_db)
    try:
        async with mode.session(db) as session:
            note = Note(text="mine")
            session.add(note)
            await mode(session, "flush")
            for _ in range(6):  # round-robin would spread these; the session does not
                found = await mode(session, "get", Note, note.key)
                assert found is not None and found.text == "mine"
            rows = await mode.list(session.query(Note).filter(text="mine"))
            assert [r.key for r in rows] == [note.key]
    finally:
        await call(client, "close")


async def test_a_session_whose_node_dies_fails_all_or_nothing(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    client = await open_client(mode, cluster, timeout=2.0)
    db = Database(client, cluster_db)
    try:
        with pytest.raises(TransactionLostError, match="rolled it back"):
            async with mode.session(db) as session:
                session.add(Note(key="lost1", text="flushed before the crash"))
                await mode(session, "flush")
                cluster.kill(0)
                session.add(Note(key="lost2", text="after it"))
                await mode(session, "flush")
        assert client.nodes[0].state == "down"
        cluster.restart(0)
        for index in range(3):
            with cluster.client(index) as node:
                for key in ("lost1", "lost2"):
                    with pytest.raises(exc.NotFoundError):
                        node.get(cluster_db, "docs", key)
    finally:
        await call(client, "close")


async def test_run_in_session_runs_it_again_on_another_node(
    mode: Mode, cluster: SoliDBCluster, cluster_db: str
) -> None:
    client = await open_client(mode, cluster, timeout=2.0)
    db = Database(client, cluster_db)
    attempts: list[int] = []
    key = "retried"

    def plan(session: Session) -> str:
        attempts.append(1)
        session.add(Note(key=key, text=f"attempt {len(attempts)}"))
        if len(attempts) == 1:
            cluster.kill(0)  # the first attempt's node dies before its commit
        return f"done after {len(attempts)}"

    async def aplan(session: Session) -> str:
        return plan(session)

    async def run(database: Database, retries: int) -> Any:
        if mode.is_async:
            return await database.arun_in_session(aplan, retries=retries)
        return database.run_in_session(plan, retries=retries)

    try:
        assert await run(db, 2) == "done after 2"
        stored = await call(client, "get", cluster_db, "docs", "retried")
        assert stored["text"] == "attempt 2"
    finally:
        await call(client, "close")
    cluster.restart(0)
    client = await open_client(mode, cluster, timeout=2.0)
    try:
        attempts.clear()
        key = "not-retried"
        with pytest.raises(TransactionLostError):  # retries=0: the loss is the caller's
            await run(Database(client, cluster_db), 0)
        assert len(attempts) == 1
    finally:
        await call(client, "close")
