"""Error-rate evaluation: unknown is never healthy; too few requests never roll back."""

from __future__ import annotations

from rollout.alerts import HEALTHY, UNHEALTHY, UNKNOWN, ErrorRateEvaluator, Sample, parse_metrics

METRICS = """# TYPE router_requests_total counter
router_requests_total{path="queue",route="/bundles/{username}/refresh",status_class="2xx"} 90.0
router_requests_total{path="queue",route="/bundles/{username}/refresh",status_class="5xx"} 4.0
router_requests_total{path="legacy",route="/bundles/{username}/refresh",status_class="5xx"} 50.0
router_requests_total{path="-",route="/health",status_class="2xx"} 7.0
# TYPE router_jobs_finished_total counter
router_jobs_finished_total{outcome="failed",path="queue"} 3.0
router_jobs_finished_total{outcome="completed",path="queue"} 10.0
router_jobs_finished_total{outcome="failed",path="legacy"} 9.0
"""


def test_metrics_parse_counts_only_the_queue_path() -> None:
    assert parse_metrics(METRICS) == (94.0, 7.0)


def test_no_data_or_one_sample_is_unknown() -> None:
    evaluator = ErrorRateEvaluator(window_seconds=60, threshold=0.02, min_requests=10)
    assert evaluator.evaluate().state == UNKNOWN
    evaluator.add(Sample(0, 0, 0))
    assert evaluator.evaluate().state == UNKNOWN


def test_a_burst_below_the_minimum_is_unknown_even_at_100_percent_errors() -> None:
    evaluator = ErrorRateEvaluator(window_seconds=60, threshold=0.02, min_requests=10)
    evaluator.add(Sample(0, 0, 0))
    evaluator.add(Sample(10, 5, 5))
    verdict = evaluator.evaluate()
    assert verdict.state == UNKNOWN and "only 5" in verdict.reason


def test_rate_over_the_window() -> None:
    evaluator = ErrorRateEvaluator(window_seconds=60, threshold=0.02, min_requests=10)
    evaluator.add(Sample(0, 1000, 500))  # old errors, outside the window once it moves on
    evaluator.add(Sample(30, 1100, 500))
    evaluator.add(Sample(90, 1200, 501))
    healthy = evaluator.evaluate()
    assert healthy.state == HEALTHY and healthy.requests == 100 and healthy.errors == 1
    evaluator.add(Sample(120, 1300, 510))
    unhealthy = evaluator.evaluate()
    assert unhealthy.state == UNHEALTHY and round(unhealthy.rate, 3) == 0.05 and "> 2.0%" in unhealthy.reason


def test_a_counter_reset_restarts_the_window() -> None:
    evaluator = ErrorRateEvaluator(window_seconds=60, threshold=0.02, min_requests=1)
    evaluator.add(Sample(0, 1000, 0))
    evaluator.add(Sample(10, 5, 0))  # a router restarted
    assert evaluator.evaluate().state == UNKNOWN and len(evaluator.samples) == 1
