"""One refresh is one trace: the router and two worker processes over RabbitMQ, each exporting
OTLP/HTTP to a receiver started by the test (decoded with ``opentelemetry-proto``); the same
refresh's operational metrics reach the receiver as OpenTelemetry metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, WorkerProcess, delete_queues
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from services.core.observations import user_bucket
from tests.support.otlp_receiver import OtlpReceiver, ReceivedPoint, ReceivedSpan

pytestmark = pytest.mark.integration

#: A real fine-tune, as small as it gets, so train_model runs inside the test's bound.
TINY_TRAINING = {"CLOUDFOLIO_TRAIN_MAX_PAIRS": "8", "CLOUDFOLIO_TRAIN_EPOCHS": "1", "CLOUDFOLIO_TRAIN_BATCH_SIZE": "4",
                 "CLOUDFOLIO_TRAIN_WARMUP_STEPS": "1"}


def traced_env(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path, otlp: OtlpReceiver, **extra: str) -> QueueEnv:
    return QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url, extra={
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "100", "QUEUE_TRAFFIC_PCT": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
        "CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_LOG_FORMAT": "json", **TINY_TRAINING, **extra})


@pytest.fixture
def stack(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path, otlp: OtlpReceiver) -> Iterator[dict[str, Any]]:
    otlp.clear()
    env = traced_env(github, rabbitmq_url, tmp_path, otlp)
    started: list[Any] = []
    try:
        started.append(WorkerProcess(env, "sync", threads=4))
        started.append(WorkerProcess(env, "merge", "train", threads=2))
        router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
        started.append(router)
        yield {"router": router.url, "env": env, "processes": started}
    finally:
        for process in reversed(started):
            process.stop()
        delete_queues(rabbitmq_url, env.queue_names)


def refresh(router: str, username: str) -> str:
    answer = httpx.post(f"{router}/bundles/{username}/refresh", json={"force": True}, timeout=30)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]

    def finished() -> bool:
        view = httpx.get(f"{router}/bundles/{username}/status", params={"job_id": job_id}, timeout=10).json()
        return view["status"] == "completed"

    wait_until(finished, 90, lambda: f"job {job_id} did not complete", interval=0.2)
    return job_id


def spans_named(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


def the_one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = spans_named(spans, name)
    assert len(found) == 1, f"{len(found)} spans named {name}: {[s.name for s in spans]}"
    return found[0]


def test_one_refresh_is_one_trace_from_the_router_through_every_queue_hop(
        github: FakeGitHub, stack: dict[str, Any], otlp: OtlpReceiver) -> None:
    username = f"tr{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 6)
    job_id = refresh(stack["router"], username)
    server = wait_until(lambda: next((s for s in otlp.snapshot() if s.name == "POST /bundles/{username}/refresh"
                                      and s.attributes.get("cloudfolio.username") == username), None),
                        20, lambda: "the router exported no request span")
    wait_until(lambda: spans_named(otlp.trace(server.trace_id), "train_model"), 120,
               lambda: f"no train_model span in the trace: {sorted({s.name for s in otlp.trace(server.trace_id)})}")
    spans = otlp.trace(server.trace_id)
    by_id = {s.span_id: s for s in spans}

    assert server.kind == "server" and server.parent_id == "" and server.service == "cloudfolio-router"
    assert server.attributes["routing_mode"] == "queue" and server.attributes["http.response.status_code"] == 202
    assert server.attributes["http.route"] == "/bundles/{username}/refresh"
    request = the_one(spans, "refresh_request")
    plan = the_one(spans, "plan_refresh")
    merge = the_one(spans, "merge_bundle")
    train = the_one(spans, "train_model")
    syncs = spans_named(spans, "sync_repo")
    assert request.parent_id == server.span_id
    assert request.attributes["cloudfolio.job_id"] == job_id and request.attributes["cloudfolio.path"] == "queue"
    assert plan.parent_id == request.span_id and plan.kind == "consumer" and plan.service == "cloudfolio-worker"
    assert len(syncs) == 6 and all(s.parent_id == plan.span_id for s in syncs)
    assert {s.attributes["cloudfolio.repo"] for s in syncs} == set(github.users[username])
    for sync in syncs:
        children = {s.name for s in spans if s.parent_id == sync.span_id}
        assert {"fetch_repo_content", "save_to_cache"} <= children, children
    assert by_id[merge.parent_id].name == "sync_repo", "the merge is sent by the sync that recorded the last repo"
    assert by_id[train.parent_id] is merge
    assert any(s.parent_id == merge.span_id and s.name == "save_to_cache" for s in spans)
    for span in (plan, merge, train, *syncs):
        assert span.attributes["cloudfolio.job_id"] == job_id and span.attributes["cloudfolio.username"] == username
        assert span.status_code != 2, span
    # GitHub calls are client spans of the fetches, with the trace carried on to GitHub
    fetch_ids = {s.span_id for s in spans_named(spans, "fetch_repo_content")}
    assert any(s.kind == "client" and s.parent_id in fetch_ids for s in spans)
    carried = [r.headers.get("traceparent", "") for r in github.requests_to(f"/repos/{username}/")]
    assert carried and all(server.trace_id in header for header in carried)
    the_operational_metrics_were_exported(stack["router"], username, job_id, otlp)


def the_operational_metrics_were_exported(router: str, username: str, job_id: str, otlp: OtlpReceiver) -> None:
    """The same refresh's operational metrics, as OpenTelemetry metrics at the OTLP receiver."""
    status = httpx.get(f"{router}/bundles/{username}/status", params={"job_id": job_id}, timeout=10).json()
    assert status["status"] == "completed", status  # this first terminal poll records the job's duration

    def point(metric: str, service: str, **attributes: str) -> ReceivedPoint | None:
        return next((p for p in reversed(otlp.metric_points(metric)) if p.service == f"cloudfolio-{service}"
                     and attributes.items() <= p.attributes.items()), None)

    job = wait_until(lambda: point("job_duration", "router", path="queue", outcome="completed"), 20,
                     lambda: f"no job_duration from the router: {otlp.metric_points('job_duration')}")
    assert job.kind == "histogram" and job.unit == "s" and job.count >= 1 and job.total > 0
    trained = wait_until(lambda: point("training_runs", "worker", outcome="trained"), 20,
                         lambda: f"no training_runs: {otlp.metric_points('training_runs')}")
    assert trained.kind == "sum" and trained.value >= 1
    assert point("training_duration", "worker", outcome="trained") is not None
    bucket = user_bucket(username)
    synced = point("cloudfolio_cache_lookups", "worker", cache="repo", outcome="miss", user_bucket=bucket)
    assert synced is not None and synced.value >= 6, otlp.metric_points("cloudfolio_cache_lookups")
    quota = point("github_rate_limit_remaining", "worker")
    assert quota is not None and quota.kind == "gauge" and quota.value > 0
    assert quota.attributes["token"] == "anonymous" or quota.attributes["token"].startswith("sha256:")


