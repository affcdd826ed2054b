"""The rollout plan run: promote, hold, pause or roll back on every evaluation, from evidence.

:class:`Progression` keeps the plan's state in the flag store (``ROLLOUT-PLAN-STATE``, JSON: status,
step, when the step was entered, the last analysis) so every replica, ``rollout status`` and
``GET /admin/rollout`` see the same stage, and every write carries who and why (the store keeps the
previous value). The rules, on each :meth:`Progression.evaluate`:

- the step's analysis (:func:`rollout.analysis.analyse`) over the plan's window, from the
  :class:`~rollout.measure.MetricsProvider`;
- ``fail`` runs the rollback runbook (0 %, ``ROLLOUT-LOCK``, notification) in any status;
  ``consecutive_error_limit`` provider errors in a row count as ``fail``, so a metrics outage
  cannot freeze a bad rollout; fewer are held;
- ``inconclusive`` never promotes: the step holds, and after ``inconclusive_pause_seconds`` the
  plan pauses and the operators are notified;
- ``pass`` promotes once the step's ``min_dwell_seconds`` have passed, unless the next step asks for
  a human (``awaiting_confirmation`` until ``rollout plan promote``) or the rollout is locked
  (promotion never happens while ``ROLLOUT-LOCK`` is set); ``pass`` at the last step after its dwell
  is ``completed``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rollout.analysis import FAIL, INCONCLUSIVE, PASS, analyse
from rollout.changes import FlagChanges, RolloutLocked, set_flags
from rollout.flags import parse_flags
from rollout.measure import MetricsProvider, MetricsUnavailable
from rollout.notify import WebhookNotifier
from rollout.plan import RolloutPlan
from rollout.runbook import RollbackReason, rollback
from rollout.stores import FlagStore
from services.core.errors import Refused

log = logging.getLogger("cloudfolio.rollout.plan")

STATE_FLAG = "ROLLOUT-PLAN-STATE"
NOT_STARTED, RUNNING, PAUSED, AWAITING = "not_started", "running", "paused", "awaiting_confirmation"
COMPLETED, ABORTED, ROLLED_BACK = "completed", "aborted", "rolled_back"
#: Statuses in which evaluations still watch the traffic (and may roll back).
WATCHED = (RUNNING, PAUSED, AWAITING)
#: An unchanged stage and verdict are written again after this long (so ``rollout status`` stays fresh).
REFRESH_SECONDS = 300.0


class PlanRefused(Refused):
    """A plan command that does not apply in the plan's current status."""


@dataclass
class PlanState:
    status: str = NOT_STARTED
    step: int = 0
    entered_at: float | None = None
    inconclusive_since: float | None = None
    errors_in_a_row: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    saved_at: float | None = None
    #: One entry per step left: its percentage, when it was entered and left, its last analysis.
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, store: FlagStore) -> PlanState:
        return cls.from_flags(store.read())

    @classmethod
    def from_flags(cls, flags: Mapping[str, str]) -> PlanState:
        raw = flags.get(STATE_FLAG)
        try:
            return cls(**json.loads(raw)) if raw else cls()
        except (TypeError, ValueError):
            log.error("%s is not a plan state; treating the plan as not started", STATE_FLAG)
            return cls()


def _stage(state: PlanState) -> tuple[Any, ...]:
    return (state.status, state.step, state.entered_at, state.inconclusive_since, state.errors_in_a_row,
            state.last.get("verdict"))


@dataclass(frozen=True)
class Outcome:
    action: str  # promoted, held, paused, awaiting_confirmation, completed, rolled_back, idle
    reason: str
    state: PlanState


