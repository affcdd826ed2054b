"""Decommission readiness: may the legacy app be removed?

:func:`assess` answers from the plan's own record (``ROLLOUT-PLAN-STATE``) and the metric provider.
Ready only when every check holds:

- the plan reached 100 % and has been there at least ``days`` (default 7), with no rollback since
  (the plan is not rolled back, the rollout is not locked);
- at least ``min_comparisons`` shadow comparisons and no divergence over that time (source changes
  are noise and not counted);
- the queue path's error rate in the step before 100 % was not above legacy's in the same window.

Missing evidence (no plan, a provider that cannot answer for that long a window) is "not ready",
never ready. Each check carries its evidence, for the operators to read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rollout.flags import parse_flags
from rollout.measure import MetricsProvider, MetricsUnavailable
from rollout.progression import ROLLED_BACK, PlanState
from rollout.stores import FlagStore

DAY = 86400.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    evidence: str


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: tuple[Check, ...]

    def as_dict(self) -> dict[str, object]:
        return {"ready": self.ready, "checks": [asdict(c) for c in self.checks]}


def _cut_over(state: PlanState) -> dict | None:
    """The history entry of the step the plan left for 100 %."""
    before = [h for h in state.history if h.get("percentage", 0) < 100]
    return before[-1] if before else None


def assess(store: FlagStore, provider: MetricsProvider, now: float, *, days: float = 7,
           min_comparisons: int = 100) -> Readiness:
    state = PlanState.read(store)
    flags, _problems = parse_flags(store.read())
    checks: list[Check] = []
    at_full = flags.percentage >= 100 and state.entered_at is not None and state.status != ROLLED_BACK
    held = (now - state.entered_at) if at_full and state.entered_at is not None else 0.0
    checks.append(Check(f"at 100 % for {days:g} days", at_full and held >= days * DAY,
                        f"{flags.percentage:g} % now; plan {state.status}, "
                        + (f"{held / DAY:.2f} days at 100 %" if at_full else "not at 100 % by the plan")))
    checks.append(Check("no rollback since", not flags.locked and state.status != ROLLED_BACK,
                        f"locked: {flags.lock}" if flags.locked else f"plan {state.status}, not locked"))
    if at_full and held > 0:
        try:
            m = provider.measure(held)
            covered = held if m.covered_seconds is None else m.covered_seconds
            checks.append(Check("the metrics cover the time at 100 %", covered >= held * 0.99,
                                f"{covered / DAY:.2f} of {held / DAY:.2f} days ({provider.name})"))
            checks.append(Check(f"at least {min_comparisons} shadow comparisons", m.comparisons >= min_comparisons,
                                f"{m.comparisons:.0f} comparisons over {held / DAY:.2f} days ({provider.name})"))
            checks.append(Check("no divergence", m.divergences == 0 and m.comparisons > 0,
                                f"{m.divergences:.0f} divergences"))
        except MetricsUnavailable as exc:
            checks.append(Check("shadow evidence", False, f"the metrics cannot answer: {exc}"))
    else:
        checks.append(Check("shadow evidence", False, "no time at 100 % to measure"))
    entry = _cut_over(state)
    rates = ((entry or {}).get("last") or {}).get("error_rates") or {}
    queue, legacy = rates.get("queue"), rates.get("legacy")
    if queue is None or legacy is None:
        checks.append(Check("queue error rate <= legacy's before the cut-over", False,
                            "no analysis of the step before 100 % with both paths measured"))
    else:
        checks.append(Check("queue error rate <= legacy's before the cut-over", queue <= legacy,
                            f"at {entry['percentage']:g} %: queue {queue:.2%}, legacy {legacy:.2%}"))
    return Readiness(all(c.ok for c in checks), tuple(checks))
