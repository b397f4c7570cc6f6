"""The query log (``solidb_odm.querylog``) against a real server, blocking and asyncio."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from typing import Any, Iterator

import pytest

from solidb_odm import AsyncClient, Client, events
from solidb_odm import exceptions as exc
from solidb_odm.database import Database
from solidb_odm.querylog import (
    LOGGER_NAME,
    QueryLog,
    disable_query_log,
    enable_query_log,
    query_log,
)

from ..models.models import User
from ..modes import Mode

SECRET = "s3cr3t-value-7f1c"


class Records(logging.Handler):
    """Every record the query logger emits, kept."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def operations(self) -> list[str]:
        return [r.solidb["operation"] for r in self.records]  # type: ignore[attr-defined]

    def of(self, operation: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.solidb["operation"] == operation]  # type: ignore[attr-defined]

    def clear(self) -> None:
        self.records.clear()


@pytest.fixture
def records() -> Iterator[Records]:
    logger = logging.getLogger(LOGGER_NAME)
    handler = Records()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        disable_query_log()


@pytest.fixture
def users(odm_db: Database) -> Database:
    odm_db.client.create_collection(odm_db.name, "users")
    # Load the trigger list now, so the records below are the test's requests alone.
    odm_db.client.use_database(odm_db.name).triggers.watched_collections()
    return odm_db


async def call(client: Client | AsyncClient, method: str, *args: Any, **kwargs: Any) -> Any:
    """``client.method(...)``, awaited for the asyncio client."""
    result = getattr(client, method)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def node_of(db: Database) -> str:
    return f"{db.client.host}:{db.client.port}"


async def test_one_record_per_request_with_its_fields(mode: Mode, users: Database,
                                                      records: Records) -> None:
    client, db = mode.client(users), users.name
    with query_log():
        doc = await call(client, "insert", db, "users", {"name": SECRET, "age": 30})
        await call(client, "get", db, "users", doc["_key"])
        rows = await call(client, "query", db,
                          "FOR u IN users FILTER u.age >= @min_age AND u.name == @name RETURN u",
                          {"min_age": 18.25, "name": SECRET})
        assert len(rows) == 1
        await call(client, "batch", [
            {"cmd": "get", "database": db, "collection": "users", "key": doc["_key"]},
            {"cmd": "insert", "database": db, "collection": "users", "document": {"age": 1}},
        ])
        tx_id = await call(client, "begin_transaction", db)
        await call(client, "insert", db, "users", {"age": 2})
        await call(client, "commit_transaction", tx_id)
    assert records.operations == ["insert", "get", "query", "batch", "begin_transaction",
                                  "insert", "commit_transaction"]
    for record in records.records:
        fields = record.solidb  # type: ignore[attr-defined]
        assert record.name == LOGGER_NAME and record.levelno == logging.DEBUG
        assert fields["node"] == node_of(users)
        assert fields["duration"] > 0 and fields["error_type"] is None and not fields["slow"]
        assert "bind_vars" not in fields
        assert SECRET not in record.getMessage() and SECRET not in repr(record.__dict__)

    get = records.of("get")[0]
    assert get.solidb["database"] == db and get.solidb["collection"] == "users"  # type: ignore[attr-defined]
    assert get.getMessage().startswith(f"get {db}.users ")

    query = records.of("query")[0]
    fields = query.solidb  # type: ignore[attr-defined]
    assert fields["statement"] == ("FOR u IN users FILTER u.age >= @min_age AND u.name == @name "
                                   "RETURN u")
    assert fields["bind_names"] == ["min_age", "name"]
    assert fields["rows"] == 1 and fields["tx_id"] is None
    message = query.getMessage()
    assert message.startswith(f"query {db} ") and " ms 1 row: FOR u IN users" in message
    assert "18.25" not in message  # values never appear

    assert records.of("batch")[0].solidb["batch"] == ["get", "insert"]  # type: ignore[attr-defined]

    in_tx = [r.solidb for r in records.records[4:]]  # type: ignore[attr-defined]
    assert [f["tx_id"] for f in in_tx] == [tx_id, tx_id, tx_id]
    assert f"tx={tx_id}" in records.records[5].getMessage()


async def test_bind_values_appear_only_when_asked_for(mode: Mode, users: Database,
                                                      records: Records) -> None:
    client, db = mode.client(users), users.name
    sdbql = "FOR u IN users FILTER u.name == @name RETURN u"
    with query_log():
        await call(client, "query", db, sdbql, {"name": SECRET})
    (plain,) = records.records
    assert SECRET not in plain.getMessage() and "bind_vars" not in plain.solidb  # type: ignore[attr-defined]
    assert plain.solidb["bind_names"] == ["name"]  # type: ignore[attr-defined]

    records.clear()
    with query_log(include_bind_values=True):
        await call(client, "query", db, sdbql, {"name": SECRET})
    (shown,) = records.records
    assert shown.solidb["bind_vars"] == {"name": SECRET}  # type: ignore[attr-defined]
    assert shown.solidb["statement"] == sdbql  # type: ignore[attr-defined]
    assert shown.getMessage().endswith(f"{sdbql} with @name={SECRET!r}")


async def test_slow_requests_are_warnings(mode: Mode, users: Database, records: Records) -> None:
    client, db = mode.client(users), users.name
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # production: only the slow ones
    with query_log(slow_threshold=3600):
        await call(client, "query", db, "RETURN 1")
    assert records.records == []

    with query_log(slow_threshold=0):  # every request takes 0 s or more
        await call(client, "query", db, "RETURN 1")
    (slow,) = records.records
    assert slow.levelno == logging.WARNING and slow.solidb["slow"] is True  # type: ignore[attr-defined]
    assert " SLOW" in slow.getMessage()


