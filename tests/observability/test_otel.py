"""OpenTelemetry tracing (solidb_odm.contrib.otel) against the real server.

Spans go to the SDK's in-memory exporter and the duration histogram to an
in-memory metric reader; the providers are handed to ``instrument()``, so
the process-wide OTel globals are never touched. Each test that sends
requests runs in both modes (see ``tests/modes.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from solidb_odm import Document, events
from solidb_odm import exceptions as exc
from solidb_odm.contrib import otel
from solidb_odm.database import Database
from solidb_odm.testing import SoliDBServer

from ..modes import Mode

SECRET = "secret-owner-7f3a"


class Account(Document):
    owner: str
    balance: int = 0

    class Meta:
        collection = "otel_accounts"


@dataclass
class Traced:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    instrumentation: otel.Instrumentation

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def duration_points(self) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        points: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "db.client.operation.duration":
                        assert metric.unit == "s"
                        points.extend(metric.data.data_points)  # type: ignore[arg-type]
        return points


@pytest.fixture
def traced() -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentation = otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Traced(exporter, reader, tracer_provider, instrumentation)
    finally:
        otel.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


@pytest.fixture
def db(odm_db: Database) -> Database:
    odm_db.register(Account)
    odm_db.sync()
    # Load the trigger list now, so the spans below are the test's requests alone.
    odm_db.client.use_database(odm_db.name).triggers.watched_collections()
    return odm_db


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def raw_get(mode: Mode, db: Database, collection: str, key: str) -> Any:
    if mode.is_async:
        return await db.aclient.get(db.name, collection, key)
    return db.client.get(db.name, collection, key)


async def test_query_span_follows_the_database_conventions(
        mode: Mode, db: Database, traced: Traced, solidb_server: SoliDBServer) -> None:
    for i in range(3):
        await mode(Account(owner=SECRET if i < 2 else "someone", balance=i), "save")
    traced.exporter.clear()

    rows = await mode.list(Account.objects.filter(owner=SECRET, balance__gte=0))

    assert len(rows) == 2
    span = traced.one("query")  # SDBQL names no single collection on the wire
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    a = attrs(span)
    assert a["db.system.name"] == "solidb"
    assert a["db.namespace"] == db.name
    assert a["db.operation.name"] == "query"
    assert a["db.response.returned_rows"] == 2
    assert a["server.address"] == solidb_server.host
    assert a["server.port"] == solidb_server.port
    text = a["db.query.text"]
    assert "otel_accounts" in text and "@" in text
    # placeholders only: the bound values appear in no attribute at all
    assert SECRET not in text
    assert not any(SECRET in str(value) for value in a.values())
    assert "error.type" not in a


async def test_span_is_named_after_operation_and_collection(
        mode: Mode, db: Database, traced: Traced) -> None:
    account = await mode(Account(owner="x"), "save")
    await mode(Account.objects, "get", key=account.key)

    insert = traced.one("insert otel_accounts")
    assert attrs(insert)["db.collection.name"] == "otel_accounts"
    assert attrs(insert)["db.operation.name"] == "insert"
    assert insert.kind is SpanKind.CLIENT
    # the span lasts as long as the request did, ending when it was reported
    assert insert.start_time is not None and insert.end_time is not None
    assert 0 < insert.end_time - insert.start_time < 10 * 10**9


async def test_failed_request_records_error_type(
        mode: Mode, db: Database, traced: Traced) -> None:
    with pytest.raises(exc.NotFoundError):
        await raw_get(mode, db, "otel_accounts", "missing")

    span = traced.one("get otel_accounts")
    assert span.status.status_code is StatusCode.ERROR
    a = attrs(span)
    assert a["error.type"] == "NotFoundError"
    assert "db.response.returned_rows" not in a
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes is not None
    assert span.events[0].attributes["exception.type"].endswith("NotFoundError")

    failed = [p for p in traced.duration_points() if p.attributes.get("error.type") == "NotFoundError"]
    assert len(failed) == 1 and failed[0].count == 1
    assert failed[0].attributes["db.operation.name"] == "get"


async def test_duration_histogram_has_low_cardinality_points(
        mode: Mode, db: Database, traced: Traced, solidb_server: SoliDBServer) -> None:
    for i in range(3):
        await mode(Account(owner=f"o{i}"), "save")
    await mode(Account.objects.filter(owner="o1"), "count")

    points = traced.duration_points()
    inserts = [p for p in points if p.attributes.get("db.operation.name") == "insert"]
    assert len(inserts) == 1 and inserts[0].count == 3  # one series, three measurements
    assert inserts[0].sum > 0
    assert dict(inserts[0].attributes) == {
        "db.system.name": "solidb", "db.operation.name": "insert",
        "db.namespace": db.name, "db.collection.name": "otel_accounts",
        "server.address": solidb_server.host, "server.port": solidb_server.port,
    }
    assert any(p.attributes.get("db.operation.name") == "query" for p in points)
    for point in points:  # no query text, no rows, no ids in a metric's attributes
        assert not {"db.query.text", "db.response.returned_rows", "solidb.transaction.id"} & set(point.attributes)
    # the buckets the conventions advise for this histogram
    assert tuple(inserts[0].explicit_bounds) == otel.DURATION_BUCKETS


async def test_commit_span_is_the_parent_of_its_frames(
        mode: Mode, db: Database, traced: Traced) -> None:
    tracer = traced.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as outer:
        session = db.session()
        session.add(Account(owner="a"))
        session.add(Account(owner="b"))
        await mode(session, "commit")  # begins, flushes in one batch, commits
        await mode(session, "close")

    commit = traced.one(f"commit {db.name}")
    assert commit.kind is SpanKind.INTERNAL
    assert commit.parent is not None and commit.parent.span_id == outer.get_span_context().span_id
    assert attrs(commit) == {"db.system.name": "solidb", "db.namespace": db.name, "solidb.unit": "commit"}
    frames = [s for s in traced.spans() if s.parent is not None
              and s.parent.span_id == commit.context.span_id]
    assert [s.name for s in frames] == ["begin_transaction", "batch", "commit_transaction"]
    assert all(s.context.trace_id == commit.context.trace_id for s in frames)
    batch = frames[1]
    assert attrs(batch)["db.operation.batch.size"] == 2
    assert list(attrs(batch)["solidb.batch.operations"]) == ["insert", "insert"]
    tx_ids = {attrs(s)["solidb.transaction.id"] for s in frames}
    assert len(tx_ids) == 1
    # the parent encloses its frames (1 ms of slack between the two clocks used)
    assert commit.start_time is not None and commit.end_time is not None
    for frame in frames:
        assert frame.start_time is not None and frame.end_time is not None
        assert frame.start_time >= commit.start_time - 10**6
        assert frame.end_time <= commit.end_time


async def test_failed_commit_marks_its_span(mode: Mode, db: Database, traced: Traced) -> None:
    await mode(Account(owner="first", key="dup"), "save")
    session = db.session()
    session.add(Account(owner="second", key="dup"))
    with pytest.raises(exc.AlreadyExistsError):
        await mode(session, "commit")
    await mode(session, "close")

    commit = traced.one(f"commit {db.name}")
    assert commit.status.status_code is StatusCode.ERROR
    assert attrs(commit)["error.type"] in ("AlreadyExistsError", "UniqueViolationError")
    children = [s for s in traced.spans() if s.parent is not None
                and s.parent.span_id == commit.context.span_id]
    # the staged insert is accepted; the server refuses the key at commit
    assert [s.name for s in children] == ["begin_transaction", "batch", "commit_transaction"]
    refused = children[-1]
    assert refused.status.status_code is StatusCode.ERROR
    assert attrs(refused)["error.type"] == attrs(commit)["error.type"]


async def test_flush_is_a_unit_too(mode: Mode, db: Database, traced: Traced) -> None:
    async with mode.session(db) as session:
        session.add(Account(owner="f"))
        await mode(session, "flush")
    flush = traced.one(f"flush {db.name}")
    children = [s.name for s in traced.spans() if s.parent is not None
                and s.parent.span_id == flush.context.span_id]
    assert children == ["batch"]


async def test_concurrent_commits_each_parent_their_own_frames(db: Database, traced: Traced) -> None:
    """OTel's current span is a contextvar: each task's commit span stays with its task."""

    async def work(owner: str) -> None:
        session = db.session()
        session.add(Account(owner=owner))
        await asyncio.sleep(0)
        await session.acommit()
        await session.aclose()

    await asyncio.gather(*(work(f"t{i}") for i in range(4)))

    commits = traced.named(f"commit {db.name}")
    assert len(commits) == 4
    by_parent: dict[int, list[ReadableSpan]] = {}
    for span in traced.spans():
        if span.parent is not None:
            by_parent.setdefault(span.parent.span_id, []).append(span)
    for commit in commits:
        assert commit.parent is None
        frames = by_parent[commit.context.span_id]
        assert sorted(s.name for s in frames) == ["batch", "begin_transaction", "commit_transaction"]
        assert len({attrs(s)["solidb.transaction.id"] for s in frames}) == 1
    all_tx = {attrs(s)["solidb.transaction.id"] for c in commits for s in by_parent[c.context.span_id]}
    assert len(all_tx) == 4


async def test_uninstrument_stops_spans_and_metrics(mode: Mode, db: Database, traced: Traced) -> None:
    await mode(Account(owner="before"), "save")
    assert len(traced.spans()) == 1
    before = sum(p.count for p in traced.duration_points())

    otel.uninstrument()
    assert otel.instrumentation() is None
    assert events.unit("commit", database=db.name) is events.unit("flush")  # the shared no-op
    await mode(Account(owner="after"), "save")
    session = db.session()
    session.add(Account(owner="after too"))
    await mode(session, "commit")
    await mode(session, "close")

    assert len(traced.spans()) == 1
    assert sum(p.count for p in traced.duration_points()) == before


def test_instrument_again_replaces_the_first(traced: Traced) -> None:
    second = otel.instrument(tracer_provider=traced.tracer_provider)
    try:
        assert otel.instrumentation() is second
        assert traced.instrumentation not in events.observers()
        assert events.observers().count(second) == 1
    finally:
        otel.uninstrument()
