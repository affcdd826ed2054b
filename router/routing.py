"""The routing decision of one request: which path serves this user, with the flags in force.

Every endpoint that serves a user's data asks :func:`choose_path_for`; the decision is logged,
counted (``router_routing_decisions_total{path}``) and stored on ``request.state.path`` so the
request metrics carry it. :func:`start_refresh` starts a refresh on the chosen path (the trace's
``refresh_request`` span) and mirrors it to the other path when shadow mode is on.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from rollout.flags import RolloutFlags
from router.bucketing import choose_path
from router.context import RouterContext
from router.paths import Run
from router.rate_limits import RefreshRateLimited
from services.core import tracing
from services.core.serving import ServingPath

log = logging.getLogger("cloudfolio.router")


def context_of(request: Request) -> RouterContext:
    return request.app.state.context


async def choose_path_for(request: Request, username: str) -> tuple[ServingPath, RolloutFlags]:
    context = context_of(request)
    # once flags are known they come from memory (a refresh runs in the background): no thread hop
    flags = context.flags.current_if_known() or await run_in_threadpool(context.flags.current)
    path, bucket = choose_path(username, flags.percentage, stickiness=flags.stickiness,
                               salt=context.settings.rollout_salt)
    request.state.path = path.value
    context.metrics.decided(path.value)
    if log.isEnabledFor(logging.INFO):  # every GET decides: no record's fields built for a level that is off
        log.info("routed %s to %s", username, path,
                 extra={"username": username, "percentage": flags.percentage, "bucket": bucket, "path": path.value})
    return path, flags


def client_address(request: Request) -> str:
    """Who is asking: the configured proxy header's first address, else the connection's."""
    header = context_of(request).settings.client_ip_header
    forwarded = request.headers.get(header, "") if header else ""
    if forwarded.split(",")[0].strip():
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "unknown"


def check_refresh_limits(request: Request, username: str) -> None:
    """Raise :class:`~router.rate_limits.RefreshRateLimited` (429) when this refresh is over a limit."""
    context = context_of(request)
    try:
        context.limits.check(client_address(request), username)
    except RefreshRateLimited as exc:
        context.metrics.rate_limited.labels(exc.limit).inc()
        log.warning("refresh of %s refused: %s", username, exc, extra={"username": username})
        raise


async def start_refresh(request: Request, username: str, force: bool, *, source_changed: bool = False) -> Run:
    """Start (or join) a refresh on the user's path. ``source_changed`` (a signed GitHub webhook) skips
    the refresh rate limits (every delivery comes from GitHub's few addresses) and the freshness
    shortcut (the bundle was verified recently, but GitHub just said it changed)."""
    context = context_of(request)
    if not source_changed:
        await admit_refresh(request, username)
    path, flags = await choose_path_for(request, username)
    with tracing.span(tracing.REFRESH_REQUEST, username=username, path=path.value, mode="live") as span:
        run = await context.paths[path].start(username, force, verify=source_changed)
        if run.job is not None and span.is_recording():
            span.set_attributes(tracing.attributes(job_id=run.job.job_id))
        if flags.shadow:
            context.mirror.maybe_mirror(run, force, flags.shadow_sample_pct)
    await count_refresh(request, run)
    return run


async def admit_refresh(request: Request, username: str) -> None:
    """The refresh rate limits, then the user's quotas: raises the 429 of the first one refusing it."""
    check_refresh_limits(request, username)
    await check_refresh_quota(request, username)


async def count_refresh(request: Request, run: Run) -> None:
    """Count a started (or joined) refresh in the user's usage; a cached answer is not a refresh."""
    if run.job is not None:  # in memory: written to the user's usage in batches (RefreshCounts)
        context_of(request).refresh_counts.add(run.username)


async def check_refresh_quota(request: Request, username: str) -> None:
    """Raise :class:`~services.core.quotas.QuotaExceeded` (429) when enforcement is on and the user is at a
    quota; with it off an exceeded quota is only counted and logged (``Quotas.judge``)."""
    context = context_of(request)
    backends, counts = context.pipeline.backends, context.refresh_counts
    usage = counts.cached(username) or await run_in_threadpool(counts.get, username)
    refused = backends.quotas.judge(backends.quotas.check_refresh(usage, backends.usage.clock()), "refresh",
                                    backends.observations)
    if refused is not None:
        raise refused
