"""Shadow isolation: a failing or hanging shadow path never touches the primary response."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread
from router.metrics import RouterMetrics
from router.shadow import Comparison, ShadowMirror
from services.core.storage.local import LocalBackend
from tests.router.conftest import make_stack


def _server(handler) -> ServerThread:
    app = Starlette(routes=[Route("/{path:path}", handler, methods=["GET", "POST"])])
    return ServerThread(app).start()


def test_a_hanging_shadow_path_leaves_primary_answers_fast_and_drops_beyond_the_bound(tmp_path: Path) -> None:
    async def hang(request):
        await asyncio.sleep(20)
        return JSONResponse({})

    hanging = _server(hang)
    try:
        for stack in make_stack(tmp_path, legacy_url=hanging.url, CLOUDFOLIO_SHADOW_MAX_CONCURRENCY="2"):
            stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100", "ENABLE-QUEUE-SHADOW": "true"})
            answers = [stack.client.post("/bundles/octocat/refresh", json={"force": True}) for _ in range(4)]
            assert all(a.status_code == 202 and a.json()["path"] == "queue" for a in answers)
            # the shadow hangs for 20 s: both started mirrors are still hanging, so no primary waited for one
            assert stack.context.mirror.in_flight == 2
            metrics = stack.client.get("/metrics").text
            assert 'shadow_mirrors_total{outcome="started"} 2.0' in metrics
            assert 'shadow_mirrors_total{outcome="dropped"} 2.0' in metrics
            view = stack.wait_job("octocat", answers[-1].json()["job_id"])
            assert view["status"] == "completed"
            assert stack.client.get("/bundles/octocat").status_code == 200
    finally:
        hanging.stop()


def test_a_failing_shadow_path_is_recorded_and_the_primary_is_untouched(tmp_path: Path) -> None:
    async def broken(request):
        return JSONResponse({"error": "legacy down"}, status_code=503)

    failing = _server(broken)
    try:
        for stack in make_stack(tmp_path, legacy_url=failing.url):
            stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100", "ENABLE-QUEUE-SHADOW": "true"})
            answer = stack.client.post("/bundles/octocat/refresh")
            assert answer.status_code == 202
            assert stack.wait_job("octocat", answer.json()["job_id"])["status"] == "completed"
            [comparison] = stack.wait_comparisons(1)
            assert comparison["verdict"] == "shadow_error" and "legacy app answered 503" in comparison["error"]
            assert 'shadow_comparisons_total{primary_path="queue",verdict="shadow_error"} 1.0' in (
                stack.client.get("/metrics").text)
    finally:
        failing.stop()


def test_sampling_zero_mirrors_nothing(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path):
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100", "ENABLE-QUEUE-SHADOW": "true", "SHADOW-SAMPLE-PCT": "0"})
        stack.client.post("/bundles/octocat/refresh")
        assert 'shadow_mirrors_total{outcome="sampled_out"} 1.0' in stack.client.get("/metrics").text
        assert stack.context.mirror.in_flight == 0


def test_divergences_are_kept_apart_from_the_latest_comparisons(tmp_path: Path) -> None:
    mirror = ShadowMirror({}, LocalBackend(tmp_path), RouterMetrics(CollectorRegistry()))

    async def publish() -> None:
        await mirror._publish(Comparison("d1", "octo", "legacy", "queue", "divergence", diff={"divergent": ["r"]}))
        for index in range(250):  # busy traffic: matches push the divergence out of the latest 200
            await mirror._publish(Comparison(f"m{index}", "octo", "legacy", "queue", "match"))

    asyncio.run(publish())
    assert all(c.verdict == "match" for c in mirror.recent) and len(mirror.recent) == 200
    assert [c.comparison_id for c in mirror.divergences] == ["d1"]
