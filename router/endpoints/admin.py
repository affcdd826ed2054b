"""The admin API (bearer token, :mod:`router.auth`): ``GET``/``PUT /admin/rollout``,
``GET /admin/shadow`` and ``GET /admin/usage``.

Changes go through :func:`rollout.changes.set_flags`, the same rules as ``cloudfolio rollout``
(ranges, the lock, the reason kept in the history); the router's flag cache is invalidated so the
change is in force on this replica at once and on the others within the flag TTL.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rollout.changes import FlagChanges, set_flags
from rollout.progression import PlanState
from rollout.stores import FlagStoreError
from router.auth import require_admin
from router.endpoints.declarations import ADMIN, BAD_NAME, BODY, DEPENDENCIES
from router.openapi import Operation, Query, documented
from router.routing import context_of
from router.schemas import USERNAME
from router.validation import read_json_object
from services.core.names import validate_username
from services.core.quotas import usage_report

log = logging.getLogger("cloudfolio.router")

CHANGE_FIELDS = {"percentage": (int, float), "stickiness": str, "shadow": bool, "shadow_sample_pct": (int, float),
                 "reason": str}


@documented(
    get=Operation("Rollout flags in force", {200: "Rollout", **ADMIN, **DEPENDENCIES}, admin=True),
    put=Operation("Change rollout flags", {200: "Rollout", **ADMIN, **BODY, 409: "Error", **DEPENDENCIES},
                  description="The same rules as `cloudfolio rollout set|shadow`: values in range, a reason (kept in "
                              "the history), and no raise of the percentage while the rollout is locked (409).",
                  body="RolloutChange", body_required=True, admin=True))
async def rollout(request: Request) -> Response:
    context = context_of(request)
    actor = require_admin(request, context.settings.admin_token)
    if request.method == "PUT":
        body = await read_json_object(request, CHANGE_FIELDS)
        changes = FlagChanges(percentage=body.get("percentage"), shadow=body.get("shadow"),
                              shadow_sample_pct=body.get("shadow_sample_pct"), stickiness=body.get("stickiness"))
        written = await run_in_threadpool(set_flags, context.flags.store, changes, actor=actor,
                                          reason=body.get("reason", ""))
        context.flags.invalidate()
        log.info("rollout changed by %s: %s", actor, written)
    flags = await run_in_threadpool(context.flags.current)
    answer = {"flags": flags.as_dict(), "store": context.flags.store.name, "ttl_seconds": context.flags.ttl}
    try:  # the plan's stage is read live; a store that is down leaves it out (the flags above are cached)
        answer["plan"] = asdict(await run_in_threadpool(PlanState.read, context.flags.store))
    except FlagStoreError as exc:
        log.warning("rollout plan state unavailable: %s", exc)
    return JSONResponse(answer)


@documented(get=Operation("Latest shadow comparisons", {200: "ShadowReport", **ADMIN}, admin=True))
async def shadow(request: Request) -> Response:
    context = context_of(request)
    require_admin(request, context.settings.admin_token)
    recent = list(context.mirror.recent)[::-1]
    counts: dict[str, int] = {}
    for comparison in recent:
        counts[comparison.verdict] = counts.get(comparison.verdict, 0) + 1
    return JSONResponse({"in_flight": context.mirror.in_flight, "counts": counts,
                         "recent": [vars(c) for c in recent[:50]]})


@documented(get=Operation(
    "Usage per user and the quotas", {200: "UsageReport", **ADMIN, **BAD_NAME, **DEPENDENCIES}, admin=True,
    description="Refreshes today, trainings this ISO week, GitHub requests spent today and cache bytes, per user, "
                "with each user's quota state (`under`, `near`: 80 %, `at`). Without `username`: every user, the "
                "biggest GitHub spenders first (at most 1,000), and the count per state.",
    query=(Query("username", USERNAME, description="one user only (a GitHub login)"),)))
async def usage(request: Request) -> Response:
    context = context_of(request)
    require_admin(request, context.settings.admin_token)
    backends = context.pipeline.backends
    username = request.query_params.get("username")
    if username is not None:
        username = validate_username(username)
    await run_in_threadpool(context.refresh_counts.flush)  # this replica's pending counts are in the report
    report = await run_in_threadpool(usage_report, backends.usage, backends.quotas, username=username)
    if username is None:
        backends.observations.usage_users(report["states"])  # type: ignore[arg-type]
    return JSONResponse(report)
