"""OpenTelemetry tracing: the spans and the duration histogram a few requests make.

Run it against a throw-away server::

    python -m solidb_odm.testing run -- python examples/otel_tracing.py

It needs ``opentelemetry-sdk`` (in the ``test`` extra; an application brings
its own SDK and exporter). The spans go to the SDK's in-memory exporter and
are printed as a tree, then one span in full, then the histogram's series.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _connection import URL
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from solidb_odm import Document, connect
from solidb_odm.contrib import otel
from solidb_odm.exceptions import NotFoundError


class Book(Document):
    title: str
    year: int

    class Meta:
        collection = "books"


exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
reader = InMemoryMetricReader()
meter_provider = MeterProvider(metric_readers=[reader])

db = connect(URL.rstrip("/") + "/otel_demo")
db.register(Book).sync()
Book.objects.all().delete()

otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
tracer = tracer_provider.get_tracer("example")

with tracer.start_as_current_span("GET /books"):  # an application's own span
    session = db.session()
    session.add(Book(title="Dune", year=1965))
    session.add(Book(title="Solaris", year=1961))
    session.commit()  # commit <db> > begin_transaction, batch, commit_transaction
    session.close()
    old = Book.objects.filter(year__lt=1964).order_by("year").all()
    print("books before 1964:", [b.title for b in old])
    try:
        db.client.get(db.name, "books", "no-such-key")
    except NotFoundError:
        print("no-such-key: not found (an ERROR span)")


async def concurrently() -> None:
    """Two tasks, two commits: each commit span parents its own frames."""

    async def add(title: str) -> None:
        session = db.session()
        session.add(Book(title=title, year=2000))
        await session.acommit()
        await session.aclose()

    with tracer.start_as_current_span("async job"):
        await asyncio.gather(add("Kindred"), add("Blindsight"))


asyncio.run(concurrently())
otel.uninstrument()


def show(spans: list[ReadableSpan]) -> None:
    children: dict[Any, list[ReadableSpan]] = {}
    for span in spans:
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def walk(parent: Any, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            assert span.start_time is not None and span.end_time is not None
            ms = (span.end_time - span.start_time) / 1e6
            attributes = span.attributes or {}
            extra = []
            if "db.response.returned_rows" in attributes:
                extra.append(f"rows={attributes['db.response.returned_rows']}")
            if "error.type" in attributes:
                extra.append(f"error.type={attributes['error.type']}")
            print(f"{'  ' * depth}{span.name} [{span.kind.name}] {ms:.2f} ms {' '.join(extra)}".rstrip())
            walk(span.context.span_id, depth + 1)

    walk(None, 0)


spans = list(exporter.get_finished_spans())
print(f"\n{len(spans)} spans:")
show(spans)

query = next(s for s in spans if s.name == "query")
print("\nthe query's span attributes:")
print(json.dumps(dict(query.attributes or {}), indent=2))

print("\ndb.client.operation.duration series:")
data = reader.get_metrics_data()
for resource in data.resource_metrics if data else ():
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            if metric.name != "db.client.operation.duration":
                continue
            for point in metric.data.data_points:
                a = point.attributes
                label = f"{a['db.operation.name']} {a.get('db.collection.name', '')}".strip()
                if "error.type" in a:
                    label += f" error.type={a['error.type']}"
                print(f"  {label}: count={point.count} sum={point.sum * 1000:.2f} ms")  # type: ignore[union-attr]

db.close()
tracer_provider.shutdown()
meter_provider.shutdown()
