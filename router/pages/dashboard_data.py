"""What the dashboard shows, gathered in one pass (:func:`gather`, run on a worker thread).

Each section is read on its own and fails on its own: a flag store, broker or storage that does not
answer leaves its section with the reason (redacted) and the others as they are, so the page an
operator opens during an incident still shows everything that can be known.

- the rollout: the flags in force (percentage, stickiness, shadow and its sample, the lock and, after
  a rollback, its reason), the plan's stage, and the flag store's latest changes with who and why;
- requests per path over the last 15 minutes: from the rollout's metric provider (every replica)
  when it keeps a history (``CLOUDFOLIO_ROLLOUT_METRICS=prometheus`` or ``azure-monitor``), else, or
  while it does not answer, from this replica's own samples (:class:`router.metric_history.MetricHistory`);
- shadow verdict counts and the latest divergences with their repo diffs (this replica's memory);
- queue, delay-queue and dead-letter depths (RabbitMQ, or the embedded broker's queues);
- the latest jobs with their progress.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from rollout.factory import plan_view
from rollout.flags import RolloutFlags
from rollout.measure import MetricsProvider
from rollout.series import Series
from rollout.stores import FlagChange
from router.context import RouterContext
from router.shadow import Comparison
from services.core.job_listing import recent_jobs
from services.core.jobs import Job, JobStore, Progress
from services.core.redaction import redact_text
from services.queue.admin import QueueDepth, embedded_depths, queue_depths

log = logging.getLogger("cloudfolio.dashboard")

RECENT_JOBS, RECENT_CHANGES, RECENT_DIVERGENCES = 12, 12, 5
SPAN_SECONDS = 900.0
OWN_METRICS = "this router replica's own metrics"


@dataclass
class DashboardData:
    at: float
    flags: RolloutFlags
    flag_store: str
    flag_health: str
    lock: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    changes: list[FlagChange] = field(default_factory=list)
    series: Series = field(default_factory=dict)
    metrics_scope: str = ""
    shadow_counts: dict[str, int] = field(default_factory=dict)
    shadow_in_flight: int = 0
    divergences: list[Comparison] = field(default_factory=list)
    queues: list[QueueDepth] = field(default_factory=list)
    jobs: list[tuple[Job, Progress]] = field(default_factory=list)
    #: ``{section: why it could not be read}``.
    errors: dict[str, str] = field(default_factory=dict)


def parse_lock(lock: str) -> dict[str, Any] | None:
    """The rollback reason a ``ROLLOUT-LOCK`` holds (JSON from the runbook), or its text."""
    if not lock:
        return None
    try:
        parsed = json.loads(lock)
    except ValueError:
        return {"text": lock}
    return parsed if isinstance(parsed, dict) else {"text": lock}


def _read(data: DashboardData, section: str, read: Any) -> Any:
    try:
        return read()
    except Exception as exc:  # one section's failure never takes the page down
        log.warning("dashboard section %s unavailable: %s", section, redact_text(str(exc)))
        data.errors[section] = redact_text(f"{type(exc).__name__}: {exc}")[:300]
        return None


def _queues(context: RouterContext) -> list[QueueDepth]:
    names = list(context.pipeline.queues.values())
    if context.pipeline.embedded:
        return embedded_depths(context.pipeline.broker_bundle.broker, names)
    return queue_depths(context.settings.broker_url, names)


def _jobs(jobs: JobStore) -> list[tuple[Job, Progress]]:
    return [(job, JobStore.progress_of(job)) for job in recent_jobs(jobs, RECENT_JOBS)]


def chart_series(context: RouterContext, data: DashboardData, provider: MetricsProvider | None) -> None:
    """The configured rollout provider's history (every replica), else this replica's own samples."""
    step = max(15.0, context.settings.dashboard_sample_seconds)
    series = None if provider is None else _read(data, "charts", lambda: provider.series(SPAN_SECONDS, step))
    if series is not None and provider is not None:
        data.series, data.metrics_scope = series, f"every replica, from {provider.name} ({step:g} s steps)"
        return
    context.history.sample_if_due()
    data.series = context.history.series()
    data.metrics_scope = OWN_METRICS + (f" ({provider.name} did not answer)" if "charts" in data.errors else "")


def gather(context: RouterContext) -> DashboardData:
    """Everything the page shows, read now (blocking: call it from a worker thread)."""
    flags = context.flags.current()
    store = context.flags.store
    data = DashboardData(time.time(), flags, store.name, context.flags.health(), lock=parse_lock(flags.lock))
    progression = _read(data, "plan", context.progression)
    data.plan = None if progression is None else _read(data, "plan", lambda: plan_view(progression))
    data.changes = _read(data, "changes", lambda: store.changes(RECENT_CHANGES)) or []
    chart_series(context, data, None if progression is None else progression.provider)
    recent = list(context.mirror.recent)
    for comparison in recent:
        data.shadow_counts[comparison.verdict] = data.shadow_counts.get(comparison.verdict, 0) + 1
    data.shadow_in_flight = context.mirror.in_flight
    data.divergences = list(context.mirror.divergences)[::-1][:RECENT_DIVERGENCES]
    data.queues = _read(data, "queues", lambda: _queues(context)) or []
    data.jobs = _read(data, "jobs", lambda: _jobs(context.pipeline.backends.jobs)) or []
    return data
