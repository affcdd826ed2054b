"""The legacy routes the existing front end calls, answered as the legacy app did on either path.

- ``POST /api/orchestrator_start`` ``{"username", "force_refresh"}`` or a GitHub push webhook body:
  legacy-path users are passed through to the legacy app; queue-path users get the same shapes
  (200 ``cached``, or 202 with Durable's management payload pointing at the router's status route);
- ``GET /runtime/webhooks/durabletask/instances/{job_id}``: Durable's status API for those queue
  jobs (:mod:`services.legacy.durable` shapes);
- ``GET /api/bundles/{username}`` is the bundle endpoint under its legacy name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from router.endpoints.declarations import BODY, DEPENDENCIES
from router.errors import error_response
from router.legacy_client import LegacyProtocolError
from router.openapi import Operation, documented
from router.paths import CachedBundle, Run
from router.paths.legacy import cached_from_legacy
from router.routing import choose_path_for, context_of
from router.validation import read_json_object
from services.core.jobs import JobNotFound
from services.core.keys import Namespace
from services.core.names import validate_username
from services.core.serving import ServingPath
from services.legacy.durable import (
    COMPLETED,
    FAILED,
    management_payload,
    runtime_status,
    status_code,
    status_payload,
)

#: What the router's own Durable-style payload offers for queue-path jobs.
QUEUE_JOB_OPERATIONS = ("statusQueryGetUri", "terminatePostUri", "purgeHistoryDeleteUri")


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
        owner = ((body["repository"].get("owner") or {}).get("login"))
        if not owner or not body["repository"].get("name"):
            return error_response(400, "Invalid GitHub webhook payload: missing username or repo name")
        return validate_username(owner), True
    return validate_username(body.get("username", "yungryce")), body.get("force_refresh", False)


@documented(post=Operation(
    "Legacy start route (front end compatibility)", {200: "LegacyCached", 202: "DurableManagement", **BODY,
                                                      **DEPENDENCIES},
    description="Body `{username, force_refresh}` or a GitHub push webhook. Answers as the legacy Durable Functions "
                "app did: 200 `cached`, or 202 with the management payload and `Location`, on either path.",
    body="StartRequest"))
async def orchestrator_start(request: Request) -> Response:
    context = context_of(request)
    raw = await request.body()
    body = await read_json_object(request, {"username": str, "force_refresh": bool, "repository": dict},
                                  strict=False)
    target = _start_target(body)
    if isinstance(target, Response):
        return target
    username, force = target
    path, flags = await choose_path_for(request, username)
    if path is ServingPath.LEGACY:
        upstream = await context.legacy.client.passthrough("POST", "/api/orchestrator_start", raw)
        if upstream.status_code not in (200, 202, 400):
            raise LegacyProtocolError(f"orchestrator_start answered {upstream.status_code}")
        headers = {k: v for k, v in upstream.headers.items() if k.lower() in {"location", "retry-after"}}
        if flags.shadow and upstream.status_code in (200, 202):
            mirrored = await _legacy_run_from(request, upstream, username, force)
            context.mirror.maybe_mirror(mirrored, force, flags.shadow_sample_pct)
        return Response(upstream.content, status_code=upstream.status_code, headers=headers,
                        media_type=upstream.headers.get("content-type", "application/json"))
    run = await context.queue.start(username, force)
    if flags.shadow:
        context.mirror.maybe_mirror(run, force, flags.shadow_sample_pct)
    if run.job is None:
        return JSONResponse(legacy_cached_answer(run.cached))
    payload = management_payload(str(request.base_url), run.job.job_id, operations=QUEUE_JOB_OPERATIONS)
    return JSONResponse(payload, status_code=202,
                        headers={"Location": payload["statusQueryGetUri"], "Retry-After": "2"})


async def _legacy_run_from(request: Request, upstream: Any, username: str, force: bool) -> Run:
    """A Run for a legacy answer the router passed through, so the mirror can follow it."""
    jobs = context_of(request).pipeline.backends.jobs
    payload = upstream.json()
    if upstream.status_code == 200:
        return Run(ServingPath.LEGACY, username, cached=cached_from_legacy(payload))
    job = await run_in_threadpool(jobs.create, username, mode=Namespace.LEGACY, force=force,
                                  extra={"path": ServingPath.LEGACY.value, "instance_id": payload["id"],
                                         "status_url": payload["statusQueryGetUri"]})
    return Run(ServingPath.LEGACY, username, job=job)


@documented(get=Operation(
    "Durable-style status of a queue-path job started through /api/orchestrator_start",
    {200: "DurableStatus", 202: "DurableStatus", 404: "Error", **DEPENDENCIES},
    notes={200: "Completed or Failed", 202: "Pending or Running: poll again after Retry-After"}))
async def durable_status(request: Request) -> Response:
    """Durable's status API for queue-path jobs started through /api/orchestrator_start."""
    context = context_of(request)
    try:
        job = await run_in_threadpool(context.pipeline.backends.jobs.get, request.path_params["job_id"])
    except JobNotFound:
        return error_response(404, "unknown or expired instance")
    if job.mode != Namespace.LIVE or job.extra.get("path", ServingPath.QUEUE) != ServingPath.QUEUE:
        return error_response(404, "unknown or expired instance")  # legacy instances live at the legacy app
    request.state.path = ServingPath.QUEUE.value
    runtime = runtime_status(job)
    output: Any = None
    if runtime == COMPLETED:
        cached = await run_in_threadpool(context.pipeline.backends.cache(Namespace.LIVE).load_bundle, job.username)
        output = cached.data if cached is not None else []
    elif runtime == FAILED:
        output = "; ".join(job.reasons)
    code = status_code(runtime)
    headers = {"Location": str(request.url), "Retry-After": "2"} if code == 202 else None
    return JSONResponse(status_payload(job, output), status_code=code, headers=headers)
