"""``chit usage --export-otlp``: past sessions' records sent as spans and metric points with
their original times, for a team that adopts chit midway.

A session file keeps when each request's record was written (its usage line's ``at``), not
when the request was sent, and no time for tool calls. So what can be told honestly is
told: each request's span ends at its ``at`` and starts there too (zero length); a turn's
span runs from its first request's ``at`` to its last; there are no tool spans, and no
``gen_ai.client.operation.duration`` points. Token and cost points are deltas at the
request's ``at``. Every exported span carries ``chit.replayed`` (true). A request whose
line has no readable ``at`` cannot be placed in time and is left out (and counted).

Spans go out in batches, synchronously: the first batch the collector does not take ends
the export, and the command says so.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode

from chit import __version__
from chit.state import RequestRecord, Totals
from chit.telemetry.conventions import (
    COST,
    METRICS,
    SCOPE,
    TOKEN_BUCKETS,
    TOKEN_USAGE,
    cost_point,
    failed,
    request_attributes,
    request_name,
    token_points,
    totals_attributes,
    turn_attributes,
    turn_name,
)
from chit.telemetry.pipeline import MetricExporter, SpanExporter, quiet, resource
from chit.telemetry.settings import Settings

#: Spans per export request.
BATCH = 512


@dataclass(frozen=True, slots=True)
class PastSession:
    """One session's requests, oldest first, with when each was recorded."""

    session_id: str
    """``gen_ai.conversation.id``."""
    requests: Sequence[tuple[RequestRecord, dt.datetime | None]]
    """Each request's record and its usage line's ``at`` (``None``: not readable)."""


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export sent."""

    requests: int
    """Requests sent as spans and points."""
    undated: int
    """Requests left out: their line has no time."""
    spans: int
    """Spans the collector took."""
    failure: str | None
    """What the collector did not take, when it did not take everything."""


class _Kept(SpanProcessor):
    """Keeps every ended span, to be exported in batches."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def export(sessions: Iterable[PastSession], wanted: Settings) -> Exported:
    """Send the sessions' records to the collector the variables name."""
    quiet()
    res = resource()
    kept = _Kept()
    tracers = TracerProvider(resource=res, shutdown_on_exit=False)
    tracers.add_span_processor(kept)
    tracer = tracers.get_tracer(SCOPE, __version__)
    tokens: list[HistogramDataPoint] = []
    costs: list[NumberDataPoint] = []
    requests = undated = 0
    for session in sessions:
        by_turn: dict[int, list[tuple[RequestRecord, int]]] = {}
        for record, at in session.requests:
            if at is None:
                undated += 1
                continue
            by_turn.setdefault(record.turn, []).append((record, _ns(at)))
        for number, done in by_turn.items():
            requests += len(done)
            _turn(tracer, session.session_id, number, done)
            for record, at_ns in done:
                tokens += [_histogram_point(n, attrs, at_ns) for n, attrs in token_points(record)]
                cost = cost_point(record)
                if cost is not None:
                    costs.append(NumberDataPoint(cost[1], at_ns, at_ns, cost[0]))
    tracers.shutdown()
    spans, failure = _send_spans(kept.spans, wanted)
    if failure is None and wanted.metrics and (tokens or costs):
        failure = _send_metrics(res, tokens, costs)
    return Exported(requests, undated, spans, failure)


def _turn(
    tracer: trace.Tracer, session_id: str, number: int, done: list[tuple[RequestRecord, int]]
) -> None:
    first, last = min(at for _, at in done), max(at for _, at in done)
    attrs = {**turn_attributes(session_id, number), "chit.replayed": True}
    turn = tracer.start_span(turn_name(), attributes=attrs, start_time=first)
    parent = trace.set_span_in_context(turn)
    for record, at_ns in done:
        attrs = {**request_attributes(record, session_id), "chit.replayed": True}
        span = tracer.start_span(
            request_name(record), parent, SpanKind.CLIENT, attrs, start_time=at_ns
        )
        why = failed(record)
        if why is not None:
            span.set_status(Status(StatusCode.ERROR, why))
        span.end(at_ns)
    totals = Totals.of(record for record, _ in done)
    turn.set_attributes(totals_attributes(totals, done[-1][0].response.ended))
    turn.end(last)


def _ns(at: dt.datetime) -> int:
    """Nanoseconds since the epoch, exactly (a float would round them)."""
    return (at - _EPOCH) // dt.timedelta(microseconds=1) * 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _histogram_point(n: int, attrs: dict[str, Any], at_ns: int) -> HistogramDataPoint:
    counts = [0] * (len(TOKEN_BUCKETS) + 1)
    counts[bisect_left(TOKEN_BUCKETS, n)] = 1
    return HistogramDataPoint(attrs, at_ns, at_ns, 1, n, counts, TOKEN_BUCKETS, n, n)


def _send_spans(spans: list[ReadableSpan], wanted: Settings) -> tuple[int, str | None]:
    if not wanted.traces or not spans:
        return 0, None
    exporter = SpanExporter()
    try:
        for i in range(0, len(spans), BATCH):
            batch = spans[i : i + BATCH]
            if exporter.export(batch) is not SpanExportResult.SUCCESS:
                return exporter.delivered, f"{len(spans) - exporter.delivered} span(s)"
        return exporter.delivered, None
    finally:
        exporter.shutdown()


def _send_metrics(
    res: Any, tokens: list[HistogramDataPoint], costs: list[NumberDataPoint]
) -> str | None:
    delta = AggregationTemporality.DELTA
    (token_unit, token_about), (cost_unit, cost_about) = METRICS[TOKEN_USAGE], METRICS[COST]
    metrics = [
        Metric(TOKEN_USAGE, token_about, token_unit, Histogram(tokens, delta)),
        Metric(COST, cost_about, cost_unit, Sum(costs, delta, True)),
    ]
    scope = ScopeMetrics(InstrumentationScope(SCOPE, __version__), metrics, "")
    data = MetricsData([ResourceMetrics(res, [scope], "")])
    exporter = MetricExporter()
    try:
        if exporter.export(data) is not MetricExportResult.SUCCESS:
            return "the metrics"
        return None
    finally:
        exporter.shutdown()
