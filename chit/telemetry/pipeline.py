"""The OpenTelemetry SDK as chit sets it up: a resource, OTLP/HTTP exporters configured by
the standard variables, batched spans, and a close that waits at most
:data:`~chit.telemetry.settings.DEADLINE` seconds and says in one line what did not arrive.

Imported only when telemetry is on (:func:`chit.telemetry.start_telemetry`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Tracer

from chit import __version__
from chit.telemetry.conventions import SCOPE
from chit.telemetry.settings import DEADLINE, Settings, warn, where


class SpanExporter(OTLPSpanExporter):
    """The OTLP span exporter, counting the spans the collector took."""

    delivered = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = super().export(spans)
        if result is SpanExportResult.SUCCESS:
            self.delivered += len(spans)
        return result

    def shutdown(self) -> None:
        super().shutdown()  # type: ignore[no-untyped-call]


class MetricExporter(OTLPMetricExporter):
    """The OTLP metric exporter, noting whether a batch of points was refused or is still
    on its way."""

    failed = False
    pending = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float | None = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.pending = True
        result = super().export(metrics_data, timeout_millis, **kwargs)
        self.failed |= result is not MetricExportResult.SUCCESS
        self.pending = False
        return result


def quiet() -> None:
    """The SDK logs every failed try to stderr; chit says it once, in its own words."""
    sdk = logging.getLogger("opentelemetry")
    sdk.addHandler(logging.NullHandler())
    sdk.propagate = False


def resource() -> Resource:
    """``service.name`` ``chit`` (unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES``
    name another), ``service.version``, and what ``OTEL_RESOURCE_ATTRIBUTES`` adds."""
    own = {"service.name": "chit", "service.version": __version__}
    return Resource.create({**own, **OTELResourceDetector().detect().attributes})


class Pipeline:
    """Where spans and metric points go, for one process."""

    def __init__(self, wanted: Settings) -> None:
        quiet()
        self.spans_ended = 0
        res = resource()
        self._spans = SpanExporter() if wanted.traces else None
        self._batch = BatchSpanProcessor(self._spans) if self._spans else None
        self.tracers = TracerProvider(resource=res, shutdown_on_exit=False)
        if self._batch is not None:
            self.tracers.add_span_processor(self._batch)
        self.tracer: Tracer = self.tracers.get_tracer(SCOPE, __version__)
        self.metric_exporter = MetricExporter() if wanted.metrics else None
        readers = []
        if self.metric_exporter is not None:
            # Sent at close (and every minute in a long chat), never on the answer's path.
            readers.append(PeriodicExportingMetricReader(self.metric_exporter))
        self.meters = MeterProvider(readers, resource=res, shutdown_on_exit=False)

    def close(self) -> None:
        """Send what is left within the deadline (both signals at once), then say in one
        line what the collector did not take."""
        jobs: list[Callable[[], object]] = [
            lambda: self.meters.shutdown(timeout_millis=DEADLINE * 1000)
        ]
        if self._batch is not None:
            jobs.append(self._batch.shutdown)
        threads = [threading.Thread(target=job, daemon=True) for job in jobs]
        for t in threads:
            t.start()
        until = time.monotonic() + DEADLINE
        for t in threads:
            t.join(max(until - time.monotonic(), 0))
        if any(t.is_alive() for t in threads):
            # A collector that is down: stop the exporters' retries rather than wait them out.
            for exporter in (self._spans, self.metric_exporter):
                if exporter is not None:
                    exporter.shutdown()
        self.tracers.shutdown()
        lost = self.spans_ended - self._spans.delivered if self._spans else 0
        metrics = self.metric_exporter
        metrics_lost = metrics is not None and (metrics.failed or metrics.pending)
        if lost or metrics_lost:
            what = [f"{lost} span(s)"] if lost else []
            what += ["the metrics"] if metrics_lost else []
            warn(
                f"the collector at {where()} did not take {' and '.join(what)} "
                f"within {DEADLINE:g} s; the session file still holds every record"
            )