async def test_failed_requests_carry_the_error_type(mode: Mode, users: Database,
                                                    records: Records) -> None:
    client, db = mode.client(users), users.name
    with query_log():
        with pytest.raises(exc.NotFoundError):
            await call(client, "get", db, "users", "missing")
        with pytest.raises(exc.SoliDBError):
            await call(client, "query", db, "FOR u IN users RETURN u.")
    missing, broken = records.records
    assert missing.levelno == logging.INFO
    assert missing.solidb["error_type"] == "NotFoundError"  # type: ignore[attr-defined]
    assert missing.solidb["error"]  # type: ignore[attr-defined]
    assert "failed NotFoundError: " in missing.getMessage()
    assert broken.levelno == logging.INFO and broken.solidb["error_type"]  # type: ignore[attr-defined]

    records.clear()
    with query_log(error_level=logging.ERROR), pytest.raises(exc.NotFoundError):
        await call(client, "get", db, "users", "missing")
    assert [r.levelno for r in records.records] == [logging.ERROR]


async def test_a_sessions_writes_carry_its_transaction(mode: Mode, odm_db: Database,
                                                       records: Records) -> None:
    odm_db.register(User)
    odm_db.sync()
    odm_db.client.use_database(odm_db.name).triggers.watched_collections()  # no lookup below
    with query_log():
        async with mode.session(odm_db) as session:
            session.add(User(name="a", email="a@x", key="a"))
    begin = records.of("begin_transaction")
    assert len(begin) == 1
    tx_id = begin[0].solidb["tx_id"]  # type: ignore[attr-defined]
    assert tx_id
    after = records.records[records.records.index(begin[0]):]
    assert [r.solidb["operation"] for r in after] == ["begin_transaction", "batch",  # type: ignore[attr-defined]
                                                      "commit_transaction"]
    assert {r.solidb["tx_id"] for r in after} == {tx_id}  # type: ignore[attr-defined]


async def test_a_scoped_log_sees_only_its_own_task(users: Database, records: Records) -> None:
    client, db = users.aclient, users.name
    both_running = asyncio.Barrier(2)

    async def work(tag: str, logged: bool) -> None:
        async def queries() -> None:
            await both_running.wait()
            for i in range(5):
                await client.query(db, f"RETURN '{tag}-{i}'")
                await asyncio.sleep(0)

        if logged:
            with query_log():
                await queries()
        else:
            await queries()

    await asyncio.gather(work("inside", True), work("outside", False))
    statements = [r.solidb["statement"] for r in records.records]  # type: ignore[attr-defined]
    assert statements == [f"RETURN 'inside-{i}'" for i in range(5)]


def test_a_scoped_log_sees_only_its_own_thread(users: Database, records: Records) -> None:
    client, db = users.client, users.name
    both_running = threading.Barrier(2)

    def work(tag: str) -> None:
        both_running.wait()
        for i in range(5):
            client.query(db, f"RETURN '{tag}-{i}'")

    other = threading.Thread(target=work, args=("outside",))
    other.start()
    with query_log():
        work("inside")
    other.join()
    statements = [r.solidb["statement"] for r in records.records]  # type: ignore[attr-defined]
    assert statements == [f"RETURN 'inside-{i}'" for i in range(5)]


def test_the_process_wide_log_sees_every_thread_once(users: Database, records: Records) -> None:
    client, db = users.client, users.name
    enable_query_log()
    enable_query_log()  # replaces the first: still one record per request
    thread = threading.Thread(target=client.query, args=(db, "RETURN 'thread'"))
    thread.start()
    thread.join()
    client.query(db, "RETURN 'main'")
    statements = sorted(r.solidb["statement"] for r in records.records)  # type: ignore[attr-defined]
    assert statements == ["RETURN 'main'", "RETURN 'thread'"]


async def test_off_means_no_records_and_no_observer(mode: Mode, users: Database,
                                                    records: Records) -> None:
    client, db = mode.client(users), users.name
    enable_query_log()
    disable_query_log()
    disable_query_log()  # twice is fine
    with query_log():
        pass
    await call(client, "query", db, "RETURN 1")
    assert records.records == []
    assert not events.active and events.observers() == ()


async def test_nothing_is_built_while_the_logger_is_off(monkeypatch: pytest.MonkeyPatch,
                                                        mode: Mode, users: Database,
                                                        records: Records) -> None:
    built: list[str] = []
    original = QueryLog.fields

    def fields(self: QueryLog, event: events.RequestEvent) -> dict[str, Any]:
        built.append(event.operation)
        return original(self, event)

    monkeypatch.setattr(QueryLog, "fields", fields)
    client, db = mode.client(users), users.name
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    with query_log():  # DEBUG records, INFO logger
        await call(client, "query", db, "RETURN 1")
    assert built == [] and records.records == []

    with query_log(level=logging.INFO):
        await call(client, "query", db, "RETURN 1")
    assert built == ["query"] and len(records.records) == 1


def test_another_logger_can_be_given(users: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.sql")
    with query_log(logger="app.sql") as log:
        users.client.query(users.name, "RETURN 1")
    assert log.logger.name == "app.sql"
    assert [r.name for r in caplog.records] == ["app.sql"]
    with pytest.raises(ValueError):
        QueryLog(slow_threshold=-1)
