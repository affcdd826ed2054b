"""The plan run end to end: two router replicas under generated traffic, a real Prometheus scraping
them, the Prometheus provider's PromQL deciding every step (dwell and window scaled to seconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.replicas import router_replicas
from cloudfolio.devserver.traffic import front_end_traffic
from cloudfolio.devserver.waiting import wait_until
from rollout.flags import parse_flags
from rollout.measure import MetricsUnavailable
from rollout.plan import parse_plan
from rollout.progression import AWAITING, COMPLETED, ROLLED_BACK, Progression
from rollout.prometheus_provider import PrometheusProvider
from rollout.stores import FileFlagStore
from router.bucketing import choose_path
from services.core.serving import ServingPath
from services.core.settings import Settings
from tests.support.prometheus import Prometheus, running_prometheus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLAN = parse_plan("""
window_seconds = 8
inconclusive_pause_seconds = 600
consecutive_error_limit = 3
[gates]
min_requests = 5
max_p95_ratio = 20
[[steps]]
percentage = 10
min_dwell_seconds = 2
[[steps]]
percentage = 25
min_dwell_seconds = 2
[[steps]]
percentage = 50
min_dwell_seconds = 2
confirm = true
[[steps]]
percentage = 100
min_dwell_seconds = 2
""", "scaled-plan.toml")
USERS = [f"pl{i:02d}" for i in range(40)]


@pytest.fixture(scope="module")
def replicas(github_server: tuple[FakeGitHub, Any], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Any]]:
    github = github_server[0]
    for user in USERS:
        if user not in github.users:
            github.add_generated_user(user, 2, documented=False)  # undocumented: no training on the side
    data = tmp_path_factory.mktemp("plan-prometheus")
    with router_replicas(github.base_url, data / "shared") as replicas, \
            running_prometheus(replicas.targets, data / "prometheus") as prometheus:
        yield {"routers": replicas.urls, "flags": replicas.flags, "prometheus": prometheus, "github": github}


@pytest.fixture
def traffic(replicas: dict[str, Any]) -> Iterator[None]:
    with front_end_traffic(replicas["routers"], USERS):
        yield


def percentage(store: FileFlagStore) -> float:
    return parse_flags(store.read())[0].percentage


def test_a_healthy_queue_path_walks_10_25_50_100_on_prometheus_evidence(
        replicas: dict[str, Any], traffic: None) -> None:
    store = FileFlagStore(replicas["flags"])
    progression = Progression(store, PLAN, PrometheusProvider(replicas["prometheus"].url))
    progression.start(actor="test", reason="scaled migration")
    seen: list[float] = []

    def reached(status: str) -> bool:
        outcome = progression.evaluate()
        seen.append(percentage(store))
        assert outcome.action != "rolled_back", outcome.reason
        return outcome.state.status == status

    wait_until(lambda: reached(AWAITING), 90, lambda: f"never awaited confirmation; percentages {seen}",
               interval=1)
    assert percentage(store) == 25 and 10 in seen, "10 then 25 on evidence, and 50 waits for a person"
    last = progression.state().last
    assert last["verdict"] == "pass" and "histogram_quantile" in last["queries"]["p95"]
    progression.promote(actor="test", reason="confirmed")
    wait_until(lambda: reached(COMPLETED), 90, lambda: f"never completed; percentages {seen}", interval=1)
    assert percentage(store) == 100 and sorted(set(seen)) == [10, 25, 50, 100]


def test_the_dashboards_series_come_from_every_replica_through_range_queries(
        replicas: dict[str, Any], traffic: None) -> None:
    FileFlagStore(replicas["flags"]).write({"QUEUE-TRAFFIC-PCT": "50"}, actor="test", reason="both paths busy")
    provider = PrometheusProvider(replicas["prometheus"].url)

    def both_paths() -> dict[str, list[Any]] | None:
        series = provider.series(120, 5)
        busy = {path: [p for p in points if p.rate > 0] for path, points in series.items()}
        return busy if all(busy.values()) else None

    busy = wait_until(both_paths, 60, lambda: "Prometheus never showed traffic on both paths", interval=1)
    for path, points in busy.items():
        assert all(p.error_ratio is not None and p.p95 is not None and p.p95 > 0 for p in points), (path, points)
        assert [p.at for p in points] == sorted(p.at for p in points)


def test_a_stopped_prometheus_rolls_back_after_the_error_limit(replicas: dict[str, Any], tmp_path: Path) -> None:
    store = FileFlagStore(tmp_path / "flags.json")
    with running_prometheus(["127.0.0.1:9"], tmp_path / "prometheus") as prometheus:
        progression = Progression(store, PLAN, PrometheusProvider(prometheus.url, timeout=2))
        progression.start(actor="test", reason="outage drill")
        assert progression.evaluate().action == "held", "reachable, no traffic: inconclusive"
    stopped: Prometheus = prometheus
    assert stopped.process.poll() is not None
    with pytest.raises(MetricsUnavailable):
        PrometheusProvider(stopped.url, timeout=1).measure(8)
    actions = [progression.evaluate().action for _ in range(PLAN.consecutive_error_limit)]
    assert actions == ["held", "held", "rolled_back"] and percentage(store) == 0
    assert progression.state().status == ROLLED_BACK and "metrics unavailable" in parse_flags(store.read())[0].lock


def test_a_queue_path_failing_5_percent_of_its_jobs_rolls_back_at_the_step_it_starts(
        replicas: dict[str, Any]) -> None:
    store = FileFlagStore(replicas["flags"])
    # a long dwell: nothing may promote while the failures reach the window (a pass only holds)
    patient = replace(PLAN, steps=tuple(replace(step, min_dwell_seconds=300) for step in PLAN.steps))
    progression = Progression(store, patient, PrometheusProvider(replicas["prometheus"].url))
    github: FakeGitHub = replicas["github"]
    salt, tag = Settings.from_env({}).rollout_salt, time.monotonic_ns() % 10**6
    candidates = [f"pf{tag}-{i:03d}" for i in range(600)]
    on_queue = [u for u in candidates if choose_path(u, 10, salt=salt)[0] is ServingPath.QUEUE]
    healthy, failing = on_queue[:19], on_queue[19:20]
    legacy_users = [u for u in candidates if u not in on_queue][:20]
    for user in healthy + failing + legacy_users:
        github.add_generated_user(user, 2, documented=False)
    progression.start(actor="test", reason="a bad deploy of the workers")
    with front_end_traffic(replicas["routers"], healthy + legacy_users, force=True):
        wait_until(lambda: progression.evaluate().state.last.get("verdict") == "pass", 30,
                   lambda: f"no healthy evidence first: {progression.state().last}", interval=1)
    # every GraphQL call now fails: a user synced before completes from its stored records (its repos
    # listed as failed), the one never synced has nothing to merge and its jobs fail: 1 in 20 queue users
    fault = github.inject("^/graphql$", "status", status=502, times=None)
    try:
        with front_end_traffic(replicas["routers"], healthy + failing + legacy_users, force=True):
            outcome = wait_until(lambda: (lambda o: o if o.action != "held" else None)(progression.evaluate()), 60,
                                 lambda: f"still held: {progression.state().last}", interval=1)
    finally:
        with github.lock:
            github.faults.remove(fault)
    assert outcome.action == "rolled_back", outcome
    flags = parse_flags(store.read())[0]
    assert flags.percentage == 0 and flags.locked and "step 1 (10 %)" in flags.lock
    assert "error rate fail" in flags.lock or "error rate vs legacy fail" in flags.lock, flags.lock
