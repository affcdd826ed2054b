"""``cloudfolio rollout plan show|start|pause|resume|promote|abort``: the evidence-driven migration.

The plan (CLOUDFOLIO_ROLLOUT_PLAN, or the shipped one) is run by ``cloudfolio rollout watch``, which
calls :func:`evaluate_plan` on every evaluation while a plan is active; these commands are the
operators' hands on it. Every change is written to the flag store with who and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cloudfolio.cli.common import add_data_dir, human, load_settings
from cloudfolio.cli.exits import RET_FAILED, RET_OK, RET_USAGE
from rollout.changes import RolloutLocked
from rollout.factory import build_progression, make_flag_store, plan_view
from rollout.plan import InvalidPlan
from rollout.progression import WATCHED, PlanRefused, Progression
from rollout.readiness import assess


def evaluate_plan(progression: Progression) -> dict[str, Any] | None:
    """One evaluation when a plan is active (running, paused, awaiting confirmation); None otherwise."""
    if progression.state().status not in WATCHED:
        return None
    outcome = progression.evaluate()
    return {"plan": outcome.action, "reason": outcome.reason, "status": outcome.state.status,
            "step": outcome.state.step + 1, "percentage": progression.plan.steps[outcome.state.step].percentage}


def cmd_plan(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    try:
        progression = build_progression(settings, make_flag_store(settings))
    except InvalidPlan as exc:
        print(str(exc), file=sys.stderr)
        return RET_USAGE
    if args.plan_action == "show":
        print(json.dumps({"plan": progression.plan.as_dict(), "state": plan_view(progression)}, indent=2))
        return RET_OK
    command = getattr(progression, args.plan_action)
    try:
        command(actor=human(), reason=args.reason)
    except (PlanRefused, RolloutLocked) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return RET_FAILED
    print(json.dumps(plan_view(progression), indent=2))
    return RET_OK


def cmd_readiness(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    store = make_flag_store(settings)
    try:
        progression = build_progression(settings, store)
    except InvalidPlan as exc:
        print(str(exc), file=sys.stderr)
        return RET_USAGE
    readiness = assess(store, progression.provider, progression.clock(), days=settings.readiness_days,
                       min_comparisons=settings.readiness_min_comparisons)
    print(json.dumps(readiness.as_dict(), indent=2))
    return RET_OK if readiness.ready else RET_FAILED


def register(actions: argparse._SubParsersAction) -> None:
    ready = actions.add_parser(
        "readiness", help="may the legacy app be removed? exit 0 only when ready",
        description="Decommission readiness from the plan's record and the metrics: at 100 % for "
        "CLOUDFOLIO_READINESS_DAYS (default 7) with no rollback, at least CLOUDFOLIO_READINESS_MIN_COMPARISONS "
        "shadow comparisons and no divergence over that time, and the queue path's error rate not above legacy's "
        "before the cut-over. Prints every check with its evidence; exit 0 ready, 1 not ready, 2 bad plan.")
    add_data_dir(ready)
    ready.set_defaults(func=cmd_readiness)
    plan = actions.add_parser(
        "plan", help="run the migration plan: show, start, pause, resume, promote, abort",
        description="The rollout plan (CLOUDFOLIO_ROLLOUT_PLAN, or the shipped 10/25/50/100 % plan) moves users "
        "to the queue path step by step: `rollout watch` analyses every step against the legacy baseline in the "
        "same window and promotes after the step's dwell on `pass`, holds on `inconclusive` (pausing after the "
        "plan's inconclusive_pause_seconds), and rolls back on `fail`. A step marked confirm waits for "
        "`rollout plan promote`. Nothing is promoted while ROLLOUT-LOCK is set.")
    plan.add_argument("plan_action", choices=["show", "start", "pause", "resume", "promote", "abort"],
                      help="show: the plan and where it stands; start: enter step 1; pause/resume: stop or restart "
                      "promotions (rollbacks still happen); promote: enter the next step now (confirms a waiting "
                      "step); abort: stop the plan at 0 %%")
    plan.add_argument("--reason", default="", help="why (required for every action but show; kept in the history)")
    add_data_dir(plan)
    plan.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    if args.plan_action != "show" and not args.reason.strip():
        print(f"rollout plan {args.plan_action} needs --reason (it is kept in the change history)",
              file=sys.stderr)
        return RET_USAGE
    return cmd_plan(args)
