"""Request metrics record the status the client got, by route template and serving path."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from router.errors import EXCEPTION_HANDLERS
from router.metrics import RouterMetrics
from router.middleware.request_metrics import RequestMetrics
from services.core.names import validate_username
from tests.router.conftest import RouterStack


def sample(stack_or_registry: object, route: str, path: str, status_class: str) -> float:
    registry = stack_or_registry.context.registry if isinstance(stack_or_registry, RouterStack) else stack_or_registry
    value = registry.get_sample_value("router_requests_total",
                                      {"route": route, "path": path, "status_class": status_class})
    return value or 0.0


def test_bad_input_before_the_path_is_chosen_counts_as_4xx_not_5xx(stack: RouterStack) -> None:
    answer = stack.client.post("/bundles/-bad-/refresh")
    assert answer.status_code == 400
    assert sample(stack, "/bundles/{username}/refresh", "-", "4xx") == 1
    assert sample(stack, "/bundles/{username}/refresh", "-", "5xx") == 0
    assert stack.client.get("/bundles/octocat/status").status_code == 400  # no job_id
    assert sample(stack, "/bundles/{username}/status", "-", "4xx") == 1


def test_served_requests_carry_their_path_and_probes_are_not_counted(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    assert stack.client.post("/bundles/octocat/refresh").status_code in (200, 202)
    assert sample(stack, "/bundles/{username}/refresh", "queue", "2xx") == 1
    stack.client.get("/health")
    stack.client.get("/metrics")
    text = stack.client.get("/metrics").text
    assert 'route="/health"' not in text and 'route="/metrics"' not in text


def test_an_unhandled_error_counts_as_500() -> None:
    registry = CollectorRegistry()

    async def broken(request: Request) -> JSONResponse:
        validate_username(request.path_params["name"])
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/x/{name}", broken)], exception_handlers=EXCEPTION_HANDLERS,
                    middleware=[Middleware(RequestMetrics, metrics=RouterMetrics(registry))])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/x/ok").status_code == 500
        assert client.get("/x/-bad-").status_code == 400
    assert sample(registry, "/x/{name}", "-", "5xx") == 1
    assert sample(registry, "/x/{name}", "-", "4xx") == 1
