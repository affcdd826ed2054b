"""One analysis of a rollout step: the queue path against the legacy baseline in the same window.

:func:`analyse` turns :class:`Measurements` (both paths' requests, errors and refresh p95, and the
shadow comparisons, over one window) and a step's :class:`~rollout.plan.Gates` into a verdict:

- ``fail`` when any gate fails: the queue-path error rate above ``max_error_rate``, or above
  legacy's rate + ``max_error_rate_over_legacy``, or its p95 above ``max_p95_ratio`` x legacy's;
- ``inconclusive`` when nothing fails but something cannot be judged (fewer than ``min_requests``
  requests on a path, no p95, fewer than ``min_comparisons`` comparisons), or when more than
  ``max_divergences`` shadow comparisons diverge: that gate says ``hold``. A divergence holds the
  step (it never promotes, and pauses after the plan's inconclusive time) rather than rolling back,
  since shadow results are not what users were served; the diff is for a person to read;
- ``pass`` otherwise.

At 100 % legacy serves nobody by design: its baseline gates are ``skipped``, not inconclusive.
Every gate's result (name, verdict, measured value, threshold) is kept for ``rollout status``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rollout.plan import Gates

PASS, FAIL, INCONCLUSIVE, SKIPPED, HOLD = "pass", "fail", "inconclusive", "skipped", "hold"


@dataclass(frozen=True)
class PathWindow:
    """One path over the window: requests, errors (5xx answers + failed jobs), p95 of the refresh answer."""

    requests: float = 0.0
    errors: float = 0.0
    p95_seconds: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class Measurements:
    queue: PathWindow
    legacy: PathWindow
    comparisons: float = 0.0
    divergences: float = 0.0
    queries: dict[str, str] = field(default_factory=dict)  # the resolved queries, for rollout status
    covered_seconds: float | None = None  # how much of the window the data covers (None: all of it)


@dataclass(frozen=True)
class GateResult:
    gate: str
    verdict: str
    measured: str
    threshold: str


@dataclass(frozen=True)
class Analysis:
    verdict: str
    gates: tuple[GateResult, ...]

    def as_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict, "gates": [asdict(g) for g in self.gates]}

    def summary(self) -> str:
        failing = [g for g in self.gates if g.verdict in (FAIL, INCONCLUSIVE, HOLD)]
        shown = ", ".join(f"{g.gate} {g.verdict} ({g.measured} vs {g.threshold})" for g in failing)
        return f"{self.verdict}: {shown or 'every gate passed'}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def analyse(m: Measurements, gates: Gates, percentage: float) -> Analysis:
    """The step's verdict on ``m`` (``percentage``: the share of users on the queue path now)."""
    results: list[GateResult] = []
    baseline = percentage < 100
    enough_queue = m.queue.requests >= gates.min_requests
    enough_legacy = m.legacy.requests >= gates.min_requests
    results.append(GateResult("queue requests", PASS if enough_queue else INCONCLUSIVE, f"{m.queue.requests:.0f}",
                              f">= {gates.min_requests}"))
    results.append(GateResult("legacy requests", (PASS if enough_legacy else INCONCLUSIVE) if baseline else SKIPPED,
                              f"{m.legacy.requests:.0f}", f">= {gates.min_requests}"))
    rate = m.queue.error_rate
    if not enough_queue or rate is None:
        results.append(GateResult("error rate", INCONCLUSIVE, _pct(rate), f"<= {gates.max_error_rate:.2%}"))
    else:
        results.append(GateResult("error rate", FAIL if rate > gates.max_error_rate else PASS, _pct(rate),
                                  f"<= {gates.max_error_rate:.2%}"))
    legacy_rate = m.legacy.error_rate
    if not baseline:
        results.append(GateResult("error rate vs legacy", SKIPPED, _pct(rate), "legacy serves nobody at 100 %"))
    elif not (enough_queue and enough_legacy) or rate is None or legacy_rate is None:
        results.append(GateResult("error rate vs legacy", INCONCLUSIVE, _pct(rate), "legacy + "
                                  f"{gates.max_error_rate_over_legacy:.2%}"))
    else:
        limit = legacy_rate + gates.max_error_rate_over_legacy
        results.append(GateResult("error rate vs legacy", FAIL if rate > limit else PASS, _pct(rate),
                                  f"<= {_pct(limit)} (legacy {_pct(legacy_rate)})"))
    if not baseline:
        results.append(GateResult("p95 vs legacy", SKIPPED, "n/a", "legacy serves nobody at 100 %"))
    elif not m.queue.p95_seconds or not m.legacy.p95_seconds:
        results.append(GateResult("p95 vs legacy", INCONCLUSIVE, "n/a", f"<= x{gates.max_p95_ratio:g}"))
    else:
        ratio = m.queue.p95_seconds / m.legacy.p95_seconds
        results.append(GateResult("p95 vs legacy", FAIL if ratio > gates.max_p95_ratio else PASS, f"x{ratio:.2f}",
                                  f"<= x{gates.max_p95_ratio:g}"))
    if m.divergences > gates.max_divergences:
        shadow = HOLD
    else:
        shadow = PASS if m.comparisons >= gates.min_comparisons else INCONCLUSIVE
    results.append(GateResult("shadow divergences", shadow, f"{m.divergences:.0f} of {m.comparisons:.0f}",
                              f"<= {gates.max_divergences}, at least {gates.min_comparisons} compared"))
    verdicts = {r.verdict for r in results}
    verdict = FAIL if FAIL in verdicts else INCONCLUSIVE if verdicts & {INCONCLUSIVE, HOLD} else PASS
    return Analysis(verdict, tuple(results))
