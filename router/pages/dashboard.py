"""The operator dashboard's HTML (``GET /dashboard``) and its sign-in page, rendered on the server.

Every value shown is escaped (:func:`html.escape`), whatever its source: usernames, repo names and
field values come from GitHub, reasons from operators, lock texts from alerts. The pages' only
script is ``/static/dashboard.js`` (it reloads the page every 15 s while no form is being filled
in); the charts are plain SVG (:mod:`router.pages.charts`). The controls are forms that post to
``/dashboard/actions/<action>`` with a reason and the session's CSRF token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape

from rollout.flags import ROLLOUT_LOCK
from rollout.progression import STATE_FLAG
from router.pages.charts import line_chart
from router.pages.dashboard_data import SPAN_SECONDS, DashboardData
from router.shadow import Comparison

#: What a control's redirect reports (``/dashboard?notice=<code>``): fixed texts, nothing reflected.
NOTICES = {
    "paused": "The plan is paused. Resume it with `cloudfolio rollout plan resume`.",
    "rolled_back": "Rolled back: 0 % to the queue path, and locked.",
    "already_rolled_back": "The rollout was already rolled back and locked.",
    "reenabled": "The lock is cleared; the percentage is unchanged.",
    "not_locked": "The rollout was not locked.",
    "not_running": "Nothing to pause: the plan is not running.",
    "no_reason": "Each control needs a reason.",
}

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/pages.css"></head>
<body>"""
_TAIL = '<script src="/static/dashboard.js"></script></body></html>\n'


def login_page(error: str = "") -> str:
    """The sign-in form: no data at all, only the token field."""
    problem = f'<p id="login-error" class="reasons" role="alert">{escape(error)}</p>' if error else ""
    return (_HEAD.format(title="CloudFolio migration: sign in") +
            '<main id="login"><h1>CloudFolio migration</h1><p>The dashboard shows operational data: sign in '
            f'with the admin token (CLOUDFOLIO_ADMIN_TOKEN).</p>{problem}'
            '<form method="post" action="/dashboard/login"><label>Admin token <input id="token" name="token" '
            'type="password" autocomplete="current-password" required maxlength="500"></label> '
            '<button type="submit">Sign in</button></form></main></body></html>\n')


def _when(iso: str | None) -> str:
    return escape((iso or "")[:19].replace("T", " "))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _stage(data: DashboardData) -> str:
    plan = data.plan
    if plan is None:
        return f"Plan unavailable ({escape(data.errors.get('plan', 'unknown'))})"
    text = f"Plan {plan['status'].replace('_', ' ')}: step {plan['step']} of {plan['of']} ({plan['percentage']:g} %)"
    if plan.get("seconds_in_step") is not None:
        text += f", {plan['seconds_in_step']} s in this step"
    return escape(text)


def _lock(data: DashboardData) -> str:
    lock = data.lock
    if lock is None:
        return "unlocked"
    if "text" in lock:
        return "locked: " + escape(str(lock["text"]))
    parts = []
    if lock.get("metric") not in (None, "manual"):
        parts.append(f"{lock['metric']} = {lock.get('value')} (threshold {lock.get('threshold')}, "
                     f"window {lock.get('window')})")
    parts.append(str(lock.get("alert_id", "")))
    parts.append(f"via {lock.get('source', '?')} at {str(lock.get('at', ''))[:19].replace('T', ' ')} UTC")
    return "locked: " + escape("; ".join(p for p in parts if p))


def _value(name: str, raw: str | None, missing: str) -> str:
    """A flag value as the changes table shows it: the lock and the plan state summarised, not their JSON."""
    if raw is None:
        return missing
    if raw == "":
        return "(cleared)"
    if name == ROLLOUT_LOCK:
        return "locked"
    if name == STATE_FLAG:
        try:
            state = json.loads(raw)
            return f"plan {state.get('status')}, step {int(state.get('step', 0)) + 1}"
        except (ValueError, TypeError, AttributeError):
            return "plan state"
    return raw[:60]


