"""The client's rules under network faults, in both modes, against the real server.

Every test body runs twice (``[sync]``: ``Client``; ``[async]``: ``AsyncClient``).
Faults come from the loopback proxy in ``proxy.py``: the requests reach the
real server and are executed; only the answers (or the pace of the requests)
are tampered with. Checks on what the server holds go to it directly, as admin.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from solidb_odm import Client, protocol
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

from .both import Driver
from .conftest import Connect
from .proxy import (
    Drip,
    Drop,
    Fault,
    FaultProxy,
    Garbage,
    HoldRequests,
    Latency,
    Link,
    Stall,
    Truncate,
    frame,
    packed_frame,
)

PASSWORD = "fault-tests-password-1"
#: How long a client may take to hang up on a connection it must not reuse.
HANG_UP = 1.0


def count(admin: Client, db: str, col: str) -> int:
    """The documents really stored (``collection_stats``' counter can lag under concurrent
    inserts: ``test_server_document_count_can_lag_concurrent_inserts``)."""
    return int(admin.query(db, f"RETURN LENGTH(FOR d IN `{col}` RETURN d._key)")[0])


async def hung_up(link: Link, timeout: float = HANG_UP) -> bool:
    """Whether the client closed its side of ``link`` within ``timeout`` seconds.

    Polls with ``asyncio.sleep``: an asyncio transport closes its socket on
    the event loop's next round, which a blocking wait would never let come.
    """
    deadline = time.monotonic() + timeout
    while not link.client_gone.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return link.client_gone.is_set()


async def warm(driver: Driver, proxy: FaultProxy) -> None:
    """One round trip, so the pool holds one authenticated connection through the proxy.

    Trigger routing is turned off: these tests time and cut the frames of one request, and a
    first write would send its trigger lookup (``list_triggers``, a request with a deadline of
    its own) through the proxy first; tests/triggers covers the lookup.
    """
    driver.client.triggers.routing(route=False)
    assert await driver.ping() >= 0
    assert proxy.accepted == 1


# ---------------------------------------------------------------------------
# 1 and 4: a slow or held answer fails at the request's deadline
# ---------------------------------------------------------------------------

LATE_ANSWERS = [
    pytest.param(Drip(0.4), id="drip-1-byte-per-0.4s"),
    pytest.param(Stall(hold=10.0), id="stall"),
]


@pytest.mark.parametrize("fault", LATE_ANSWERS)
@pytest.mark.parametrize("op", ["get", "insert"])
async def test_a_late_answer_fails_at_the_deadline_and_the_connection_is_dropped(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    fault: Fault, op: str,
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1, timeout=1.0)
    await warm(driver, proxy)
    proxy.inject(fault, on=op)
    started = time.monotonic()
    with pytest.raises(exc.TimeoutError):
        if op == "get":
            await driver.get(db, col, "k")
        else:
            await driver.insert(db, col, {"v": 2})
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 2.0, f"the 1 s deadline fired after {elapsed:.2f}s"
    assert proxy.requests[op] == 1  # a deadline is final: nothing was sent again
    assert await hung_up(proxy.links[0]), "the timed-out connection was kept"
    # The next call works, on a fresh connection.
    assert (await driver.get(db, col, "k"))["v"] == 1
    assert proxy.accepted == 2
    assert count(solidb_client, db, col) == (1 if op == "get" else 2)


async def test_latency_under_the_deadline_keeps_the_connection(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1, timeout=1.0)
    await warm(driver, proxy)
    proxy.inject(Latency(0.4), on=None, times=None)
    for _ in range(2):  # 0.8 s in all: the deadline is per request, not per connection
        assert (await driver.get(db, col, "k"))["v"] == 1
    assert proxy.accepted == 1


async def test_a_request_held_on_its_way_out_still_fails_at_the_deadline(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
) -> None:
    """The deadline counts from the call: time spent sending is part of it.

    The proxy stops reading a large request for 0.7 s, so the client's send
    blocks (the request is bigger than the kernel's buffers), then holds the answer.
    """
    driver = await connect(proxy.port, pool_size=1, timeout=1.0)
    await warm(driver, proxy)
    proxy.inject(HoldRequests(0.7))
    proxy.inject(Stall(hold=10.0), on="insert")
    started = time.monotonic()
    with pytest.raises(exc.TimeoutError):
        await driver.insert(db, col, {"blob": "x" * (14 * 1024 * 1024)})
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 1.5, f"the 1 s deadline fired after {elapsed:.2f}s"
    assert await driver.ping() >= 0
    assert proxy.accepted == 2


# ---------------------------------------------------------------------------
# 2: answers lost mid-way: reads go again once, writes never
# ---------------------------------------------------------------------------

LOST_ANSWERS = [
    pytest.param(Drop(after=0), id="reset-before-any-byte"),
    pytest.param(Drop(after=6), id="reset-mid-answer"),
    pytest.param(Truncate(keep=2), id="eof-mid-header"),
    pytest.param(Truncate(keep=1 << 30), id="eof-one-byte-short"),
]


@pytest.mark.parametrize("fault", LOST_ANSWERS)
@pytest.mark.parametrize("op", ["get", "ping"])
async def test_a_read_whose_answer_is_lost_is_retried_once_on_a_fresh_connection(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    fault: Fault, op: str,
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    before = proxy.requests[op]
    proxy.inject(fault, on=op)
    if op == "get":
        assert (await driver.get(db, col, "k"))["v"] == 1
    else:
        assert await driver.ping() >= 0
    assert proxy.requests[op] == before + 2
    assert proxy.accepted == 2
    assert [f for _, f in proxy.links[0].faults] == [fault]
    assert proxy.links[1].faults == []


@pytest.mark.parametrize("fault", LOST_ANSWERS[1:3])
async def test_a_read_is_retried_only_once(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str, fault: Fault,
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    proxy.inject(fault, on="get", times=2)
    with pytest.raises(exc.ConnectionError) as info:
        await driver.get(db, col, "k")
    assert not isinstance(info.value, exc.TimeoutError)
    assert proxy.requests["get"] == 2
    assert proxy.accepted == 2
    assert (await driver.get(db, col, "k"))["v"] == 1
    assert proxy.accepted == 3


WRITES = {
    # name: (command on the wire, what the call does)
    "insert-server-key": "insert",
    "update": "update",
    "increment-query": "query",
}


@pytest.mark.parametrize("fault", LOST_ANSWERS)
@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_whose_answer_is_lost_raises_and_is_never_sent_again(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    fault: Fault, write: str,
) -> None:
    solidb_client.insert(db, col, {"n": 0}, key="k")
    rev = solidb_client.get(db, col, "k")["_rev"]
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    cmd = WRITES[write]
    proxy.inject(fault, on=cmd)
    with pytest.raises(exc.ConnectionError) as info:
        if write == "insert-server-key":
            await driver.insert(db, col, {"new": True})  # a resend would store a second one
        elif write == "update":
            await driver.update(db, col, "k", {"n": 5})
        else:
            await driver.query(
                db, f"FOR d IN {col} FILTER d._key == 'k' UPDATE d WITH {{n: d.n + 1}} IN {col}"
            )
    assert not isinstance(info.value, exc.TimeoutError)
    assert proxy.requests[cmd] == 1, "the write was sent again"
    # The write ran on the server exactly once.
    stored = solidb_client.get(db, col, "k")
    if write == "insert-server-key":
        assert count(solidb_client, db, col) == 2
        assert len(solidb_client.query(db, f"FOR d IN {col} FILTER d.new == true RETURN d")) == 1
        assert stored["_rev"] == rev
    elif write == "update":
        assert count(solidb_client, db, col) == 1
        assert stored["n"] == 5 and stored["_rev"] != rev
    else:
        assert count(solidb_client, db, col) == 1
        assert stored["n"] == 1
    # The client carries on, on a fresh connection.
    assert (await driver.get(db, col, "k"))["_key"] == "k"
    assert proxy.accepted == 2


# ---------------------------------------------------------------------------
# 3: garbage instead of an answer
# ---------------------------------------------------------------------------

GARBAGE = [
    pytest.param(b"\xff\xff\xff\xff" + b"\x00" * 12, exc.MessageTooLargeError,
                 id="length-over-16MiB"),
    pytest.param(b"\x00\x00\x00\x00", exc.ProtocolError, id="empty-payload"),
    pytest.param(frame(b"\xc1\xc1\xc1"), exc.ProtocolError, id="not-messagepack"),
    pytest.param(frame(b"\x93\x01\x02"), exc.ProtocolError, id="messagepack-cut-short"),
    pytest.param(packed_frame([1, 2, 3]), exc.ProtocolError, id="not-a-map"),
    pytest.param(packed_frame({"data": 1}), exc.ProtocolError, id="map-without-status"),
    pytest.param(packed_frame({"status": 7}), exc.ProtocolError, id="status-not-a-string"),
    pytest.param(packed_frame({"status": "maybe"}), exc.ProtocolError, id="unknown-status"),
    pytest.param(packed_frame({"status": "error", "error": [1, 2]}), exc.ProtocolError,
                 id="error-of-unknown-shape"),
    pytest.param(packed_frame({"status": "batch", "responses": 3}), exc.ProtocolError,
                 id="batch-without-a-list"),
    pytest.param(packed_frame({"status": "ok", "data": {"v": 9}}) * 2, exc.ProtocolError,
                 id="two-answers-at-once"),
]


@pytest.mark.parametrize(("garbage", "error"), GARBAGE)
async def test_garbage_instead_of_an_answer_is_a_protocol_error_and_the_connection_goes(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    garbage: bytes, error: type[exc.SoliDBError],
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    proxy.inject(Garbage(garbage), on="get")
    with pytest.raises(error):
        await driver.get(db, col, "k")
    assert proxy.requests["get"] == 1  # a protocol error is not a dead socket: no resend
    # The proxy keeps the connection open: only the client can let go of it.
    assert await hung_up(proxy.links[0]), "the connection that spoke garbage was kept"
    assert (await driver.get(db, col, "k"))["v"] == 1
    assert proxy.accepted == 2


async def test_an_answer_nobody_asked_for_is_never_taken_for_the_next_one(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
) -> None:
    solidb_client.insert(db, col, {"v": 1}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    proxy.send_to_client(proxy.links[0], packed_frame({"status": "ok", "data": {"v": "stale"}}))
    await asyncio.sleep(0.1)  # it sits in the idle connection (async: the loop reads it)
    assert (await driver.get(db, col, "k"))["v"] == 1
    assert proxy.accepted == 2
    assert await hung_up(proxy.links[0])


# ---------------------------------------------------------------------------
# 5: switching identity under load
# ---------------------------------------------------------------------------


@pytest.fixture
def viewer(solidb_client: Client) -> Iterator[str]:
    """A user with the built-in ``viewer`` role: reads everywhere, writes nowhere."""
    name = f"viewer_{uuid.uuid4().hex[:10]}"
    solidb_client.users.create(name, PASSWORD, roles=["viewer"])
    yield name
    solidb_client.users.delete(name)


@pytest.mark.parametrize("latency", [0.0, 0.002], ids=["direct", "proxy-2ms"])
async def test_no_write_that_starts_after_auth_returns_runs_as_the_old_identity(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    viewer: str, latency: float,
) -> None:
    """16 writers on one client; the main flow switches it to a read-only user.

    A write that started after ``auth()`` returned and succeeded ran as admin:
    a defect. Writes in flight during the switch may go either way.
    """
    if latency:
        proxy.inject(Latency(latency), on="insert", times=None)
        driver = await connect(proxy.port, pool_size=4)
    else:
        driver = await connect(pool_size=4)
    stop = threading.Event()
    # (started, finished, outcome): outcome "ok" or the error's class name
    records: list[tuple[float, float, str]] = []

    async def writer(n: int) -> None:
        for i in range(20_000):  # bounded; the stop flag ends it long before
            if stop.is_set():
                return
            started = time.monotonic()
            try:
                await driver.insert(db, col, {"w": n, "i": i})
                outcome = "ok"
            except exc.SoliDBError as err:
                outcome = type(err).__name__
            records.append((started, time.monotonic(), outcome))

    crowd = driver.crowd(16, writer)
    try:
        await asyncio.sleep(0.3)  # writes flow as admin
        await driver.auth(db, viewer, PASSWORD)
        switched = time.monotonic()
        await asyncio.sleep(0.3)  # and keep coming as the viewer
    finally:
        stop.set()
        await crowd.join(timeout=30.0)
    before = [r for r in records if r[1] < switched]
    after = [r for r in records if r[0] > switched]
    assert sum(r[2] == "ok" for r in before) > 50, "too few writes before the switch"
    assert len(after) > 50, "too few writes after the switch"
    assert any(r[0] < switched < r[1] for r in records), "no write was in flight during auth()"
    late = [r for r in after if r[2] == "ok"]
    assert late == [], f"{len(late)} writes started after auth() returned and ran as admin"
    assert {r[2] for r in after} == {"PermissionDeniedError"}
    assert {r[2] for r in records} <= {"ok", "PermissionDeniedError"}
    # Every write the client saw succeed is on the server, and no other.
    assert count(solidb_client, db, col) == sum(r[2] == "ok" for r in records)
    assert driver.client.credentials is not None
    assert driver.client.credentials["username"] == viewer


# ---------------------------------------------------------------------------
# 6: NaN and infinities never leave the client
# ---------------------------------------------------------------------------

NOT_FINITE = [math.nan, math.inf, -math.inf]


def _calls(value: float) -> list[Any]:
    return [
        ("insert", lambda d, db, col: d.insert(db, col, {"x": value})),
        ("insert-nested", lambda d, db, col: d.insert(db, col, {"a": [1, {"b": (2, value)}]})),
        ("insert-with-key", lambda d, db, col: d.insert(db, col, {"x": value}, key="new")),
        ("update", lambda d, db, col: d.update(db, col, "k", {"x": value})),
        ("bulk-insert", lambda d, db, col: d.bulk_insert(db, col, [{"ok": 1}, {"x": value}])),
        ("query-bind-var", lambda d, db, col: d.query(db, "RETURN @v", {"v": value})),
        ("query-bind-var-nested", lambda d, db, col: d.query(db, "RETURN @v", {"v": {"l": [value]}})),
        ("query-insert", lambda d, db, col: d.query(db, f"INSERT {{x: @v}} INTO {col}", {"v": value})),
    ]


CALL_NAMES = [name for name, _ in _calls(0.0)]


@pytest.mark.parametrize("value", NOT_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("call", CALL_NAMES)
async def test_a_value_json_cannot_hold_is_refused_before_a_byte_is_sent(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
    value: float, call: str,
) -> None:
    solidb_client.insert(db, col, {"x": 1.5}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    sent, asked = proxy.bytes_from_client, dict(proxy.requests)
    run = dict(_calls(value))[call]
    with pytest.raises(exc.ProtocolError, match="NaN or infinity"):
        await run(driver, db, col)
    assert proxy.bytes_from_client == sent, "bytes went out"
    assert dict(proxy.requests) == asked
    assert solidb_client.query(db, f"FOR d IN {col} RETURN d.x") == [1.5]
    # The connection was not touched, so it is still the one in use.
    assert (await driver.get(db, col, "k"))["x"] == 1.5
    assert proxy.accepted == 1


@pytest.mark.parametrize("value", NOT_FINITE, ids=["nan", "inf", "-inf"])
async def test_a_replace_with_a_value_json_cannot_hold_changes_nothing(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str, value: float,
) -> None:
    solidb_client.insert(db, col, {"x": 1.5}, key="k")
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    with pytest.raises(exc.ProtocolError, match="NaN or infinity"):
        await driver.replace(db, col, "k", {"x": value})
    assert "batch" not in proxy.requests  # the delete and the insert never went out
    assert solidb_client.get(db, col, "k")["x"] == 1.5


async def test_a_bulk_insert_with_a_bad_value_far_down_stores_nothing(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
) -> None:
    """Over 8 MiB a bulk insert goes in several frames; a NaN in a later one
    must still be refused before the first frame is sent."""
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    docs: list[dict[str, Any]] = [{"i": i, "pad": "p" * (1024 * 1024)} for i in range(10)]
    docs.append({"x": math.nan})
    sent = proxy.bytes_from_client
    with pytest.raises(exc.ProtocolError, match="NaN or infinity"):
        await driver.bulk_insert(db, col, docs)
    assert count(solidb_client, db, col) == 0, "part of the batch was stored"
    assert proxy.bytes_from_client == sent


# ---------------------------------------------------------------------------
# 7: the largest document a write accepts
# ---------------------------------------------------------------------------


def blob_of(encoded: int) -> dict[str, str]:
    """``{"blob": "..."}`` whose MessagePack encoding is exactly ``encoded`` bytes."""
    overhead = protocol.encoded_size({"blob": ""}) + 4  # str32 header once the string is long
    doc = {"blob": "b" * (encoded - overhead)}
    assert protocol.encoded_size(doc) == encoded
    return doc


async def test_a_document_just_under_16_mib_is_refused_before_sending(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str,
) -> None:
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    sent = proxy.bytes_from_client
    for size in (protocol.MAX_MESSAGE_SIZE - 1024, protocol.MAX_DOCUMENT_SIZE + 1):
        with pytest.raises(exc.MessageTooLargeError, match="nothing was sent"):
            await driver.insert(db, col, blob_of(size))
    assert proxy.bytes_from_client == sent
    assert count(solidb_client, db, col) == 0
    assert proxy.accepted == 1 and await driver.ping() >= 0


@pytest.mark.parametrize("size", [protocol.MAX_DOCUMENT_SIZE - 1024 * 1024, protocol.MAX_DOCUMENT_SIZE],
                         ids=["1MiB-under-the-limit", "at-the-limit"])
async def test_a_document_under_the_write_limit_is_stored_and_reads_back(
    connect: Connect, proxy: FaultProxy, solidb_client: Client, db: str, col: str, size: int,
) -> None:
    driver = await connect(proxy.port, pool_size=1)
    await warm(driver, proxy)
    doc = blob_of(size)
    stored = await driver.insert(db, col, doc)
    assert stored["blob"] == doc["blob"]
    got = await driver.get(db, col, stored["_key"])
    assert got["blob"] == doc["blob"]
    assert count(solidb_client, db, col) == 1
    assert proxy.accepted == 1


def test_the_proxy_stops_by_itself(solidb_server: SoliDBServer) -> None:
    """The proxy's lifetime bounds it even if nobody closes it."""
    proxy = FaultProxy(solidb_server.host, solidb_server.port, lifetime=0.5)
    client = Client(proxy.host, proxy.port, pool_size=1, timeout=5.0)
    try:
        client.auth("_system", solidb_server.username, solidb_server.password)
        assert client.ping() >= 0
        deadline = time.monotonic() + 3.0
        while proxy.running_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.running_threads() == 0
        with pytest.raises(exc.ConnectionError):
            client.ping()
    finally:
        client.close()
        proxy.close()
