"""The dashboard's controls: pause the plan, roll back, re-enable. Each runs the CLI's own rule.

- ``pause``: :meth:`rollout.progression.Progression.pause` (as ``cloudfolio rollout plan pause``);
- ``rollback``: the rollback runbook, :func:`rollout.runbook.rollback` (0 % and ``ROLLOUT-LOCK``,
  the notification), with a manual reason naming who and why (as ``cloudfolio rollout rollback``);
- ``reenable``: :func:`rollout.runbook.reenable` (clears the lock; the percentage stays).

Every control needs a reason, is written to the flag store with the actor and the reason (the
history the dashboard and ``rollout status`` show) and logged at info. The router's flag cache is
invalidated, so the change is in force on this replica at once and on the others within the TTL.
:func:`run_control` answers a code of :data:`router.pages.dashboard.NOTICES`.
"""

from __future__ import annotations

import logging

from rollout.factory import make_notifier
from rollout.progression import PlanRefused
from rollout.runbook import RollbackReason, reenable, rollback
from router.context import RouterContext

log = logging.getLogger("cloudfolio.dashboard")

ACTIONS = ("pause", "rollback", "reenable")
MAX_REASON = 300


def run_control(context: RouterContext, action: str, *, actor: str, reason: str) -> str:
    """Carry out ``action`` (one of :data:`ACTIONS`); blocking, so call it from a worker thread."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        return "no_reason"
    store, settings = context.flags.store, context.settings
    if action == "pause":
        try:
            context.progression().pause(actor=actor, reason=reason)
            notice = "paused"
        except PlanRefused:
            notice = "not_running"
    elif action == "rollback":
        why = RollbackReason(metric="manual", value=None, threshold=None, window="-",
                             alert_id=f"manual by {actor}: {reason}", source="dashboard")
        notice = rollback(store, why, notifier=make_notifier(settings), actor=actor).action
    else:
        notice = "reenabled" if reenable(store, reason, actor=actor) else "not_locked"
    context.flags.invalidate()
    log.info("dashboard %s by %s (%s): %s", action, actor, notice, reason)
    return notice
