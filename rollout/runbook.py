"""The rollback runbook: one idempotent action, and the human re-enable that undoes its lock.

``rollback`` sets ``QUEUE-TRAFFIC-PCT`` to 0 and ``ROLLOUT-LOCK`` to a JSON reason (metric, value,
threshold, window, alert id, when), in that order, then notifies. Running it again while already
rolled back and locked changes nothing and sends nothing. A notification failure never blocks the
flip (the flags are written first). ``dry_run`` reports what it would do and writes nothing.

The same code runs from the CLI (``cloudfolio rollout rollback``, ``rollout watch``) and from
Azure: an Azure Monitor alert calls the Automation webhook with the common alert schema, and the
PowerShell runbook hands the payload to ``cloudfolio rollout rollback --alert -`` (see
docs/ROLLBACK-PLAYBOOK.md). :func:`parse_common_alert` accepts only that schema, and
:func:`check_alert_rule` only alerts of the configured rules (``CLOUDFOLIO_ALERT_RULES``).

While locked, nothing automatic raises the percentage: :func:`rollout.changes.set_flags` (the
admin API, ``rollout set``) refuses a raise until a human runs ``rollout reenable --reason ...``.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollout.flags import QUEUE_TRAFFIC_PCT, ROLLOUT_LOCK
from rollout.notify import WebhookNotifier
from rollout.stores import FlagStore
from services.core.errors import InvalidInput


class InvalidAlert(InvalidInput):
    """A webhook body that is not an Azure Monitor common-alert-schema alert."""


class AlertNotAllowed(InvalidAlert):
    """An alert from a rule that is not on the allow-list (``CLOUDFOLIO_ALERT_RULES``)."""


def check_alert_rule(payload: Any, allowed: str) -> None:
    """Raise :class:`AlertNotAllowed` unless the alert's rule (``essentials.alertRule``, or its
    ``originAlertId``) matches one of the comma-separated globs in ``allowed``."""
    essentials = ((payload.get("data") or {}).get("essentials") or {}) if isinstance(payload, dict) else {}
    names = [str(essentials.get(key)) for key in ("alertRule", "originAlertId") if essentials.get(key)]
    patterns = [p.strip() for p in allowed.split(",") if p.strip()]
    if not any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in patterns):
        shown = names[0] if names else "(no rule named)"
        raise AlertNotAllowed(f"alert rule {shown!r} is not in CLOUDFOLIO_ALERT_RULES ({allowed or 'empty'}); "
                              "nothing changed")


@dataclass(frozen=True)
class RollbackReason:
    metric: str
    value: float | None
    threshold: float | None
    window: str
    alert_id: str
    source: str = "cloudfolio"
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def describe(self) -> str:
        value = "?" if self.value is None else f"{self.value:g}"
        threshold = "?" if self.threshold is None else f"{self.threshold:g}"
        return f"{self.metric} = {value} (threshold {threshold}, window {self.window}; alert {self.alert_id})"


@dataclass
class RollbackResult:
    action: str  # rolled_back | already_rolled_back | would_roll_back | ignored
    previous_percentage: str | None
    notified: bool | None
    reason: RollbackReason | None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reason": asdict(self.reason) if self.reason else None}


def rollback(store: FlagStore, reason: RollbackReason, *, notifier: WebhookNotifier | None = None,
             dry_run: bool = False, actor: str = "rollback-runbook") -> RollbackResult:
    current = store.read()
    previous = current.get(QUEUE_TRAFFIC_PCT)
    already = (previous in (None, "0", "0.0")) and bool(current.get(ROLLOUT_LOCK))
    if already:
        return RollbackResult("already_rolled_back", previous, None, reason)
    if dry_run:
        return RollbackResult("would_roll_back", previous, None, reason)
    lock = json.dumps(asdict(reason), separators=(",", ":"))
    store.write({QUEUE_TRAFFIC_PCT: "0", ROLLOUT_LOCK: lock}, actor=actor, reason=reason.describe())
    notified = None
    if notifier is not None:
        notified = notifier.send(
            "CloudFolio queue path rolled back",
            f"QUEUE-TRAFFIC-PCT {previous or '0'} -> 0 and locked. Reason: {reason.describe()}. "
            "Re-enable with `cloudfolio rollout reenable --reason ...` once fixed.",
        )
    return RollbackResult("rolled_back", previous, notified, reason)


def reenable(store: FlagStore, reason: str, *, actor: str) -> bool:
    """Clear the lock (a human decision); the percentage stays where it is. False if not locked."""
    if not reason.strip():
        raise InvalidInput("a reason is required to re-enable the rollout")
    if not store.read().get(ROLLOUT_LOCK):
        return False
    store.write({ROLLOUT_LOCK: ""}, actor=actor, reason=f"re-enabled: {reason}")
    return True


def parse_common_alert(payload: Any) -> RollbackReason | None:
    """A reason from an Azure Monitor common-alert-schema body; None for a ``Resolved`` alert."""
    if not isinstance(payload, dict) or payload.get("schemaId") != "azureMonitorCommonAlertSchema":
        raise InvalidAlert("not an Azure Monitor alert: schemaId must be azureMonitorCommonAlertSchema")
    data = payload.get("data")
    essentials = data.get("essentials") if isinstance(data, dict) else None
    if not isinstance(essentials, dict) or not essentials.get("alertId"):
        raise InvalidAlert("alert without data.essentials.alertId")
    condition = essentials.get("monitorCondition")
    if condition == "Resolved":
        return None
    if condition != "Fired":
        raise InvalidAlert(f"unknown monitorCondition {condition!r}")
    context = data.get("alertContext") if isinstance(data.get("alertContext"), dict) else {}
    criteria = ((context.get("condition") or {}).get("allOf") or [{}]) if isinstance(context, dict) else [{}]
    first = criteria[0] if criteria and isinstance(criteria[0], dict) else {}

    def number(value: Any) -> float | None:
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    window = (context.get("condition") or {}).get("windowSize") or "?"
    return RollbackReason(
        metric=str(first.get("metricName") or first.get("metricMeasureColumn") or essentials.get("alertRule")
                   or "alert")[:200],
        value=number(first.get("metricValue")),
        threshold=number(first.get("threshold")),
        window=str(window),
        alert_id=str(essentials["alertId"])[:300],
        source="azure-monitor",
    )