class Progression:
    """Runs ``plan`` against ``store`` with evidence from ``provider``.

    Parameters:
      store(FlagStore): flags and the plan's state.
      plan(RolloutPlan): the steps and gates.
      provider(MetricsProvider): where the measurements come from.
      clock(callable): wall-clock seconds; tests set their own.
      notifier(WebhookNotifier | None): where pauses, confirmations and rollbacks are announced.
      actor(str): who the automatic transitions are written as. Defaults to ``rollout-plan``.
    """

    def __init__(self, store: FlagStore, plan: RolloutPlan, provider: MetricsProvider, *,
                 clock: Callable[[], float] = time.time, notifier: WebhookNotifier | None = None,
                 actor: str = "rollout-plan") -> None:
        self.store, self.plan, self.provider = store, plan, provider
        self.clock, self.notifier, self.actor = clock, notifier, actor
        self._stored: PlanState | None = None  # what the store holds, as last read or written here

    # -- the operators' commands -------------------------------------------------------------
    def state(self) -> PlanState:
        """The stored state, read now (and remembered as what the store holds)."""
        state = PlanState.read(self.store)
        self._stored = PlanState(**asdict(state))
        return state

    def start(self, *, actor: str, reason: str) -> PlanState:
        self.state()
        return self._enter(PlanState(status=RUNNING), 0, actor=actor, reason=f"plan started: {reason}")

    def pause(self, *, actor: str, reason: str) -> PlanState:
        return self._set_status({RUNNING, AWAITING}, PAUSED, actor, reason)

    def resume(self, *, actor: str, reason: str) -> PlanState:
        return self._set_status({PAUSED}, RUNNING, actor, reason, reset_inconclusive=True)

    def promote(self, *, actor: str, reason: str) -> PlanState:
        """Enter the next step now (the confirmation a step asks for, or a human's override)."""
        state = self.state()
        if state.status not in WATCHED or state.step + 1 >= len(self.plan.steps):
            raise PlanRefused(f"nothing to promote: the plan is {state.status} at step {state.step + 1} of "
                              f"{len(self.plan.steps)}")
        return self._enter(state, state.step + 1, actor=actor, reason=f"promoted by hand: {reason}")

    def abort(self, *, actor: str, reason: str) -> PlanState:
        state = self.state()
        set_flags(self.store, FlagChanges(percentage=0), actor=actor, reason=f"plan aborted: {reason}")
        state.status = ABORTED
        self._save(state, actor, f"plan aborted: {reason}")
        return state

    # -- one evaluation --------------------------------------------------------------------------
    def evaluate(self) -> Outcome:
        raw = self.store.read()  # one read of the store per evaluation: the state, the lock, the baseline
        state, self._stored = PlanState.from_flags(raw), PlanState.from_flags(raw)
        if state.status not in WATCHED:
            return Outcome("idle", f"the plan is {state.status}", state)
        flags, _problems = parse_flags(raw)
        if flags.locked:
            state.status = ROLLED_BACK
            self._save(state, self.actor, "the rollout is locked: the plan stops")
            return Outcome("rolled_back", f"the rollout is locked ({flags.lock})", state)
        step = self.plan.steps[state.step]
        now = self.clock()
        try:
            measurements = self.provider.measure(self.plan.window_seconds)
            state.errors_in_a_row = 0
            analysis = analyse(measurements, step.gates, step.percentage)
            verdict, summary = analysis.verdict, analysis.summary()
            state.last = {"at": now, **analysis.as_dict(), "queries": measurements.queries,
                          "error_rates": {"queue": measurements.queue.error_rate,
                                          "legacy": measurements.legacy.error_rate}}
        except MetricsUnavailable as exc:
            state.errors_in_a_row += 1
            limit = self.plan.consecutive_error_limit
            verdict = FAIL if state.errors_in_a_row >= limit else INCONCLUSIVE
            summary = f"metrics unavailable ({state.errors_in_a_row} of {limit} in a row): {exc}"
            state.last = {"at": now, "verdict": verdict, "gates": [], "error": str(exc)}
            if verdict == INCONCLUSIVE:
                self._save(state, self.actor, summary)
                return Outcome("held", summary, state)
        if verdict == FAIL:
            return self._roll_back(state, step.percentage, summary)
        if verdict == INCONCLUSIVE:
            return self._hold(state, now, summary)
        state.inconclusive_since = None
        return self._after_pass(state, now, summary)

    def _after_pass(self, state: PlanState, now: float, summary: str) -> Outcome:
        step = self.plan.steps[state.step]
        dwelt = 0.0 if state.entered_at is None else now - state.entered_at
        if state.status != RUNNING or dwelt < step.min_dwell_seconds:
            self._save(state, self.actor, summary)
            why = f"{state.status}" if state.status != RUNNING else \
                f"in step {dwelt:.0f}s of {step.min_dwell_seconds:.0f}s"
            return Outcome("held", f"{PASS}, {why}", state)
        if state.step + 1 >= len(self.plan.steps):
            state.status = COMPLETED
            self._save(state, self.actor, f"plan completed at {step.percentage:g} %: {summary}")
            return Outcome("completed", summary, state)
        following = self.plan.steps[state.step + 1]
        if following.confirm:
            state.status = AWAITING
            self._save(state, self.actor, f"step {state.step + 2} ({following.percentage:g} %) awaits confirmation")
            self._notify("Rollout awaits confirmation", f"{summary}; run `cloudfolio rollout plan promote` to go to "
                         f"{following.percentage:g} %", "info")
            return Outcome("awaiting_confirmation", summary, state)
        try:
            self._enter(state, state.step + 1, actor=self.actor, reason=f"promoted on evidence: {summary}")
        except RolloutLocked as exc:
            return Outcome("held", str(exc), state)
        return Outcome("promoted", summary, state)

    def _hold(self, state: PlanState, now: float, summary: str) -> Outcome:
        state.inconclusive_since = now if state.inconclusive_since is None else state.inconclusive_since
        if state.status == RUNNING and now - state.inconclusive_since >= self.plan.inconclusive_pause_seconds:
            state.status = PAUSED
            self._save(state, self.actor, f"paused: inconclusive for {now - state.inconclusive_since:.0f}s")
            self._notify("Rollout paused", f"inconclusive for {now - state.inconclusive_since:.0f}s: {summary}",
                         "warning")
            return Outcome("paused", summary, state)
        self._save(state, self.actor, summary)
        return Outcome("held", summary, state)

    def _roll_back(self, state: PlanState, percentage: float, summary: str) -> Outcome:
        reason = RollbackReason(metric="rollout_analysis", value=None, threshold=None,
                                window=f"{self.plan.window_seconds:g}s",
                                alert_id=f"rollout-plan step {state.step + 1} ({percentage:g} %): {summary}"[:300],
                                source="rollout-plan")
        result = rollback(self.store, reason, notifier=self.notifier, actor=self.actor)
        state.status = ROLLED_BACK
        self._save(state, self.actor, f"rolled back: {summary}")
        log.warning("%s: %s", result.action, summary)
        return Outcome("rolled_back", summary, state)

    # -- writing ---------------------------------------------------------------------------------
    def _enter(self, state: PlanState, index: int, *, actor: str, reason: str) -> PlanState:
        step = self.plan.steps[index]
        set_flags(self.store, FlagChanges(percentage=step.percentage), actor=actor, reason=reason)
        if state.entered_at is not None:
            state.history.append({"step": state.step, "percentage": self.plan.steps[state.step].percentage,
                                  "entered_at": state.entered_at, "left_at": self.clock(),
                                  "last": {k: state.last.get(k) for k in ("at", "verdict", "error_rates")}})
            state.history = state.history[-10:]
        state.status, state.step, state.entered_at = RUNNING, index, self.clock()
        state.inconclusive_since, state.errors_in_a_row = None, 0
        self._save(state, actor, reason)
        log.info("rollout step %d: %g %% (%s)", index + 1, step.percentage, reason)
        return state

    def _set_status(self, allowed: set[str], status: str, actor: str, reason: str,
                    reset_inconclusive: bool = False) -> PlanState:
        state = self.state()
        if state.status not in allowed:
            raise PlanRefused(f"the plan is {state.status}; cannot make it {status}")
        state.status = status
        if reset_inconclusive:
            state.inconclusive_since = None
        self._save(state, actor, f"plan {status}: {reason}")
        return state

    def _save(self, state: PlanState, actor: str, reason: str) -> None:
        """Write the state when its stage or verdict changed, or the stored one is older than
        :data:`REFRESH_SECONDS` (a vault is not written on every evaluation)."""
        stored = self._stored if self._stored is not None else PlanState.read(self.store)
        now = self.clock()
        if _stage(stored) == _stage(state) and now - (stored.saved_at or 0) < REFRESH_SECONDS:
            return
        state.saved_at = now
        self.store.write({STATE_FLAG: json.dumps(asdict(state), sort_keys=True, default=str)}, actor=actor,
                         reason=reason[:500])
        self._stored = PlanState(**asdict(state))

    def _notify(self, title: str, text: str, severity: str) -> None:
        if self.notifier is not None:
            self.notifier.send(title, text, severity)
