"""``cloudfolio rollout status|set|shadow|rollback|reenable|watch``: rollout control from a shell.

Every change goes through :func:`rollout.changes.set_flags` (ranges, the lock, the reason), the
same as the admin API. See docs/ROLLBACK-PLAYBOOK.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from cloudfolio.cli import rollout_plan
from cloudfolio.cli.common import add_data_dir, human, load_settings
from cloudfolio.cli.exits import RET_FAILED, RET_OK, RET_USAGE
from rollout.alerts import ErrorRateEvaluator
from rollout.changes import FlagChanges, RolloutLocked, set_flags
from rollout.factory import build_progression, make_flag_store, make_notifier, plan_view
from rollout.flags import parse_flags
from rollout.plan import InvalidPlan
from rollout.runbook import (
    InvalidAlert,
    RollbackReason,
    check_alert_rule,
    parse_common_alert,
    reenable,
    rollback,
)
from rollout.stores import FlagStore
from rollout.watch import Watcher, run_every
from services.core.settings import Settings

log = logging.getLogger("cloudfolio.rollout")


def _store(args: argparse.Namespace) -> tuple[Settings, FlagStore]:
    settings = load_settings(args, one_shot=True)
    return settings, make_flag_store(settings)


def cmd_status(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    raw = store.read()
    flags, problems = parse_flags(raw)
    try:
        plan: Any = plan_view(build_progression(settings, store))
    except InvalidPlan as exc:
        plan = {"error": str(exc)}
    print(json.dumps({"store": store.name, "flags": flags.as_dict(), "plan": plan, "raw": raw, "problems": problems},
                     indent=2))
    return RET_OK


def cmd_set(args: argparse.Namespace) -> int:
    _settings, store = _store(args)
    try:
        set_flags(store, FlagChanges(percentage=args.percentage), actor=human(), reason=args.reason)
    except RolloutLocked as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return RET_FAILED
    print(f"QUEUE-TRAFFIC-PCT set to {args.percentage:g} in the {store.name} store")
    return RET_OK


def cmd_shadow(args: argparse.Namespace) -> int:
    _settings, store = _store(args)
    set_flags(store, FlagChanges(shadow=args.state == "on", shadow_sample_pct=args.sample), actor=human(),
              reason=args.reason)
    print(f"shadow {args.state}" + (f", sampling {args.sample:g} %" if args.sample is not None else ""))
    return RET_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    if args.alert:
        try:
            text = sys.stdin.read() if args.alert == "-" else Path(args.alert).read_text("utf-8")
            payload = json.loads(text)
            reason = parse_common_alert(payload)
            check_alert_rule(payload, settings.alert_rules)
        except (InvalidAlert, ValueError) as exc:
            log.warning("rollback alert refused: %s", exc)
            print(f"refused: {exc}", file=sys.stderr)
            return RET_USAGE
        if reason is None:
            print(json.dumps({"action": "ignored", "why": "the alert is Resolved"}))
            return RET_OK
    else:
        reason = RollbackReason(metric="manual", value=None, threshold=None, window="-",
                                alert_id=f"manual by {human()}: {args.reason}", source="cli")
    result = rollback(store, reason, notifier=make_notifier(settings), dry_run=args.dry_run,
                      actor=human() if not args.alert else "azure-monitor-alert")
    print(json.dumps(result.as_dict(), indent=2))
    return RET_OK


def cmd_reenable(args: argparse.Namespace) -> int:
    _settings, store = _store(args)
    if reenable(store, args.reason, actor=human()):
        print("lock cleared; the percentage is unchanged (raise it with `cloudfolio rollout set`)")
    else:
        print("the rollout was not locked")
    return RET_OK


def cmd_watch(args: argparse.Namespace) -> int:
    settings, store = _store(args)
    urls = [u.strip() for u in settings.router_metrics_urls.split(",") if u.strip()]
    watcher = Watcher(
        store=store,
        evaluator=ErrorRateEvaluator(settings.alert_window, settings.alert_threshold, settings.alert_min_requests),
        urls=urls, notifier=make_notifier(settings), dry_run=args.dry_run,
        state_path=settings.data_path / "alert-state.json" if args.once else None,
    )

    try:
        progression = build_progression(settings, store)
    except InvalidPlan as exc:
        print(str(exc), file=sys.stderr)
        return RET_USAGE

    def report(verdict: Any, result: Any) -> None:
        print(json.dumps({"verdict": verdict.as_dict(), "rollback": result.as_dict() if result else None}),
              flush=True)

    def step() -> None:
        # an active plan decides (promote, hold, pause, roll back); without one, the error-rate watcher
        outcome = None if args.dry_run else rollout_plan.evaluate_plan(progression)
        if outcome is not None:
            print(json.dumps(outcome), flush=True)
        else:
            report(*watcher.step())

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_every(settings.alert_interval, stop, step, iterations=1 if args.once else args.iterations)
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    rollout = commands.add_parser(
        "rollout", help="read and change rollout flags; roll back; watch the error rate",
        description="Rollout control against the configured flag store (CLOUDFOLIO_FLAG_STORE: file, env or "
        "keyvault). See docs/ROLLBACK-PLAYBOOK.md.")
    actions = rollout.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)

    def add(name: str, func: object, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=description)
        add_data_dir(sub)
        sub.set_defaults(func=func)
        return sub

    add("status", cmd_status, "show the flags in force", "Print the flags as stored and as the router "
        "reads them (invalid values fail safe and are listed under problems).")
    setter = add("set", cmd_set, "set the queue percentage", "Set QUEUE-TRAFFIC-PCT. Raising it while "
                 "the rollout is locked (after a rollback) is refused: re-enable first.")
    setter.add_argument("percentage", type=float, help="0-100")
    setter.add_argument("--reason", required=True, help="why (kept in the change history)")
    shadow = add("shadow", cmd_shadow, "switch shadow mirroring on or off",
                 "Set ENABLE-QUEUE-SHADOW (and optionally SHADOW-SAMPLE-PCT).")
    shadow.add_argument("state", choices=["on", "off"])
    shadow.add_argument("--sample", type=float, help="percentage of requests to mirror")
    shadow.add_argument("--reason", required=True, help="why")
    back = add("rollback", cmd_rollback, "roll back now: 0 %% to the queue path, locked, notified",
               "The runbook's one action: QUEUE-TRAFFIC-PCT=0, ROLLOUT-LOCK set with the reason, notification "
               "to CLOUDFOLIO_NOTIFY_WEBHOOK_URL. Idempotent. --alert takes an Azure Monitor common-alert-schema "
               "body (a file, or - for stdin); anything else, or an alert from a rule not in CLOUDFOLIO_ALERT_RULES, "
               "is refused with exit code 2 and changes nothing; a Resolved alert is ignored.")
    reason = back.add_mutually_exclusive_group(required=True)
    reason.add_argument("--reason", help="why, for a manual rollback")
    reason.add_argument("--alert", help="common-alert-schema JSON file, or - for stdin")
    back.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
    again = add("reenable", cmd_reenable, "clear the rollback lock (a human decision)",
                "Clear ROLLOUT-LOCK. The percentage stays at its value; raise it with `rollout set` afterwards.")
    again.add_argument("--reason", required=True, help="what was fixed")
    watch = add("watch", cmd_watch, "evaluate the queue path's error rate and roll back when unhealthy",
                "Scrape CLOUDFOLIO_ROUTER_METRICS_URLS every CLOUDFOLIO_ALERT_INTERVAL seconds; when the queue "
                "path's error rate over CLOUDFOLIO_ALERT_WINDOW exceeds CLOUDFOLIO_ALERT_THRESHOLD with at least "
                "CLOUDFOLIO_ALERT_MIN_REQUESTS requests, run the rollback. No data or too few requests is "
                "'unknown': never healthy, never a rollback. While a rollout plan is active (`rollout plan start`), "
                "each evaluation runs the plan instead: its gates against the legacy baseline decide promote, hold, "
                "pause or roll back. Prints one JSON line per evaluation.")
    watch.add_argument("--once", action="store_true", help="evaluate once and exit (cron); samples persist")
    rollout_plan.register(actions)
    watch.add_argument("--dry-run", action="store_true", help="report rollbacks without doing them")
    watch.add_argument("--iterations", type=int, help=argparse.SUPPRESS)