def _rollout(data: DashboardData) -> str:
    flags = data.flags
    shadow = f"on, sampling {flags.shadow_sample_pct:g} %" if flags.shadow else "off"
    problems = "" if data.flag_health == "ok" else f'<p class="reasons">{escape(data.flag_health)}</p>'
    return (f'<section id="rollout"><h2>Rollout</h2><p id="stage">{_stage(data)}</p>{problems}<dl class="facts">'
            f'<dt>Queue path</dt><dd id="percentage">{flags.percentage:g} %</dd>'
            f'<dt>Stickiness</dt><dd id="stickiness">{escape(flags.stickiness)}</dd>'
            f'<dt>Shadow</dt><dd id="shadow-state">{escape(shadow)}</dd>'
            f'<dt>Lock</dt><dd id="lock" class="{"locked" if flags.locked else "unlocked"}">{_lock(data)}</dd>'
            f'<dt>Flag store</dt><dd>{escape(data.flag_store)}</dd></dl></section>')


def _control(action: str, label: str, csrf: str, enabled: bool, hint: str) -> str:
    disabled = "" if enabled else " disabled"
    return (f'<form id="{action}" class="control" method="post" action="/dashboard/actions/{action}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input name="reason" required maxlength="300" placeholder="Reason (kept in the history)"'
            f' aria-label="Reason to {escape(label.lower())}"{disabled}>'
            f'<button type="submit"{disabled}>{escape(label)}</button><small>{escape(hint)}</small></form>')


def _controls(data: DashboardData, csrf: str) -> str:
    running = data.plan is not None and data.plan["status"] in ("running", "awaiting_confirmation")
    rolled_back = data.flags.locked and data.flags.percentage == 0
    return ('<section id="controls"><h2>Controls</h2>'
            + _control("pause", "Pause the plan", csrf, running, "holds the plan at its step; evaluations still "
                       "roll back on failure")
            + _control("rollback", "Roll back", csrf, not rolled_back, "0 % to the queue path and locked, as "
                       "`cloudfolio rollout rollback`")
            + _control("reenable", "Re-enable", csrf, data.flags.locked, "clears the lock; the percentage stays")
            + "</section>")


def _changes(data: DashboardData) -> str:
    if "changes" in data.errors:
        return f'<section id="changes"><h2>Last changes</h2><p class="reasons">{escape(data.errors["changes"])}</p>' \
               '</section>'
    rows = "".join(
        f"<tr><td>{_when(c.at)}</td><td>{escape(c.name)}</td><td>{escape(_value(c.name, c.previous or None, '–'))}"
        f" → {escape(_value(c.name, c.value, '?'))}</td><td class=\"actor\">"
        f"{escape(c.actor)}</td><td class=\"why\">{escape(c.reason)}</td></tr>" for c in data.changes)
    body = rows or '<tr><td colspan="5">No changes recorded by this flag store.</td></tr>'
    return ('<section id="changes"><h2>Last changes</h2><table><thead><tr><th>When (UTC)</th><th>Flag</th>'
            f'<th>Value</th><th>Who</th><th>Why</th></tr></thead><tbody>{body}</tbody></table></section>')


def _charts(data: DashboardData) -> str:
    def series(attribute: str) -> dict[str, list[tuple[float, float | None]]]:
        return {path: [(p.at, getattr(p, attribute)) for p in points] for path, points in data.series.items()}

    charts = [
        line_chart("Requests per second", series("rate"), now=data.at, span=SPAN_SECONDS, shown=lambda v: f"{v:.2f}"),
        line_chart("Error rate", series("error_ratio"), now=data.at, span=SPAN_SECONDS, shown=lambda v: _pct(v)),
        line_chart("p95 latency", series("p95"), now=data.at, span=SPAN_SECONDS, shown=lambda v: f"{v * 1000:.0f} ms"),
    ]
    problem = f'<p class="reasons">{escape(data.errors["charts"])}</p>' if "charts" in data.errors else ""
    return ('<section id="charts"><h2>Last 15 minutes</h2><p class="legend"><span class="key-queue">queue</span> '
            f'<span class="key-legacy">legacy</span> · {escape(data.metrics_scope)}</p>{problem}'
            f'<div class="charts">{"".join(charts)}</div></section>')


