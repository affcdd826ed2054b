"""A step's analysis: the queue path against the legacy baseline in the same window."""

from __future__ import annotations

import pytest

from rollout.analysis import FAIL, INCONCLUSIVE, PASS, SKIPPED, Measurements, PathWindow, analyse
from rollout.plan import Gates

GATES = Gates(max_error_rate=0.02, max_error_rate_over_legacy=0.01, max_p95_ratio=1.5, max_divergences=0,
              min_comparisons=5, min_requests=50)
HEALTHY = Measurements(PathWindow(200, 1, 0.030), PathWindow(800, 2, 0.040), comparisons=10, divergences=0)


def verdicts(m: Measurements, percentage: float = 25) -> dict[str, str]:
    return {g.gate: g.verdict for g in analyse(m, GATES, percentage).gates}


def test_a_queue_path_as_good_as_legacy_passes_every_gate() -> None:
    analysis = analyse(HEALTHY, GATES, 25)
    assert analysis.verdict == PASS and set(verdicts(HEALTHY).values()) == {PASS}
    assert analysis.summary() == "pass: every gate passed"


@pytest.mark.parametrize(("queue", "legacy", "divergences", "failing"), [
    (PathWindow(200, 10, 0.03), PathWindow(800, 40, 0.04), 0, "error rate"),             # 5 % > 2 % absolute
    (PathWindow(200, 3, 0.03), PathWindow(800, 0, 0.04), 0, "error rate vs legacy"),    # 1.5 % vs legacy 0 + 1
    (PathWindow(200, 1, 0.09), PathWindow(800, 2, 0.04), 0, "p95 vs legacy"),           # x2.25 > x1.5
])
def test_one_failing_gate_fails_the_step(queue: PathWindow, legacy: PathWindow, divergences: int,
                                         failing: str) -> None:
    m = Measurements(queue, legacy, comparisons=10, divergences=divergences)
    analysis = analyse(m, GATES, 25)
    assert analysis.verdict == FAIL and verdicts(m)[failing] == FAIL
    assert failing in analysis.summary()


def test_a_divergence_holds_the_step_instead_of_rolling_back() -> None:
    m = Measurements(HEALTHY.queue, HEALTHY.legacy, comparisons=10, divergences=1)
    analysis = analyse(m, GATES, 25)
    assert analysis.verdict == INCONCLUSIVE and verdicts(m)["shadow divergences"] == "hold"
    assert "shadow divergences hold (1 of 10" in analysis.summary()


def test_too_little_traffic_or_too_few_comparisons_is_inconclusive_never_pass() -> None:
    quiet = Measurements(PathWindow(10, 0, 0.03), PathWindow(800, 2, 0.04), comparisons=10)
    assert analyse(quiet, GATES, 25).verdict == INCONCLUSIVE and verdicts(quiet)["queue requests"] == INCONCLUSIVE
    few = Measurements(HEALTHY.queue, HEALTHY.legacy, comparisons=2)
    assert analyse(few, GATES, 25).verdict == INCONCLUSIVE
    no_p95 = Measurements(PathWindow(200, 1, None), HEALTHY.legacy, comparisons=10)
    assert analyse(no_p95, GATES, 25).verdict == INCONCLUSIVE


def test_a_failure_wins_over_missing_evidence() -> None:
    m = Measurements(PathWindow(200, 20, None), PathWindow(10, 0, None), comparisons=0)
    assert analyse(m, GATES, 25).verdict == FAIL


def test_at_100_percent_the_legacy_baseline_is_skipped_not_inconclusive() -> None:
    m = Measurements(PathWindow(500, 2, 0.05), PathWindow(0, 0, None), comparisons=10)
    result = verdicts(m, 100)
    assert result["legacy requests"] == result["error rate vs legacy"] == result["p95 vs legacy"] == SKIPPED
    assert analyse(m, GATES, 100).verdict == PASS
