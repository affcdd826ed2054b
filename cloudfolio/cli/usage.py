"""``cloudfolio usage [USER]``: usage per user against the quotas, read from storage (as ``/admin/usage``)."""

from __future__ import annotations

import argparse
import json

from cloudfolio.cli.exits import RET_OK
from services.core.backends import build_backends
from services.core.names import validate_username
from services.core.quotas import usage_report
from services.core.settings import Settings

COLUMNS = ("user", "state", "refreshes today", "trainings this week", "GitHub requests today", "cache")


def size_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _row(user: dict) -> tuple[str, ...]:
    return (user["username"], user["state"], str(user["refreshes"]), str(user["trainings"]),
            str(user["github_requests"]), size_text(user["cache_bytes_total"]))


def _print_table(users: list[dict]) -> None:
    rows = [COLUMNS, *(_row(user) for user in users)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def cmd_usage(args: argparse.Namespace) -> int:
    username = validate_username(args.user) if args.user else None
    backends = build_backends(Settings.from_env())
    try:
        report = usage_report(backends.usage, backends.quotas, username=username, limit=args.limit)
    finally:
        backends.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return RET_OK
    quotas = report["quotas"]
    print(f"quotas: {quotas['refreshes_per_day']} refreshes/day, {quotas['trainings_per_week']} trainings/week, "
          f"{quotas['cache_bytes'] / 2**20:.0f} MiB cache; "
          f"{'enforced' if quotas['enforced'] else 'not enforced (ENABLE_QUOTA_ENFORCEMENT=false)'}")
    if username is not None:
        _print_table([report["usage"]])
        return RET_OK
    states = report["states"]
    print(f"{report['total_users']} users: {states['under']} under, {states['near']} near (80 %), {states['at']} at a "
          f"quota{'; the biggest GitHub spenders first' if report['users'] else ''}")
    if report["users"]:
        _print_table(report["users"])
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    usage = commands.add_parser(
        "usage", help="usage per user against the quotas",
        description="Print each user's refreshes today, trainings this ISO week, GitHub requests spent today and "
        "cache bytes, with the quota state (under, near at 80 %%, at a quota), from the storage the settings name. "
        "Exit 2 for an invalid user name, 3 when storage does not answer.",
    )
    usage.add_argument("user", nargs="?", help="one GitHub login (default: every user, biggest spenders first)")
    usage.add_argument("--limit", type=int, default=50, help="users listed at most (default 50)")
    usage.add_argument("--json", action="store_true", help="print the report as JSON (as GET /admin/usage)")
    usage.set_defaults(func=cmd_usage)
