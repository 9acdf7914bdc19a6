"""A loopback OpenTelemetry collector: takes OTLP/HTTP exports (``/v1/traces``,
``/v1/metrics``), decodes their protobuf with opentelemetry-proto, and keeps what it got.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from replay import Loopback


def value(v: AnyValue) -> Any:
    """An attribute's value as Python."""
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(value(x) for x in v.array_value.values)
    return getattr(v, kind) if kind else None


def attributes(kvs: Any) -> dict[str, Any]:
    """Attributes (a repeated ``KeyValue``) as a dict."""
    return {kv.key: value(kv.value) for kv in kvs}


@dataclass
class Span:
    """A span as the collector received it."""

    name: str
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int
    """0 unset, 1 ok, 2 error."""
    status_message: str
    resource: dict[str, Any]


@dataclass
class Point:
    """One metric data point: a histogram's or a sum's."""

    metric: str
    unit: str
    attributes: dict[str, Any]
    start_ns: int
    time_ns: int
    value: float
    """A sum's value, or a histogram's sum."""
    count: int
    """A histogram's count (1 for a sum)."""
    bounds: tuple[float, ...]
    temporality: int
    """1 delta, 2 cumulative."""


@dataclass
class Collector:
    """The received spans and metric points; use as a context manager."""

    spans: list[Span] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    requests: int = 0
    """Exports received, taken or not."""
    status: int = 200
    """What every export is answered with."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = Loopback(_handler(self))

    @property
    def endpoint(self) -> str:
        return self._server.url

    def env(self, **extra: str) -> dict[str, str]:
        """The variables that point chit at this collector."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint, **extra}

    def __enter__(self) -> Collector:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def take(self, path: str, data: bytes) -> bytes:
        with self._lock:
            if path == "/v1/traces":
                req = ExportTraceServiceRequest.FromString(data)
                for rs in req.resource_spans:
                    res = attributes(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        self.spans.extend(_span(s, res) for s in ss.spans)
                return ExportTraceServiceResponse().SerializeToString()
            req_m = ExportMetricsServiceRequest.FromString(data)
            for rm in req_m.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        self.points.extend(_points(m))
            return ExportMetricsServiceResponse().SerializeToString()

    def named(self, prefix: str) -> list[Span]:
        """The spans whose name starts with ``prefix``, oldest start first."""
        found = [s for s in self.spans if s.name.startswith(prefix)]
        return sorted(found, key=lambda s: s.start_ns)

    def metric(self, name: str) -> list[Point]:
        """The points of one metric."""
        return [p for p in self.points if p.metric == name]


def _span(s: Any, resource: dict[str, Any]) -> Span:
    return Span(
        s.name,
        s.trace_id,
        s.span_id,
        s.parent_span_id,
        s.kind,
        s.start_time_unix_nano,
        s.end_time_unix_nano,
        attributes(s.attributes),
        s.status.code,
        s.status.message,
        resource,
    )


def _points(m: Any) -> list[Point]:
    kind = m.WhichOneof("data")
    if kind not in ("histogram", "sum"):
        return []
    data = getattr(m, kind)
    points = []
    for p in data.data_points:
        if kind == "histogram":
            value, count, bounds = p.sum, p.count, tuple(p.explicit_bounds)
        else:
            value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
            count, bounds = 1, ()
        points.append(
            Point(
                m.name,
                m.unit,
                attributes(p.attributes),
                p.start_time_unix_nano,
                p.time_unix_nano,
                value,
                count,
                bounds,
                data.aggregation_temporality,
            )
        )
    return points


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("content-length") or 0))
            with collector._lock:
                collector.requests += 1
            if collector.status != 200:
                self.send_response(collector.status)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            answer = collector.take(self.path, data)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler
