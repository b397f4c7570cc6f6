"""OpenTelemetry tracing and metrics for solidb-odm (``pip install solidb-odm[otel]``).

``instrument()`` registers one observer with :mod:`solidb_odm.events`. Each
request either executor sends becomes a CLIENT span, built after the answer
came back from the event's duration, so it starts and ends when the request
did and has the caller's current span as its parent. The attributes follow
the stable database semantic conventions:

- span name ``{db.operation.name} {db.collection.name}`` (``query users``),
  or the operation alone when the request names no collection;
- ``db.system.name`` = ``solidb``, ``db.namespace`` (the database),
  ``db.operation.name`` (the driver command), ``db.collection.name``;
- ``db.query.text``: the SDBQL text with its ``@name`` placeholders; bound
  values are never recorded;
- ``db.response.returned_rows``, ``server.address``, ``server.port``;
- on failure: status ERROR, ``error.type`` (the exception's class name) and
  the exception as a span event.

Every request is also measured in the ``db.client.operation.duration``
histogram (seconds) with the low-cardinality attributes only.

A session's ``commit()`` and ``flush()`` are units of work
(:func:`solidb_odm.events.unit`): each opens an INTERNAL span ``commit <db>``
that is current while it runs, so the begin, batch and commit frames it sends
are its children. It is INTERNAL because it sends nothing itself: the
conventions keep CLIENT for the spans of the calls on the wire.

Only ``opentelemetry-api`` is used here; the application brings the SDK
(providers, exporters). Without providers given, the global ones are used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import events

__all__ = ["DB_SYSTEM", "Instrumentation", "instrument", "instrumentation", "uninstrument"]

DB_SYSTEM = "solidb"
#: the bucket boundaries the conventions advise for db.client.operation.duration
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)


def _version() -> str | None:
    try:
        return metadata.version("solidb-odm")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return None


class Instrumentation:
    """The observer ``instrument()`` registered: request spans, unit spans, the histogram."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None,
                 meter_provider: metrics.MeterProvider | None = None) -> None:
        version = _version()
        self.tracer = trace.get_tracer("solidb_odm", version, tracer_provider=tracer_provider)
        meter = metrics.get_meter("solidb_odm", version or "", meter_provider=meter_provider)
        try:
            self.duration = meter.create_histogram(
                "db.client.operation.duration", unit="s",
                description="Duration of database client operations.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
        except TypeError:  # pragma: no cover - an API older than the advisory (< 1.23)
            self.duration = meter.create_histogram(
                "db.client.operation.duration", unit="s",
                description="Duration of database client operations.",
            )

    # -- requests (an events.Observer) -------------------------------------------

    def __call__(self, event: events.RequestEvent) -> None:
        end = time.time_ns()
        start = end - int(event.duration * 1e9)
        common = self._common(event)
        attributes: dict[str, Any] = dict(common)
        if event.operation.startswith("HTTP "):
            attributes["http.request.method"] = event.operation[5:]
            if event.statement:
                attributes["url.path"] = event.statement
        elif event.statement:
            attributes["db.query.text"] = event.statement
        if event.rows is not None:
            attributes["db.response.returned_rows"] = event.rows
        if len(event.batch) > 1:  # the conventions: a batch has two operations or more
            attributes["db.operation.batch.size"] = len(event.batch)
        if event.batch:
            attributes["solidb.batch.operations"] = list(event.batch)
        if event.tx_id:
            attributes["solidb.transaction.id"] = event.tx_id
        name = f"{event.operation} {event.collection}" if event.collection else event.operation
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes,
                                      start_time=start)
        if event.error is not None:
            span.record_exception(event.error, timestamp=end, escaped=True)
            span.set_status(Status(StatusCode.ERROR, str(event.error)))
        span.end(end_time=end)
        self.duration.record(event.duration, common)

    @staticmethod
    def _common(event: events.RequestEvent) -> dict[str, Any]:
        """The low-cardinality attributes: on every span and on the histogram."""
        attributes: dict[str, Any] = {
            "db.system.name": DB_SYSTEM,
            "db.operation.name": event.operation,
            "server.address": event.host,
            "server.port": event.port,
        }
        if event.database:
            attributes["db.namespace"] = event.database
        if event.collection:
            attributes["db.collection.name"] = event.collection
        if event.error is not None:
            attributes["error.type"] = type(event.error).__name__
        return attributes

    # -- units of work (an events.UnitObserver) ----------------------------------

    def enter(self, name: str, attributes: Mapping[str, Any]) -> Any:
        database = attributes.get("database")
        span_attributes: dict[str, Any] = {"db.system.name": DB_SYSTEM, "solidb.unit": name}
        if database:
            span_attributes["db.namespace"] = str(database)
        span = self.tracer.start_span(f"{name} {database}" if database else name,
                                      kind=SpanKind.INTERNAL, attributes=span_attributes)
        # Current until exit: the frames sent meanwhile (in this thread, or in
        # this asyncio task, as OTel's context is a contextvar) are its children.
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def exit(self, token: Any, error: BaseException | None) -> None:
        span, context_token = token
        try:
            if error is not None:
                span.set_attribute("error.type", type(error).__name__)
                span.record_exception(error, escaped=True)
                span.set_status(Status(StatusCode.ERROR, str(error)))
        finally:
            otel_context.detach(context_token)
            span.end()


_current: Instrumentation | None = None


def instrument(tracer_provider: trace.TracerProvider | None = None,
               meter_provider: metrics.MeterProvider | None = None) -> Instrumentation:
    """Trace and measure every request of the process; calling it again replaces the first."""
    global _current
    uninstrument()
    _current = Instrumentation(tracer_provider, meter_provider)
    events.add_observer(_current)
    events.add_unit_observer(_current)
    return _current


def uninstrument() -> None:
    """Stop tracing: requests made from now on make no span and no measurement."""
    global _current
    if _current is not None:
        events.remove_observer(_current)
        events.remove_unit_observer(_current)
        _current = None


def instrumentation() -> Instrumentation | None:
    """The instrumentation in force, if any."""
    return _current