def _divergence(comparison: Comparison) -> str:
    fields = comparison.fields
    rows = "".join(f"<tr><td>{escape(repo)}</td><td>{escape(name)}</td><td>{escape(str(values[0]))}</td>"
                   f"<td>{escape(str(values[1]))}</td></tr>"
                   for repo, changed in fields.items() for name, values in changed.items())
    named = ", ".join(comparison.diff.get("divergent", []))
    return (f'<li class="divergence"><p><strong>{escape(comparison.username)}</strong> at '
            f'{_when(comparison.at)} (primary {escape(comparison.primary_path)}): '
            f'<span class="repos">{escape(named)}</span></p><table class="diff"><thead><tr><th>Repo</th><th>Field</th>'
            f'<th>Primary</th><th>Shadow</th></tr></thead><tbody>{rows}</tbody></table></li>')


def _shadow(data: DashboardData) -> str:
    counts = "".join(f'<li data-verdict="{escape(verdict)}">{escape(verdict.replace("_", " "))}: '
                     f'<strong>{count}</strong></li>' for verdict, count in sorted(data.shadow_counts.items()))
    divergences = "".join(_divergence(c) for c in data.divergences) or \
        "<li>No divergence since this replica started.</li>"
    return (f'<section id="shadow"><h2>Shadow comparisons</h2><p>{data.shadow_in_flight} in flight on this '
            f'replica; verdicts of the latest 200:</p><ul id="verdicts" class="inline">{counts or "<li>none yet</li>"}'
            f'</ul><h3>Latest divergences</h3><ul id="divergences">{divergences}</ul></section>')


def _queues(data: DashboardData) -> str:
    if "queues" in data.errors:
        return f'<section id="queues"><h2>Queues</h2><p class="reasons">{escape(data.errors["queues"])}</p></section>'
    rows = "".join(f'<tr data-queue="{escape(q.name)}"><td>{escape(q.name)}</td><td>'
                   f'{"–" if q.messages is None else q.messages}</td><td>{"–" if q.consumers is None else q.consumers}'
                   "</td></tr>" for q in data.queues)
    return ('<section id="queues"><h2>Queues</h2><table><thead><tr><th>Queue (.DQ delayed, .XQ dead letters)</th>'
            f'<th>Messages</th><th>Consumers</th></tr></thead><tbody>{rows}</tbody></table></section>')


def _jobs(data: DashboardData) -> str:
    if "jobs" in data.errors:
        return f'<section id="jobs"><h2>Recent jobs</h2><p class="reasons">{escape(data.errors["jobs"])}</p></section>'
    rows = []
    for job, progress in data.jobs:
        bar = (f'<progress value="{progress.done}" max="{progress.total}"></progress> {progress.done}/{progress.total}'
               if progress.total else '<progress></progress>' if not job.terminal else "")
        rows.append(f'<tr data-job="{escape(job.job_id)}"><td>{_when(job.created_at)}</td><td>{escape(job.username)}'
                    f'</td><td>{escape(str(job.extra.get("path", "–")))}</td><td>{escape(job.mode)}</td>'
                    f'<td class="status-{escape(job.status)}">{escape(job.status)}</td><td>{bar}</td></tr>')
    body = "".join(rows) or '<tr><td colspan="6">No jobs yet.</td></tr>'
    return ('<section id="jobs"><h2>Recent jobs</h2><table><thead><tr><th>Created (UTC)</th><th>User</th><th>Path'
            f'</th><th>Mode</th><th>Status</th><th>Progress</th></tr></thead><tbody>{body}</tbody></table></section>')


def dashboard_page(data: DashboardData, csrf: str, notice: str = "") -> str:
    """The whole dashboard; ``notice`` is a key of :data:`NOTICES` (anything else shows nothing)."""
    shown = NOTICES.get(notice, "")
    banner = f'<p id="notice" role="status">{escape(shown)}</p>' if shown else ""
    updated = datetime.fromtimestamp(data.at, UTC).strftime("%H:%M:%S UTC")
    return (_HEAD.format(title="CloudFolio migration") +
            f'<main id="dashboard"><header><h1>CloudFolio migration</h1><span>updated {updated}</span>'
            f'<form method="post" action="/dashboard/logout"><input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<button type="submit">Sign out</button></form></header>{banner}'
            + _rollout(data) + _controls(data, csrf) + _changes(data) + _charts(data) + _shadow(data)
            + _queues(data) + _jobs(data) + "</main>" + _TAIL)
