"""RequestTracing with the default sampler: refused reads build no span, kept ones and writes do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from router.middleware.tracing import RequestTracing
from services.core import tracing
from services.core.sampling import SAMPLE_RATE, ReadRateSampler


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def client(exporter: InMemorySpanExporter) -> Iterator[TestClient]:
    provider = TracerProvider(sampler=ReadRateSampler(1, clock=lambda: 0.0))  # one read, never refilled
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def bundle(request: Request) -> JSONResponse:
        # what the endpoint's own work (storage, legacy calls) would record under the request
        with provider.get_tracer("test").start_as_current_span("child"):
            ids = tracing.current_ids()
        return JSONResponse({"ids": ids})

    app = Starlette(routes=[Route("/bundles/{username}", bundle, methods=["GET", "POST"])],
                    middleware=[Middleware(RequestTracing, provider=provider)])
    with TestClient(app) as test_client:
        yield test_client


def names(exporter: InMemorySpanExporter) -> list[str]:
    return [span.name for span in exporter.get_finished_spans()]


def test_the_first_read_is_traced_with_its_weight_and_later_ones_build_no_span(
        client: TestClient, exporter: InMemorySpanExporter) -> None:
    first = client.get("/bundles/octocat")
    assert first.status_code == 200 and names(exporter) == ["child", "GET /bundles/{username}"]
    server = exporter.get_finished_spans()[1]
    assert server.attributes[SAMPLE_RATE] == 100.0 and server.attributes["cloudfolio.username"] == "octocat"
    exporter.clear()
    refused = [client.get("/bundles/octocat").json()["ids"] for _ in range(3)]
    assert names(exporter) == [], "a refused read and its children record nothing"
    assert len({trace_id for trace_id, _ in refused}) == 3, "each refused read still has its own trace id"


def test_writes_and_sampled_callers_are_traced_when_reads_are_not(
        client: TestClient, exporter: InMemorySpanExporter) -> None:
    client.get("/bundles/octocat")  # spends the only token
    exporter.clear()
    assert client.post("/bundles/octocat").status_code == 200
    assert names(exporter) == ["child", "POST /bundles/{username}"]
    exporter.clear()
    caller = "0af7651916cd43dd8448eb211c80319c"
    client.get("/bundles/octocat", headers={"traceparent": f"00-{caller}-b7ad6b7169203331-01"})
    assert {f"{span.context.trace_id:032x}" for span in exporter.get_finished_spans()} == {caller}
    exporter.clear()
    client.get("/bundles/octocat", headers={"traceparent": f"00-{caller}-b7ad6b7169203331-00"})
    assert names(exporter) == [], "a caller that does not sample is followed"