def test_a_message_redelivered_after_a_worker_is_killed_continues_the_same_trace(
        github: FakeGitHub, rabbitmq_url: str, tmp_path: Path, otlp: OtlpReceiver) -> None:
    otlp.clear()
    markers = tmp_path / "markers"
    markers.mkdir()
    env = traced_env(github, rabbitmq_url, tmp_path, otlp, CLOUDFOLIO_JOB_STALL_SECONDS="3600")
    crashing = QueueEnv(env.data_dir, env.github_url, broker_url=rabbitmq_url, prefix=env.prefix,
                        extra={**env.extra, "CLOUDFOLIO_TEST_CRASH_AT": f"after_merge_claim:{markers}",
                               # every span exported as it ends: the kill loses only the span it interrupts
                               "OTEL_SERVICE_NAME": "doomed-worker", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1"})
    username = f"rd{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 4)
    started: list[Any] = []
    try:
        router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
        started.append(router)
        doomed = WorkerProcess(crashing, "all", threads=2)
        started.append(doomed)
        answer = httpx.post(f"{router.url}/bundles/{username}/refresh", json={"force": True}, timeout=30)
        assert answer.status_code == 202, answer.text
        wait_until(lambda: (markers / "after_merge_claim").exists(), 60,
                   lambda: f"the crash point was never reached:\n{doomed.log_text()}")
        doomed.kill()
        started.append(WorkerProcess(env, "all", threads=2))
        server = wait_until(lambda: next((s for s in otlp.snapshot() if s.attributes.get("cloudfolio.username")
                                          == username and s.kind == "server"), None), 20, lambda: "no request span")
        merge = wait_until(lambda: spans_named(otlp.trace(server.trace_id), "merge_bundle"), 90,
                           lambda: f"no merge in the trace: {sorted({s.name for s in otlp.trace(server.trace_id)})}")
        spans = otlp.trace(server.trace_id)
        plan = the_one(spans, "plan_refresh")
        assert plan.service == "doomed-worker"
        before = [s for s in spans_named(spans, "sync_repo") if s.service == "doomed-worker"]
        redelivered = [s for s in spans_named(spans, "sync_repo") if s.service == "cloudfolio-worker"]
        assert redelivered, "the sync the kill interrupted ran again, in this trace, on the new worker"
        # (the doomed worker's last finished spans may still have been on their way out when it died)
        assert {s.attributes["cloudfolio.repo"] for s in redelivered} <= set(github.users[username])
        assert all(s.parent_id == plan.span_id for s in before + redelivered), "a redelivery keeps its parent"
        assert merge[0].service == "cloudfolio-worker"
        assert merge[0].parent_id in {s.span_id for s in redelivered}, "the redelivered sync sent the merge"
    finally:
        for process in reversed(started):
            if process.process.poll() is None:
                process.stop()
        delete_queues(rabbitmq_url, env.queue_names)


def test_the_legacy_replica_traces_its_requests_as_children_of_the_callers_span(
        github: FakeGitHub, rabbitmq_url: str, tmp_path: Path, otlp: OtlpReceiver) -> None:
    otlp.clear()
    env = traced_env(github, rabbitmq_url, tmp_path, otlp)
    legacy = ServiceProcess(env, "legacy", port=free_port(), ready_path="/api/health")
    try:
        caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        answer = httpx.get(f"{legacy.url}/api/bundles/nobody-here", timeout=10,
                           headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"})
        assert answer.status_code == 404, answer.text
        server = wait_until(lambda: next((s for s in otlp.snapshot() if s.trace_id == caller_trace), None), 20,
                            lambda: f"the legacy replica exported no span:\n{legacy.log_text()}")
        assert server.name == "GET /api/bundles/{username}" and server.kind == "server"
        assert server.parent_id == caller_span and server.service == "cloudfolio-legacy"
        assert server.attributes["http.response.status_code"] == 404
        assert server.attributes["routing_mode"] not in ("queue", "legacy"), "routing_mode is the router's decision"
        assert not [s for s in otlp.snapshot() if s.attributes.get("url.path") == "/api/health"]
    finally:
        legacy.stop()
