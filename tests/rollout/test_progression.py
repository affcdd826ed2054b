"""The plan run: promotes on evidence, holds when unsure, pauses, waits for a person, rolls back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.analysis import Measurements, PathWindow
from rollout.changes import RolloutLocked
from rollout.flags import parse_flags
from rollout.measure import MetricsUnavailable
from rollout.notify import WebhookNotifier
from rollout.plan import parse_plan
from rollout.progression import AWAITING, COMPLETED, PAUSED, ROLLED_BACK, RUNNING, PlanRefused, Progression
from rollout.runbook import reenable
from rollout.stores import FileFlagStore
from tests.rollout.conftest import Receiver, Scripted
from tests.support.clocks import ManualClock

PLAN = parse_plan("""
window_seconds = 60
inconclusive_pause_seconds = 100
consecutive_error_limit = 3
[gates]
min_requests = 20
[[steps]]
percentage = 10
min_dwell_seconds = 30
[[steps]]
percentage = 25
min_dwell_seconds = 30
[[steps]]
percentage = 50
min_dwell_seconds = 30
confirm = true
[[steps]]
percentage = 100
min_dwell_seconds = 30
""", "test-plan.toml")

HEALTHY = Measurements(PathWindow(100, 0, 0.03), PathWindow(100, 0, 0.03))
FAILING = Measurements(PathWindow(100, 5, 0.03), PathWindow(100, 0, 0.03))
QUIET = Measurements(PathWindow(3, 0, 0.03), PathWindow(100, 0, 0.03))


@pytest.fixture
def store(tmp_path: Path) -> FileFlagStore:
    return FileFlagStore(tmp_path / "flags.json")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


@pytest.fixture
def provider() -> Scripted:
    return Scripted()


@pytest.fixture
def progression(store: FileFlagStore, provider: Scripted, clock: ManualClock) -> Progression:
    return Progression(store, PLAN, provider, clock=clock)


def percentage(store: FileFlagStore) -> float:
    return parse_flags(store.read())[0].percentage


def evaluate_every(progression: Progression, clock: ManualClock, seconds: float, times: int) -> list[str]:
    actions = []
    for _ in range(times):
        clock.now += seconds
        actions.append(progression.evaluate().action)
    return actions


def test_a_healthy_queue_path_walks_the_plan_pausing_only_for_the_confirmation(
        progression: Progression, store: FileFlagStore, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="migration day")
    assert percentage(store) == 10 and progression.state().status == RUNNING
    assert evaluate_every(progression, clock, 10, 2) == ["held", "held"], "the dwell is 30 s"
    assert evaluate_every(progression, clock, 10, 1) == ["promoted"] and percentage(store) == 25
    assert evaluate_every(progression, clock, 15, 2) == ["held", "awaiting_confirmation"]
    assert progression.state().status == AWAITING and percentage(store) == 25
    assert evaluate_every(progression, clock, 60, 2) == ["held", "held"], "nothing promotes without a person"
    progression.promote(actor="bob", reason="dashboards look fine")
    assert percentage(store) == 50 and progression.state().status == RUNNING
    assert evaluate_every(progression, clock, 31, 2) == ["promoted", "completed"]
    assert percentage(store) == 100 and progression.state().status == COMPLETED
    history = json.loads(store.path.read_text())["history"]
    assert {"name": "QUEUE-TRAFFIC-PCT", "value": "50", "previous": "25", "actor": "bob"}.items() <= next(
        h for h in history if h["actor"] == "bob" and h["name"] == "QUEUE-TRAFFIC-PCT").items()
    assert any(h["actor"] == "rollout-plan" and h["value"] == "25" and "promoted on evidence" in h["reason"]
               for h in history)


def test_failing_evidence_rolls_back_within_one_evaluation(
        progression: Progression, store: FileFlagStore, provider: Scripted, clock: ManualClock,
        receiver: Receiver) -> None:
    progression.notifier = WebhookNotifier(receiver.url)
    progression.start(actor="alice", reason="go")
    evaluate_every(progression, clock, 31, 1)
    assert percentage(store) == 25
    provider.current = FAILING
    outcome = evaluate_every(progression, clock, 5, 1)
    assert outcome == ["rolled_back"] and percentage(store) == 0
    flags = parse_flags(store.read())[0]
    assert flags.locked and "step 2 (25 %)" in flags.lock and "error rate fail" in flags.lock
    assert progression.state().status == ROLLED_BACK and receiver.received
    assert evaluate_every(progression, clock, 60, 1) == ["idle"], "a rolled-back plan stays stopped"


def test_too_little_traffic_holds_then_pauses_and_never_promotes(
        progression: Progression, store: FileFlagStore, provider: Scripted, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="go")
    provider.current = QUIET
    actions = evaluate_every(progression, clock, 40, 5)  # inconclusive from the first; pauses after 100 s of it
    assert actions == ["held", "held", "held", "paused", "held"] and percentage(store) == 10
    assert progression.state().status == PAUSED
    provider.current = HEALTHY
    assert evaluate_every(progression, clock, 40, 1) == ["held"], "paused: a pass does not promote"
    progression.resume(actor="alice", reason="traffic is back")
    assert evaluate_every(progression, clock, 1, 1) == ["promoted"] and percentage(store) == 25


def test_a_divergence_holds_the_step_and_never_promotes(
        progression: Progression, store: FileFlagStore, provider: Scripted, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="go")
    provider.current = Measurements(HEALTHY.queue, HEALTHY.legacy, comparisons=10, divergences=1)
    assert evaluate_every(progression, clock, 40, 2) == ["held", "held"] and percentage(store) == 10
    assert not parse_flags(store.read())[0].locked, "a divergence is for a person to read, not a rollback"


def test_a_metrics_outage_is_held_then_counts_as_a_failure(
        progression: Progression, store: FileFlagStore, provider: Scripted, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="go")
    provider.current = MetricsUnavailable("scrape of http://router/metrics failed: ConnectError")
    assert evaluate_every(progression, clock, 40, 3) == ["held", "held", "rolled_back"]
    assert percentage(store) == 0 and "metrics unavailable (3 of 3" in parse_flags(store.read())[0].lock


def test_one_good_answer_resets_the_error_count(
        progression: Progression, provider: Scripted, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="go")
    outage = MetricsUnavailable("down")
    for current in (outage, outage, HEALTHY, outage, outage):
        provider.current = current
        assert evaluate_every(progression, clock, 5, 1)[0] in ("held", "promoted")
    assert progression.state().errors_in_a_row == 2


def test_promotion_never_happens_while_the_rollout_is_locked(
        progression: Progression, store: FileFlagStore, clock: ManualClock) -> None:
    progression.start(actor="alice", reason="go")
    store.write({"ROLLOUT-LOCK": '{"reason": "manual"}'}, actor="carol", reason="hold everything")
    assert evaluate_every(progression, clock, 40, 1) == ["rolled_back"] and percentage(store) == 10
    with pytest.raises((PlanRefused, RolloutLocked)):
        progression.promote(actor="bob", reason="force it")
    reenable(store, "fixed", actor="carol")
    with pytest.raises(PlanRefused):
        progression.resume(actor="alice", reason="the plan stopped; start it again")


def test_commands_that_do_not_apply_are_refused(progression: Progression) -> None:
    with pytest.raises(PlanRefused, match="not_started"):
        progression.promote(actor="bob", reason="x")
    with pytest.raises(PlanRefused):
        progression.resume(actor="bob", reason="x")

