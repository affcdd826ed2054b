"""The router over real HTTP: both paths, cached answers, compat routes, admin, bad input, readiness."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from cloudfolio.devserver.waiting import wait_until
from router import routing
from router.app import create_app
from router.context import SENDER_THREADS
from services.core import tracing
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.keys import CacheKeys, Namespace
from services.core.sources.local import LocalSource, sample_portfolio_root
from tests.router.conftest import RouterStack, make_stack
from tests.support.clocks import ManualClock

EXPECTED = {u: bundle_fingerprint(metadata_fingerprint(r) for r in LocalSource(sample_portfolio_root()).list_repos(u))
            for u in ("yungryce", "octocat")}


def test_legacy_path_refresh_status_and_bundle(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})
    started = stack.client.post("/bundles/yungryce/refresh")
    assert started.status_code == 202 and started.json()["path"] == "legacy"
    assert started.headers["location"] == started.json()["status_url"]
    view = stack.wait_job("yungryce", started.json()["job_id"])
    assert view["status"] == "completed" and view["bundle_fingerprint"] == EXPECTED["yungryce"]
    assert view["total_repos"] == view["completed_repos"] == 16 and view["path"] == "legacy"
    bundle = stack.client.get("/bundles/yungryce").json()
    assert bundle["path"] == "legacy" and bundle["fingerprint"] == EXPECTED["yungryce"]
    again = stack.client.post("/bundles/yungryce/refresh")
    assert again.status_code == 200 and again.json()["status"] == "cached"
    assert again.json()["bundle_fingerprint"] == EXPECTED["yungryce"]


def test_queue_path_refresh_then_cached_then_forced(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    started = stack.client.post("/bundles/octocat/refresh", json={"force": False})
    assert started.status_code == 202 and started.json()["path"] == "queue"
    view = stack.wait_job("octocat", started.json()["job_id"])
    assert (view["status"], view["total_repos"], view["completed_repos"]) == ("completed", 3, 3)
    assert view["bundle_fingerprint"] == EXPECTED["octocat"]
    cached = stack.client.post("/bundles/octocat/refresh")
    assert cached.status_code == 200 and cached.json()["path"] == "queue"
    forced = stack.client.post("/bundles/octocat/refresh", json={"force": True})
    assert forced.status_code == 202
    assert stack.client.get("/bundles/octocat/Hello-World").json()["data"]["name"] == "Hello-World"


def test_a_refresh_that_joins_a_job_in_flight_never_waits_for_the_broker_threads(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, workers=False):  # no workers: the first job stays in flight
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        first = stack.client.post("/bundles/octocat/refresh", json={"force": True}).json()
        release = threading.Event()
        busy = [stack.context.sender.submit(release.wait, 30) for _ in range(SENDER_THREADS)]
        try:
            joined = stack.client.post("/bundles/octocat/refresh", json={"force": False}, timeout=5)
        finally:
            release.set()
        assert joined.status_code == 202 and joined.json()["job_id"] == first["job_id"]
        assert all(f.result(timeout=5) for f in busy)


def test_a_user_reads_what_their_path_wrote(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})
    stack.wait_job("octocat", stack.client.post("/bundles/octocat/refresh").json()["job_id"])
    assert stack.client.get("/bundles/octocat").json()["path"] == "legacy"
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    missing = stack.client.get("/bundles/octocat")
    assert missing.status_code == 404, "the queue path has not written this user's bundle yet"


def test_each_routing_decision_is_logged_with_its_fields_at_info_and_costs_nothing_above(
    stack: RouterStack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    with caplog.at_level(logging.INFO, logger="cloudfolio.router"):
        stack.client.get("/bundles/octocat")
    decided = [r for r in caplog.records if r.getMessage().startswith("routed octocat to ")]
    assert len(decided) == 1, [r.getMessage() for r in caplog.records]
    record = decided[0]
    assert (record.username, record.path, record.percentage) == ("octocat", "queue", 100)  # type: ignore[attr-defined]
    assert 0 <= record.bucket < 10_000  # type: ignore[attr-defined]
    def built(*args: object, **kwargs: object) -> None:
        raise AssertionError("a routing record was built with info off")

    monkeypatch.setattr(routing.log, "info", built)
    with caplog.at_level(logging.WARNING, logger="cloudfolio.router"):
        assert stack.client.get("/bundles/octocat").status_code in (200, 404)


def test_front_end_legacy_routes_work_on_both_paths(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    started = stack.client.post("/api/orchestrator_start", json={"username": "octocat"})
    assert started.status_code == 202 and started.headers["location"] == started.json()["statusQueryGetUri"]
    # the status URL is the router's own and relative (no Host header goes into it)
    assert started.json()["statusQueryGetUri"].startswith("/runtime/webhooks/durabletask/instances/")
    status = wait_until(lambda: (answer := stack.client.get(started.json()["statusQueryGetUri"])).status_code != 202
                        and answer, 30)
    assert status.status_code == 200 and status.json()["runtimeStatus"] == "Completed"
    assert len(status.json()["output"]) == 3
    assert stack.client.get("/api/bundles/octocat").json()["fingerprint"] == EXPECTED["octocat"]

    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})
    legacy = stack.client.post("/api/orchestrator_start", json={"username": "yungryce", "force_refresh": True})
    assert legacy.status_code == 202
    assert "/runtime/webhooks/durabletask/instances/" in legacy.json()["statusQueryGetUri"]


def test_admin_needs_a_bearer_token_and_changes_are_honoured(stack: RouterStack) -> None:
    assert stack.client.get("/admin/rollout").status_code == 401
    assert stack.client.get("/admin/rollout").headers["www-authenticate"] == "Bearer"
    assert stack.client.get("/admin/rollout", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert stack.client.get("/admin/shadow", headers={"Authorization": "Basic x"}).status_code == 401
    changed = stack.client.put("/admin/rollout", headers=stack.admin(), json={"percentage": 100, "reason": "go"})
    assert changed.status_code == 200 and changed.json()["flags"]["percentage"] == 100
    assert stack.client.post("/bundles/octocat/refresh").json()["path"] == "queue"
    bad = stack.client.put("/admin/rollout", headers=stack.admin(), json={"percentage": 150})
    assert bad.status_code == 422 and "between 0 and 100" in bad.json()["error"]


def test_a_change_by_another_replica_is_honoured_within_the_ttl(tmp_path: Path) -> None:
    clock = ManualClock()
    for stack in make_stack(tmp_path, CLOUDFOLIO_FLAG_TTL="1"):
        stack.context.flags.clock = clock
        stack.flags.write({"QUEUE-TRAFFIC-PCT": "0"}, actor="t", reason="t")
        stack.context.flags.invalidate()
        assert stack.client.post("/bundles/octocat/refresh").json()["path"] == "legacy"
        stack.flags.write({"QUEUE-TRAFFIC-PCT": "100"}, actor="other-replica", reason="t")  # no invalidate
        clock.now = 0.99
        assert stack.client.post("/bundles/octocat/refresh").json()["path"] == "legacy", "cached within the TTL"
        clock.now = 1.01  # stale: the next request starts one background read, later ones see its result
        wait_until(lambda c=stack.client: c.post("/bundles/octocat/refresh").json()["path"] == "queue", 5,
                   lambda: "not honoured after the TTL")


def test_admin_api_is_disabled_without_a_configured_token(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, CLOUDFOLIO_ADMIN_TOKEN=""):
        response = stack.client.get("/admin/rollout", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403 and "disabled" in response.json()["error"]


def test_locked_rollout_refuses_a_raise(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0", "ROLLOUT-LOCK": "rolled back: error rate 5%"})
    refused = stack.client.put("/admin/rollout", headers=stack.admin(), json={"percentage": 10, "reason": "try"})
    assert refused.status_code == 409 and "locked" in refused.json()["error"]
    assert stack.flags.read()["QUEUE-TRAFFIC-PCT"] == "0"


def test_a_change_without_a_reason_is_refused_and_changes_nothing(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "5"})
    for body in ({"percentage": 10}, {"percentage": 10, "reason": "  "}):
        refused = stack.client.put("/admin/rollout", headers=stack.admin(), json=body)
        assert refused.status_code == 422 and "a reason is required" in refused.json()["error"]
    assert stack.flags.read()["QUEUE-TRAFFIC-PCT"] == "5"


LONG = "a" * 5000
BAD_INPUT = [
    ("POST", "/bundles/-bad-/refresh", None, 400),
    ("POST", "/bundles/%2e%2e/refresh", None, 400),
    ("POST", f"/bundles/{LONG}/refresh", None, 400),
    ("POST", "/bundles/octocat/refresh", b"{not json", 400),
    ("POST", "/bundles/octocat/refresh", b"[1, 2]", 400),
    ("POST", "/bundles/octocat/refresh", b'{"force": "yes"}', 422),
    ("POST", "/bundles/octocat/refresh", b'{"force": 1}', 422),
    ("POST", "/bundles/octocat/refresh", b'{"force": true, "extra": 1}', 422),
    ("POST", "/bundles/octocat/refresh", b'{"force": false, "pad": "' + b"x" * 20000 + b'"}', 413),
    ("GET", "/bundles/octocat/status", None, 400),
    ("GET", "/bundles/octocat/status?job_id=../../etc", None, 404),
    ("GET", "/bundles/octocat/status?job_id=" + "0" * 32, None, 404),
    ("GET", "/bundles/-x", None, 400),
    ("GET", "/bundles/octocat/..%2f..", None, 404),
    ("GET", "/bundles/octocat/%2e%2e", None, 400),
    ("GET", "/bundles/octocat/a%00b", None, 400),
    ("POST", "/api/orchestrator_start", b"", 400),
    ("POST", "/api/orchestrator_start", b"nope", 400),
    ("POST", "/api/orchestrator_start", b'{"username": "../x"}', 400),
    ("POST", "/api/orchestrator_start", b'{"username": 5}', 422),
    ("POST", "/api/orchestrator_start", b'{"username": "octocat", "surprise": 1}', 422),
    ("POST", "/api/orchestrator_start", b'{"repository": {"name": "x"}}', 400),
    ("GET", "/api/bundles/-x-", None, 400),
    ("PUT", "/admin/rollout", b'{"percentage": "ten"}', 422),
    ("PUT", "/admin/rollout", b'{"percentage": true}', 422),
    ("PUT", "/admin/rollout", b'{"stickiness": "wobbly"}', 422),
    ("PUT", "/admin/rollout", b"{}", 422),
    ("PUT", "/admin/rollout", b'{"unknown": 1}', 422),
    ("GET", "/runtime/webhooks/durabletask/instances/zzz", None, 404),
    ("DELETE", "/bundles/octocat", None, 405),
    ("GET", "/nowhere", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_INPUT)
def test_bad_input_gets_a_clear_json_4xx(stack: RouterStack, method: str, path: str, body: bytes | None,
                                         status: int) -> None:
    response = stack.client.request(method, path, content=body, headers=stack.admin())
    assert response.status_code == status, response.text
    if response.content:
        assert set(response.json()) == {"error"} and response.json()["error"]
    assert "Traceback" not in response.text


def test_request_tracing_is_a_layer_only_in_a_process_with_a_tracer_provider(stack: RouterStack,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert not tracing.installed(), "this test process has no tracer provider"
    layers = [m.cls.__name__ for m in create_app(stack.context).user_middleware]
    assert layers == ["SecurityHeaders", "RequestMetrics", "BodyLimit"]
    provider = TracerProvider()
    monkeypatch.setattr(tracing, "installed_provider", lambda: provider)  # as after cloudfolio.telemetry
    middleware = create_app(stack.context).user_middleware
    assert [m.cls.__name__ for m in middleware] == ["RequestTracing", "SecurityHeaders", "RequestMetrics", "BodyLimit"]
    assert middleware[0].kwargs["provider"] is provider, "the layer is handed the provider, not looking it up"


def test_every_route_and_method_is_in_the_openapi_document(stack: RouterStack) -> None:
    spec = stack.client.get("/openapi.json").json()
    app = create_app(stack.context)
    for route in app.routes:
        for method in sorted((getattr(route, "methods", None) or set()) - {"HEAD"}):
            assert method.lower() in spec["paths"].get(route.path, {}), f"{method} {route.path} is not documented"
    references = re.findall(r'"#/components/schemas/(\w+)"', json.dumps(spec))
    assert references and set(references) <= set(spec["components"]["schemas"])
    search = spec["paths"]["/bundles/{username}/search"]["get"]
    assert "503" in search["responses"] and {p["name"] for p in search["parameters"]} == {"username", "q", "k"}
    assert spec["paths"]["/api/ai"]["post"]["requestBody"]["required"] is True
    rollout = spec["paths"]["/admin/rollout"]["put"]["responses"]
    assert rollout["401"]["description"] == "no bearer token"
    assert rollout["403"]["description"] == "wrong token, or the admin API is disabled"


def test_the_docs_page_renders_the_document_without_inline_script(stack: RouterStack) -> None:
    page = stack.client.get("/docs")
    assert "CloudFolio gateway API" in page.text and '<script src="/docs.js"></script>' in page.text
    assert re.findall(r"<script[^>]*>([^<]*)</script>", page.text) == [""], "no inline script"
    script = stack.client.get("/docs.js")
    assert script.headers["content-type"].startswith("application/javascript")
    assert "escapeHtml" in script.text and "<code>$1</code>" in script.text


def test_health_ready_and_metrics(stack: RouterStack) -> None:
    assert stack.client.get("/health").json()["status"] == "healthy"
    ready = stack.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"storage": "ok", "broker": "ok", "flags": "ok",
                                                                   "legacy": "ok"}
    stack.client.post("/bundles/octocat/refresh")
    text = stack.client.get("/metrics").text
    assert 'router_requests_total{path="legacy",route="/bundles/{username}/refresh",status_class="2xx"}' in text
    assert "rollout_queue_traffic_pct 0.0" in text


def test_ready_is_503_when_the_legacy_app_is_unreachable(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, legacy_url="http://127.0.0.1:9"):
        ready = stack.client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["legacy"].startswith("unreachable")
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})
        response = stack.client.post("/bundles/octocat/refresh")
        assert response.status_code == 503 and response.headers["retry-after"] == "5"


def test_shadow_namespace_never_reaches_the_live_routes(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0", "ENABLE-QUEUE-SHADOW": "true"})
    job = stack.client.post("/bundles/octocat/refresh").json()["job_id"]
    stack.wait_job("octocat", job)
    [comparison] = stack.wait_comparisons(1)
    assert comparison["verdict"] == "match" and comparison["shadow_path"] == "queue"
    storage = stack.context.pipeline.backends.storage
    assert storage.exists(CacheKeys(Namespace.SHADOW).bundle("octocat"))
    assert not storage.exists(CacheKeys(Namespace.LIVE).bundle("octocat"))
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100", "ENABLE-QUEUE-SHADOW": "false"})
    assert stack.client.get("/bundles/octocat").status_code == 404


def test_a_failed_job_says_unknown_user_and_shows_no_server_path(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    started = stack.client.post("/bundles/nobody-here/refresh").json()
    view = stack.wait_job("nobody-here", started["job_id"])
    assert view["status"] == "failed" and "unknown GitHub user 'nobody-here'" in view["reasons"][0], view
    assert "sample_portfolio" not in json.dumps(view) and "/" not in view["reasons"][0].split("user")[-1]
