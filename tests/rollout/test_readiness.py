"""Decommission readiness: ready only on a week at 100 % with clean evidence, never on missing data."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.analysis import Measurements, PathWindow
from rollout.measure import MetricsUnavailable
from rollout.plan import parse_plan
from rollout.progression import Progression
from rollout.readiness import DAY, assess
from rollout.runbook import RollbackReason, rollback
from rollout.stores import FileFlagStore
from tests.rollout.conftest import Scripted
from tests.support.clocks import ManualClock

PLAN = parse_plan("[[steps]]\npercentage = 50\nmin_dwell_seconds = 10\n[[steps]]\npercentage = 100\n"
                  "min_dwell_seconds = 10\n", "two-steps.toml")
CLEAN_WEEK = Measurements(PathWindow(10_000, 5, 0.03), PathWindow(0, 0, None), comparisons=500, divergences=0)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[FileFlagStore, Scripted, ManualClock, Progression]:
    store, provider, clock = FileFlagStore(tmp_path / "flags.json"), Scripted(), ManualClock(1_000_000.0)
    progression = Progression(store, PLAN, provider, clock=clock)
    progression.start(actor="alice", reason="go")
    clock.now += 20
    assert progression.evaluate().action == "promoted"  # 50 -> 100 on HEALTHY (equal error rates)
    return store, provider, clock, progression


def failing(readiness: object) -> list[str]:
    return [c.name for c in readiness.checks if not c.ok]  # type: ignore[attr-defined]


def test_a_week_at_100_percent_with_clean_evidence_is_ready(setup: tuple) -> None:
    store, provider, clock, _progression = setup
    provider.current = CLEAN_WEEK
    clock.now += 6 * DAY
    early = assess(store, provider, clock.now)
    assert not early.ready and failing(early) == ["at 100 % for 7 days"]
    clock.now += 1.01 * DAY
    ready = assess(store, provider, clock.now)
    assert ready.ready, ready.as_dict()
    assert any("queue 0.00%, legacy 0.00%" in c.evidence for c in ready.checks)


@pytest.mark.parametrize(("measurements", "failed"), [
    (Measurements(PathWindow(10_000, 5), PathWindow(), comparisons=500, divergences=1), "no divergence"),
    (Measurements(PathWindow(10_000, 5), PathWindow(), comparisons=20), "at least 100 shadow comparisons"),
    (Measurements(PathWindow(10_000, 5), PathWindow(), comparisons=500, covered_seconds=3600),
     "the metrics cover the time at 100 %"),
])
def test_bad_or_partial_evidence_is_not_ready(setup: tuple, measurements: Measurements, failed: str) -> None:
    store, provider, clock, _progression = setup
    provider.current = measurements
    clock.now += 8 * DAY
    readiness = assess(store, provider, clock.now)
    assert not readiness.ready and failing(readiness) == [failed]


def test_a_rollback_or_a_metrics_outage_is_never_ready(setup: tuple) -> None:
    store, provider, clock, _progression = setup
    clock.now += 8 * DAY
    provider.current = MetricsUnavailable("prometheus down")
    assert "shadow evidence" in failing(assess(store, provider, clock.now))
    provider.current = CLEAN_WEEK
    rollback(store, RollbackReason("manual", None, None, "-", "drill"), actor="carol")
    readiness = assess(store, provider, clock.now)
    assert not readiness.ready and "no rollback since" in failing(readiness)


def test_without_a_plan_there_is_no_evidence(tmp_path: Path) -> None:
    store = FileFlagStore(tmp_path / "flags.json", seed={"QUEUE-TRAFFIC-PCT": "100"})
    readiness = assess(store, Scripted(), 1_000_000.0)
    assert not readiness.ready and "at 100 % for 7 days" in failing(readiness)


def test_a_queue_path_worse_than_legacy_before_the_cut_over_is_not_ready(tmp_path: Path) -> None:
    store, provider, clock = FileFlagStore(tmp_path / "flags.json"), Scripted(), ManualClock(0.0)
    progression = Progression(store, PLAN, provider, clock=clock)
    progression.start(actor="alice", reason="go")
    provider.current = Measurements(PathWindow(10_000, 90, 0.03), PathWindow(10_000, 50, 0.03))  # 0.9 % vs 0.5 %
    clock.now += 20
    assert progression.evaluate().action == "promoted", "within the gates (2 %, legacy + 1 point)"
    provider.current = CLEAN_WEEK
    clock.now += 8 * DAY
    readiness = assess(store, provider, clock.now)
    assert failing(readiness) == ["queue error rate <= legacy's before the cut-over"]

