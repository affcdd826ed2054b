"""Shadow mode end to end: router, legacy service and queue workers as separate processes, over
real HTTP and real RabbitMQ, with GitHub served by the test server."""

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
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint

pytestmark = pytest.mark.integration
TOKEN = "e2e-admin"


@pytest.fixture
def services(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    legacy_port = free_port()
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url, extra={
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{legacy_port}", "CLOUDFOLIO_ADMIN_TOKEN": TOKEN,
        "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "QUEUE_TRAFFIC_PCT": "0", "ENABLE_QUEUE_SHADOW": "true",
        "CLOUDFOLIO_WORKER_HEALTH_PORT": "0",
    })
    started: list[Any] = []
    try:
        started.append(ServiceProcess(env, "legacy", port=legacy_port, ready_path="/api/health"))
        started.append(WorkerProcess(env, "all", threads=8))
        router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
        started.append(router)
        yield {"router": router.url, "env": env}
    finally:
        for process in reversed(started):
            process.stop()
        delete_queues(rabbitmq_url, env.queue_names)


def comparisons(router: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        recent = httpx.get(f"{router}/admin/shadow", headers={"Authorization": f"Bearer {TOKEN}"}).json()["recent"]
        return recent if len(recent) >= count else None

    return wait_until(enough, timeout, lambda: f"fewer than {count} comparisons", interval=0.2)


def refresh_and_wait(router: str, username: str, force: bool = False) -> dict[str, Any]:
    started = httpx.post(f"{router}/bundles/{username}/refresh", json={"force": force}, timeout=30)
    assert started.status_code == 202, started.text
    assert started.json()["path"] == "legacy", "0 % to the queue: served by legacy"

    def finished() -> dict[str, Any] | None:
        view = httpx.get(f"{router}/bundles/{username}/status", params={"job_id": started.json()["job_id"]}).json()
        return view if view["status"] != "processing" else None

    return wait_until(finished, 60, interval=0.1)


def test_legacy_primary_with_queue_shadow_records_a_match(github: FakeGitHub, services: dict[str, Any]) -> None:
    username = f"sh{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 12)
    view = refresh_and_wait(services["router"], username)
    expected = bundle_fingerprint(metadata_fingerprint(r.meta) for r in github.users[username].values())
    assert view["status"] == "completed" and view["bundle_fingerprint"] == expected
    [comparison] = comparisons(services["router"], 1)
    assert comparison["verdict"] == "match", comparison.get("error")
    assert comparison["primary_path"] == "legacy" and comparison["shadow_path"] == "queue"
    assert comparison["primary_fingerprint"] == comparison["shadow_fingerprint"] == expected
    bundle = httpx.get(f"{services['router']}/bundles/{username}").json()
    assert bundle["path"] == "legacy" and bundle["fingerprint"] == expected


def test_a_repo_pushed_between_the_two_fetches_is_a_source_change_not_a_divergence(
    github: FakeGitHub, services: dict[str, Any]
) -> None:
    username = f"mm{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 12)
    # whichever path lists second sees a push to repo-0005 that the first did not
    github.mutate_after_listings(username, 1, "repo-0005", "2026-03-03T00:00:00Z")
    refresh_and_wait(services["router"], username)
    [comparison] = comparisons(services["router"], 1)
    assert comparison["verdict"] == "source_changed", comparison
    assert comparison["diff"] == {"changed": ["repo-0005"], "only_primary": [], "only_shadow": [],
                                  "source_changed": ["repo-0005"], "divergent": []}
    metrics = httpx.get(f"{services['router']}/metrics").text
    assert 'shadow_comparisons_total{primary_path="legacy",verdict="source_changed"} 1.0' in metrics
    assert 'verdict="divergence"' not in metrics


def test_records_that_differ_at_the_same_revision_are_a_divergence_naming_the_repo(
    github: FakeGitHub, services: dict[str, Any]
) -> None:
    username = f"dv{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 8)
    # the second listing reports another size for repo-0003 with no push: same revision, different record
    github.mutate_after_listings(username, 1, "repo-0003", size=9999)
    refresh_and_wait(services["router"], username)
    [comparison] = comparisons(services["router"], 1)
    assert comparison["verdict"] == "divergence", comparison
    assert comparison["diff"]["divergent"] == ["repo-0003"] and comparison["diff"]["source_changed"] == []
    [(field, values)] = comparison["fields"]["repo-0003"].items()  # the repo diff: the one field that differs
    assert field == "size" and 9999 in values and values[0] != values[1], comparison["fields"]
    metrics = httpx.get(f"{services['router']}/metrics").text
    assert 'shadow_comparisons_total{primary_path="legacy",verdict="divergence"} 1.0' in metrics
