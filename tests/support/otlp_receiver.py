"""An OTLP/HTTP receiver on loopback: what a collector (Jaeger, Tempo, the OpenTelemetry
Collector) sees from our processes.

It speaks the documented protocol: ``POST /v1/traces`` with an ``ExportTraceServiceRequest``
protobuf body (``Content-Type: application/x-protobuf``, optionally gzip), answered with an empty
``ExportTraceServiceResponse``, and ``POST /v1/metrics`` with an ``ExportMetricsServiceRequest``.
Spans are decoded with ``opentelemetry-proto`` and kept as :class:`ReceivedSpan`, metric data
points as :class:`ReceivedPoint`, for assertions.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    service: str
    attributes: dict[str, Any]
    status_code: int  # 0 unset, 1 ok, 2 error
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace_id, span_id)


@dataclass
class ReceivedPoint:
    """One data point: a sum's or gauge's ``value``, a histogram's ``count`` and ``total``."""

    metric: str
    kind: str  # sum, gauge, histogram
    unit: str
    service: str
    attributes: dict[str, Any]
    value: float = 0.0
    count: int = 0
    total: float = 0.0


def _points(metric: Any, service: str) -> list[ReceivedPoint]:
    kind = metric.WhichOneof("data")
    found = []
    for point in getattr(metric, kind).data_points:
        attributes = {a.key: _value(a.value) for a in point.attributes}
        received = ReceivedPoint(metric.name, kind, metric.unit, service, attributes)
        if kind == "histogram":
            received.count, received.total = point.count, point.sum
        else:
            received.value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
        found.append(received)
    return found


class OtlpReceiver:
    """Collects the spans exported to it; ``url`` is the OTLP endpoint root (``port``: a free one)."""

    def __init__(self, port: int | None = None) -> None:
        self.spans: list[ReceivedSpan] = []
        self.points: list[ReceivedPoint] = []
        self.requests = 0
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"]),
                                                     Route("/v1/metrics", self._metrics, methods=["POST"])]),
                                   port=port)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> OtlpReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()
            self.points.clear()
            self.requests = 0

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def metric_points(self, name: str) -> list[ReceivedPoint]:
        with self._lock:
            return [p for p in self.points if p.metric == name]

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.snapshot() if s.trace_id == trace_id]

    async def _metrics(self, request: Request) -> Response:
        export = ExportMetricsServiceRequest()
        export.ParseFromString(await _body(request))
        received = []
        for resource_metrics in export.resource_metrics:
            resource = {a.key: _value(a.value) for a in resource_metrics.resource.attributes}
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    received.extend(_points(metric, str(resource.get("service.name", ""))))
        with self._lock:
            self.points.extend(received)
            self.requests += 1
        return Response(ExportMetricsServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await _body(request))
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(),
                        name=span.name, kind=KINDS.get(span.kind, "unspecified"),
                        service=str(resource.get("service.name", "")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        status_code=span.status.code,
                        links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links]))
        with self._lock:
            self.spans.extend(received)
            self.requests += 1
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


async def _body(request: Request) -> bytes:
    body = await request.body()
    return gzip.decompress(body) if request.headers.get("content-encoding") == "gzip" else body
