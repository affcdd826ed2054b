"""The dashboard's metric history: per-interval request rate, error ratio and p95 per path, from the
router's real registry, with the clock injected."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from router.metric_history import MetricHistory
from router.metrics import RouterMetrics


def test_each_interval_gives_the_rate_the_error_ratio_and_the_p95_of_its_own_requests() -> None:
    registry = CollectorRegistry()
    metrics = RouterMetrics(registry)
    now = [1000.0]
    history = MetricHistory(registry, step=10, span=30, clock=lambda: now[0])
    history.sample()
    for _ in range(18):
        metrics.observe("/bundles/{username}", "queue", 200, 0.004)
    metrics.observe("/bundles/{username}", "queue", 503, 0.004)
    metrics.jobs.labels("queue", "failed").inc()  # a failed job counts as an error, as the rollout gates count it
    metrics.observe("/bundles/{username}", "legacy", 200, 0.4)
    metrics.observe("/bundles/{username}", "-", 200, 9)  # no path: not charted
    now[0] += 10
    history.sample()
    queue, legacy = history.series()["queue"][0], history.series()["legacy"][0]
    assert queue.rate == pytest.approx(1.9) and queue.error_ratio == pytest.approx(2 / 19)
    assert 0.002 < queue.p95 <= 0.005 and 0.25 < legacy.p95 <= 0.5
    now[0] += 10
    history.sample()
    quiet = history.series()["queue"][1]
    assert (quiet.rate, quiet.error_ratio, quiet.p95) == (0.0, None, None), "no requests: no ratio, no p95"


def test_samples_older_than_the_span_are_dropped_and_a_view_samples_only_when_due() -> None:
    registry = CollectorRegistry()
    RouterMetrics(registry)
    now = [0.0]
    history = MetricHistory(registry, step=10, span=30, clock=lambda: now[0])
    for _ in range(6):
        history.sample_if_due()
        history.sample_if_due()  # not due again at the same moment
        now[0] += 10
    # samples at 0, 10, ..., 50; the last 30 s keep 20 to 50: three intervals
    assert [p.at for p in history.series()["queue"]] == [30.0, 40.0, 50.0]
