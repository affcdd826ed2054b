"""An OTLP/HTTP trace receiver on loopback: what a collector (Jaeger, Tempo, the OpenTelemetry
Collector) sees from our processes.

It speaks the documented protocol: ``POST /v1/traces`` with an ``ExportTraceServiceRequest``
protobuf body (``Content-Type: application/x-protobuf``, optionally gzip), answered with an empty
``ExportTraceServiceResponse``. Spans are decoded with ``opentelemetry-proto`` and kept as
:class:`ReceivedSpan` for assertions.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from typing import Any

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


class OtlpReceiver:
    """Collects the spans exported to it; ``url`` is the OTLP endpoint root (``port``: a free one)."""

    def __init__(self, port: int | None = None) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])]),
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
            self.requests = 0

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.snapshot() if s.trace_id == trace_id]

    async def _traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
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
