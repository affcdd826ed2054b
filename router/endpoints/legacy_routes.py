"""The legacy routes the existing front end calls, answered as the legacy app did on either path.

- ``POST /api/orchestrator_start`` ``{"username", "force_refresh"}`` or a GitHub push webhook body:
  legacy-path users are started on the legacy app, queue-path users on the queue; both get the
  legacy's shapes (200 ``cached``, or 202 with ``id`` and ``statusQueryGetUri``). The status URL is
  always this router's own, for a router job that maps to the legacy instance: the legacy app's
  management URLs carry its function key (``code=``) and never reach a client;
- ``GET /runtime/webhooks/durabletask/instances/{job_id}``: Durable's status API for those jobs
  (:mod:`services.legacy.durable` shapes), polling the legacy app on the caller's behalf;
- ``GET /api/bundles/{username}`` is the bundle endpoint under its legacy name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from router.endpoints.declarations import BODY, DEPENDENCIES, RATE_LIMITED
from router.errors import error_response
from router.openapi import Operation, documented
from router.paths import CachedBundle
from router.routing import admit_refresh, choose_path_for, context_of, count_refresh
from router.validation import parse_json_object
from services.core.jobs import JobNotFound
from services.core.keys import Namespace
from services.core.names import validate_repo_name, validate_username
from services.core.serving import ServingPath
from services.legacy.durable import (
    COMPLETED,
    FAILED,
    management_payload,
    runtime_status,
    status_code,
    status_payload,
)


def legacy_cached_answer(cached: CachedBundle) -> dict[str, Any]:
    """The legacy app's 200 ``cached`` answer, for a bundle the queue path found current."""
    return {"status": "cached", "message": "Using cached repository data (fingerprint match)",
            "timestamp": datetime.now(UTC).replace(tzinfo=None).isoformat(), "cache_key": cached.cache_key,
            "repos_count": cached.repos_count, "bundle_fingerprint": cached.fingerprint,
            "cache_info": {"last_modified": cached.last_modified, "size_bytes": cached.size_bytes, "no_expiry": False}}


def _start_target(body: dict[str, Any]) -> tuple[str, bool] | Response:
    """``(username, force)`` from a start body or a push webhook body, or the error answer."""
    unknown = sorted(set(body) - {"username", "force_refresh", "repository"})
    if unknown and "repository" not in body:
        raise HTTPException(422, f"unknown field(s): {', '.join(unknown)}; allowed: force_refresh, username")
    if "repository" in body:
        owner = body["repository"].get("owner")
        login = owner.get("login") if isinstance(owner, dict) else None
        name = body["repository"].get("name")
        if not isinstance(login, str) or not login or not isinstance(name, str) or not name:
            return error_response(400, "Invalid GitHub webhook payload: missing username or repo name")
        validate_repo_name(name)
        return validate_username(login), True
    return validate_username(body.get("username", "yungryce")), body.get("force_refresh", False)


def _management(request: Request, job_id: str, retry_after: str = "2") -> JSONResponse:
    """Durable's 202 for a job, pointing at this router's own status route: the legacy app's URLs (and
    the function key in their ``code=``) never reach a client."""
    payload = management_payload(context_of(request).settings.public_url, job_id, operations=("statusQueryGetUri",))
    return JSONResponse(payload, status_code=202,
                        headers={"Location": payload["statusQueryGetUri"], "Retry-After": retry_after})


@documented(post=Operation(
    "Legacy start route (front end compatibility)", {200: "LegacyCached", 202: "DurableManagement", **BODY,
                                                      **RATE_LIMITED, **DEPENDENCIES},
    description="Body `{username, force_refresh}` or a GitHub push webhook. Answers as the legacy Durable Functions "
                "app did: 200 `cached`, or 202 with `id` and `statusQueryGetUri` (a status route of this router, "
                "on either path) and `Location`.",
    body="StartRequest", body_required=True,
    links={202: {"DurableStatus": ("durable_status", {"job_id": "$response.body#/id"})}}))
async def orchestrator_start(request: Request) -> Response:
    context = context_of(request)
    body = parse_json_object(await request.body(), {"username": str, "force_refresh": bool, "repository": dict},
                             strict=False, allow_empty=False)
    target = _start_target(body)
    if isinstance(target, Response):
        return target
    username, force = target
    await admit_refresh(request, username)
    path, flags = await choose_path_for(request, username)
    run = await context.paths[path].start(username, force)
    if flags.shadow:
        context.mirror.maybe_mirror(run, force, flags.shadow_sample_pct)
    await count_refresh(request, run)
    if run.job is None:
        return JSONResponse(legacy_cached_answer(run.cached))
    return _management(request, run.job.job_id)


@documented(get=Operation(
    "Durable-style status of a job started through /api/orchestrator_start, on either path",
    {200: "DurableStatus", 202: "DurableStatus", 404: "Error", **DEPENDENCIES},
    notes={200: "Completed or Failed", 202: "Pending or Running: poll again after Retry-After"}))
async def durable_status(request: Request) -> Response:
    """Durable's status API for jobs this router handed out through /api/orchestrator_start."""
    context = context_of(request)
    try:
        job = await run_in_threadpool(context.pipeline.backends.jobs.get, request.path_params["job_id"])
    except JobNotFound:
        return error_response(404, "unknown or expired instance")
    path = ServingPath(job.extra.get("path", ServingPath.QUEUE))
    expected = Namespace.LEGACY if path is ServingPath.LEGACY else Namespace.LIVE
    if job.mode != expected or job.extra.get("shadow"):
        return error_response(404, "unknown or expired instance")
    request.state.path = path.value
    if path is ServingPath.LEGACY:
        runtime, output, retry_after = await context.legacy.durable_view(job)
    else:
        runtime, output, retry_after = await _queue_durable_view(context, job)
    code = status_code(runtime)
    headers = {"Location": str(request.url.path), "Retry-After": retry_after} if code == 202 else None
    body = {**status_payload(job, output), "runtimeStatus": runtime}
    return JSONResponse(body, status_code=code, headers=headers)


async def _queue_durable_view(context: Any, job: Any) -> tuple[str, Any, str]:
    runtime = runtime_status(job)
    output: Any = None
    if runtime == COMPLETED:
        cached = await run_in_threadpool(context.pipeline.backends.cache(Namespace.LIVE).load_bundle, job.username)
        output = cached.data if cached is not None else []
    elif runtime == FAILED:
        output = "; ".join(job.reasons)
    return runtime, output, "2"
