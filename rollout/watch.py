"""``cloudfolio rollout watch``: scrape the routers, judge the queue path, roll back when unhealthy.

Each step scrapes every router's ``/metrics`` (a failed scrape is an ``unknown`` verdict, never a
healthy one), evaluates the window, and on ``unhealthy`` runs the rollback runbook (idempotent: a
rollback that already happened is not repeated, and the rollback fires in every state, locked or
not). ``--once`` keeps its samples in a state file so it can run from cron.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rollout.alerts import UNHEALTHY, UNKNOWN, ErrorRateEvaluator, Verdict, scrape
from rollout.notify import WebhookNotifier
from rollout.runbook import RollbackReason, RollbackResult, rollback
from rollout.stores import FlagStore

log = logging.getLogger("cloudfolio.watch")


@dataclass
class Watcher:
    """One evaluator over a set of router replicas.

    Parameters:
      store(FlagStore): where the flags are flipped.
      evaluator(ErrorRateEvaluator): window, threshold and minimum request count.
      urls(Sequence[str]): every router replica's ``/metrics``.
      notifier(WebhookNotifier | None): where rollbacks are announced.
      dry_run(bool): report, never write. Defaults to False.
    """

    store: FlagStore
    evaluator: ErrorRateEvaluator
    urls: Sequence[str]
    notifier: WebhookNotifier | None = None
    dry_run: bool = False
    state_path: Path | None = None

    def step(self) -> tuple[Verdict, RollbackResult | None]:
        if self.state_path is not None:
            self.evaluator.load(self.state_path)
        try:
            self.evaluator.add(scrape(self.urls))
            verdict = self.evaluator.evaluate()
        except Exception as exc:
            verdict = Verdict(UNKNOWN, None, 0, 0, self.evaluator.window_seconds, self.evaluator.threshold,
                              f"scrape failed: {type(exc).__name__}: {exc}")
        if self.state_path is not None:
            self.evaluator.save(self.state_path)
        result = None
        if verdict.state == UNHEALTHY:
            reason = RollbackReason(metric="queue_path_error_rate", value=round(verdict.rate or 0.0, 4),
                                    threshold=verdict.threshold, window=f"{verdict.window_seconds:g}s",
                                    alert_id="rollout-watch", source="rollout-watch")
            result = rollback(self.store, reason, notifier=self.notifier, dry_run=self.dry_run, actor="rollout-watch")
            log.warning("%s: %s", result.action, verdict.reason)
        else:
            log.info("%s: %s", verdict.state, verdict.reason)
        return verdict, result

    def run(self, interval: float, stop: threading.Event, report: Callable[[Verdict, RollbackResult | None], None],
            iterations: int | None = None) -> None:
        run_every(interval, stop, lambda: report(*self.step()), iterations)


def run_every(interval: float, stop: threading.Event, step: Callable[[], None], iterations: int | None = None) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop`` is set (or ``iterations`` calls)."""
    done = 0
    while not stop.is_set() and (iterations is None or done < iterations):
        step()
        done += 1
        if iterations is None or done < iterations:  # no wait after the last evaluation (--once)
            stop.wait(interval)
