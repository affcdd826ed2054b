"""The router's Starlette application: the public bundle API in front of both paths.

Per request the router decides the path (sticky percentage rollout, :mod:`router.bucketing`),
serves the request on it, and, in shadow mode, mirrors it to the other path in the background
(:mod:`router.shadow`). It never calls GitHub itself: the queue path answers from storage and the
job queue, the legacy path from the legacy app over HTTP.

Routes: the public API (``/bundles/...``), the legacy routes the existing front end calls
(``/api/orchestrator_start``, ``/api/bundles/{username}``, and Durable's status URL for jobs the
queue path serves through them), ``/health``, ``/ready``, ``/metrics``, ``/openapi.json``,
``/docs``, and the admin API (``/admin/...``, bearer token). Handlers that touch storage or the
broker hand that work to threads, so the event loop never blocks.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Lifespan

from rollout.flag_stores import (
    ENABLE_QUEUE_SHADOW,
    QUEUE_TRAFFIC_PCT,
    ROLLOUT_STICKINESS,
    SHADOW_SAMPLE_PCT,
    ReadOnlyFlagStore,
)
from router.admin import require_admin
from router.bucketing import choose_path
from router.context import RouterContext
from router.errors import EXCEPTION_HANDLERS, error_response
from router.flags import RolloutFlags
from router.openapi import DOCS_HTML, openapi_schema
from router.paths import Run
from router.validation import read_json_object
from services.core.jobs import COMPLETED, FAILED, Job, JobNotFound
from services.core.keys import CacheKeys, Namespace
from services.core.names import validate_repo_name, validate_username
from services.legacy.app import STATUS_PATH
from services.train.search import extractive_answer

log = logging.getLogger("cloudfolio.router")

Handler = Callable[[Request], Awaitable[Response]]


def create_app(context: RouterContext, *, lifespan: Lifespan | None = None,
               legacy_app: ASGIApp | None = None) -> Starlette:
    """Build the router app. ``legacy_app`` mounts the legacy replica at ``/legacy`` (embedded mode)."""
    metrics = context.metrics
    jobs = context.pipeline.runtime.jobs
    settings = context.settings

    def instrumented(route: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapper(request: Request) -> Response:
                started = time.perf_counter()
                request.state.path = "-"
                status = 500
                try:
                    response = await handler(request)
                    status = response.status_code
                    return response
                except HTTPException as exc:
                    status = exc.status_code
                    raise
                finally:
                    metrics.observe(route, request.state.path, status, time.perf_counter() - started)

            return wrapper

        return decorate

    async def decide_with_flags(request: Request, username: str) -> tuple[str, RolloutFlags]:
        flags = await run_in_threadpool(context.flags.current)
        path, bucket = choose_path(username, flags.percentage, stickiness=flags.stickiness, salt=settings.rollout_salt)
        request.state.path = path
        metrics.decisions.labels(path).inc()
        log.info("routed %s to %s", username, path,
                 extra={"username": username, "percentage": flags.percentage, "bucket": bucket, "path": path})
        return path, flags

    async def decide(request: Request, username: str) -> str:
        return (await decide_with_flags(request, username))[0]

    async def start_refresh(request: Request, username: str, force: bool) -> Run:
        path, flags = await decide_with_flags(request, username)
        run = await context.paths[path].start(username, force)
        if flags.shadow:
            context.mirror.maybe_mirror(run, force, flags.shadow_sample_pct)
        return run

    def status_url(username: str, job_id: str) -> str:
        return f"/bundles/{username}/status?job_id={job_id}"

    # -- public API ----------------------------------------------------------------------------
    @instrumented("/bundles/{username}/refresh")
    async def refresh(request: Request) -> Response:
        username = validate_username(request.path_params["username"])
        body = await read_json_object(request, {"force": bool})
        run = await start_refresh(request, username, body.get("force", False))
        if run.job is None:
            return JSONResponse({"status": "cached", "username": username, "path": run.path,
                                 "bundle_fingerprint": run.cached_fingerprint, **run.cached_info})
        return JSONResponse({"status": "processing", "username": username, "path": run.path,
                             "job_id": run.job.job_id, "status_url": status_url(username, run.job.job_id)},
                            status_code=202, headers={"Location": status_url(username, run.job.job_id)})

    async def load_job(username: str, job_id: str | None) -> Job:
        if not job_id:
            raise HTTPException(400, "query parameter job_id is required")
        try:
            job = await run_in_threadpool(jobs.get, job_id)
        except JobNotFound:
            raise HTTPException(404, "unknown or expired job") from None
        if job.username != username or job.mode == Namespace.SHADOW or job.extra.get("shadow"):
            raise HTTPException(404, "unknown or expired job")
        return job

    @instrumented("/bundles/{username}/status")
    async def job_status(request: Request) -> Response:
        username = validate_username(request.path_params["username"])
        job = await load_job(username, request.query_params.get("job_id"))
        path = job.extra.get("path", "queue")
        request.state.path = path
        view = await context.paths[path].status(job)
        if view["status"] in (COMPLETED, FAILED) and await run_in_threadpool(_first_report, job.job_id):
            metrics.jobs.labels(path, view["status"]).inc()  # once per job, whichever replica sees it first
        return JSONResponse(view)

    def _first_report(job_id: str) -> bool:
        """Mark a finished job as counted; True only for the caller that marked it."""
        marked = []

        def change(current: Job) -> bool | None:
            if current.extra.get("reported"):
                return False
            current.extra["reported"] = True
            marked.append(True)
            return None

        jobs.update(job_id, change)
        return bool(marked)

    @instrumented("/bundles/{username}")
    async def bundle(request: Request) -> Response:
        username = validate_username(request.path_params["username"])
        path = await decide(request, username)
        if path == "queue":  # the stored records go out as stored: no decode, no re-encode
            body = await context.queue.bundle_bytes(username)
            if body is None:
                return error_response(404, f"No valid bundle found for '{username}'")
            return Response(body, media_type="application/json")
        code, payload = await context.paths[path].bundle(username)
        return JSONResponse(payload, status_code=code)

    @instrumented("/bundles/{username}/{repo}")
    async def repo(request: Request) -> Response:
        username = validate_username(request.path_params["username"])
        name = validate_repo_name(request.path_params["repo"])
        path = await decide(request, username)
        code, body = await context.paths[path].repo(username, name)
        return JSONResponse(body, status_code=code)

    async def _search(request: Request, username: str, query: str, k: int) -> dict[str, Any]:
        path = await decide(request, username)
        code, body = await context.paths[path].bundle(username)
        if code != 200:
            raise HTTPException(404, f"No valid bundle found for '{username}': refresh it first")
        try:
            result = await run_in_threadpool(context.search[path].search, username, body["data"], query, k)
        except ImportError as exc:  # a deployment without the training extra
            raise HTTPException(503, "semantic search needs the training extra (pip install 'cloudfolio[train]'): "
                                     f"{exc}") from None
        return {"username": username, "path": path, **result}

    @instrumented("/bundles/{username}/search")
    async def search(request: Request) -> Response:
        username = validate_username(request.path_params["username"])
        query = request.query_params.get("q", "").strip()
        if not query or len(query) > 500:
            raise HTTPException(400, "query parameter q is required (1-500 characters)")
        try:
            k = int(request.query_params.get("k", "5"))
        except ValueError:
            raise HTTPException(400, "k must be an integer between 1 and 20") from None
        if not 1 <= k <= 20:
            raise HTTPException(400, "k must be an integer between 1 and 20")
        return JSONResponse(await _search(request, username, query, k))

    @instrumented("/api/ai")
    async def legacy_ai(request: Request) -> Response:
        body = await read_json_object(request, {"query": str, "username": str, "instance_id": str,
                                                "status_query_url": str}, required=("query",), allow_empty=False)
        query = body["query"].strip()
        if not query or len(query) > 500:
            raise HTTPException(400, "Request body must contain 'query' field (1-500 characters)")
        username = validate_username(body.get("username", "yungryce"))
        result = await _search(request, username, query, 3)
        return JSONResponse({
            "response": extractive_answer(query, result["results"]),
            "repositories_used": [{"name": r["repo"], "relevance_score": r["score"]} for r in result["results"]],
            "total_repositories": len(result["results"]),
            "query": query,
            "model": result["model"],
            "path": result["path"],
        })

    # -- the legacy routes the front end calls ---------------------------------------------------
    @instrumented("/api/orchestrator_start")
    async def legacy_start(request: Request) -> Response:
        raw = await request.body()
        body = await read_json_object(request, {"username": str, "force_refresh": bool, "repository": dict},
                                      strict=False)
        unknown = sorted(set(body) - {"username", "force_refresh", "repository"})
        if unknown and "repository" not in body:
            raise HTTPException(422, f"unknown field(s): {', '.join(unknown)}; allowed: force_refresh, username")
        if "repository" in body:
            owner = ((body["repository"].get("owner") or {}).get("login"))
            if not owner or not body["repository"].get("name"):
                return error_response(400, "Invalid GitHub webhook payload: missing username or repo name")
            username, force = validate_username(owner), True
        else:
            username, force = validate_username(body.get("username", "yungryce")), body.get("force_refresh", False)
        path, flags = await decide_with_flags(request, username)
        if path == "legacy":
            upstream = await context.legacy.client.passthrough("POST", "/api/orchestrator_start", raw)
            headers = {k: v for k, v in upstream.headers.items() if k.lower() in {"location", "retry-after"}}
            if flags.shadow and upstream.status_code in (200, 202):
                mirrored = await _legacy_run_from(upstream, username, force)
                context.mirror.maybe_mirror(mirrored, force, flags.shadow_sample_pct)
            return Response(upstream.content, status_code=upstream.status_code, headers=headers,
                            media_type=upstream.headers.get("content-type", "application/json"))
        run = await context.queue.start(username, force)
        if flags.shadow:
            context.mirror.maybe_mirror(run, force, flags.shadow_sample_pct)
        if run.job is None:
            return JSONResponse({"status": "cached", "message": "Using cached repository data (fingerprint match)",
                                 "timestamp": datetime.now(UTC).replace(tzinfo=None).isoformat(),
                                 "cache_key": CacheKeys().bundle(username),
                                 "bundle_fingerprint": run.cached_fingerprint, **run.cached_info})
        base = str(request.base_url).rstrip("/") + STATUS_PATH + run.job.job_id
        payload = {"id": run.job.job_id, "statusQueryGetUri": base, "terminatePostUri": f"{base}/terminate",
                   "purgeHistoryDeleteUri": base}
        return JSONResponse(payload, status_code=202, headers={"Location": base, "Retry-After": "2"})

    async def _legacy_run_from(upstream: Any, username: str, force: bool) -> Run:
        """A Run for a legacy answer the router passed through, so the mirror can follow it."""
        payload = upstream.json()
        if upstream.status_code == 200:
            return Run("legacy", username, cached_fingerprint=payload.get("bundle_fingerprint"))
        job = await run_in_threadpool(jobs.create, username, mode=Namespace.LEGACY, force=force,
                                      extra={"path": "legacy", "instance_id": payload["id"],
                                             "status_url": payload["statusQueryGetUri"]})
        return Run("legacy", username, job=job)

    @instrumented(STATUS_PATH + "{job_id}")
    async def durable_status(request: Request) -> Response:
        """Durable's status API for queue-path jobs started through /api/orchestrator_start."""
        try:
            job = await run_in_threadpool(jobs.get, request.path_params["job_id"])
        except JobNotFound:
            return Response(status_code=404)
        if job.mode != Namespace.LIVE or job.extra.get("path", "queue") != "queue":
            return Response(status_code=404)  # only queue-path jobs live here; legacy ones at the legacy app
        request.state.path = "queue"
        runtime_status = {"pending": "Pending", "processing": "Running", COMPLETED: "Completed",
                          FAILED: "Failed"}[job.status]
        output = None
        if job.status == COMPLETED:
            cached = await run_in_threadpool(context.pipeline.runtime.cache(Namespace.LIVE).load_bundle, job.username)
            output = cached.data if cached is not None else []
        elif job.status == FAILED:
            output = "; ".join(job.reasons)
        body = {"name": "repo_context_orchestrator", "instanceId": job.job_id, "runtimeStatus": runtime_status,
                "input": job.username, "customStatus": None, "output": output, "createdTime": job.created_at,
                "lastUpdatedTime": job.finished_at or datetime.now(UTC).isoformat()}
        if runtime_status in ("Pending", "Running"):
            return JSONResponse(body, status_code=202, headers={"Location": str(request.url), "Retry-After": "2"})
        return JSONResponse(body)

    @instrumented("/api/bundles/{username}")
    async def legacy_bundle(request: Request) -> Response:
        return await bundle.__wrapped__(request)  # type: ignore[attr-defined]

    # -- operations ----------------------------------------------------------------------------
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "healthy", "timestamp": datetime.now(UTC).isoformat()},
                            headers={"Cache-Control": "no-cache"})

    async def ready(request: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            await run_in_threadpool(context.pipeline.runtime.storage.check)
            checks["storage"] = "ok"
        except Exception as exc:
            checks["storage"] = f"unavailable: {exc}"
        checks["broker"] = "ok" if context.pipeline.runtime.broker_bundle.embedded else (
            "ok" if (state := await run_in_threadpool(context.broker_probe.state)) == "connected" else state)
        try:
            await run_in_threadpool(context.flags.store.read)
            checks["flags"] = "ok"
        except Exception as exc:
            checks["flags"] = f"unavailable: {exc}"
        legacy_state = await context.legacy.client.reachable()
        checks["legacy"] = "ok" if legacy_state == "reachable" else legacy_state
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503, headers={"Cache-Control": "no-cache"})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(context.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_schema())

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    # -- admin ---------------------------------------------------------------------------------
    @instrumented("/admin/rollout")
    async def admin_rollout(request: Request) -> Response:
        actor = require_admin(request, settings.admin_token)
        if request.method == "PUT":
            body = await read_json_object(request, {"percentage": (int, float), "stickiness": str, "shadow": bool,
                                                    "shadow_sample_pct": (int, float), "reason": str})
            changes = _rollout_changes(body)
            current = await run_in_threadpool(context.flags.current)
            if current.locked and "percentage" in body and body["percentage"] > current.percentage:
                raise HTTPException(409, f"rollout is locked ({current.lock}); re-enable it before raising the "
                                         "percentage")
            try:
                await run_in_threadpool(context.flags.store.write, changes, actor=actor,
                                        reason=body.get("reason", "admin API"))
            except ReadOnlyFlagStore as exc:
                raise HTTPException(409, str(exc)) from None
            context.flags.invalidate()
            log.info("rollout changed by %s: %s", actor, changes)
        flags = await run_in_threadpool(context.flags.current)
        return JSONResponse({"flags": flags.as_dict(), "store": context.flags.store.name,
                             "ttl_seconds": context.flags.ttl})

    @instrumented("/admin/shadow")
    async def admin_shadow(request: Request) -> Response:
        require_admin(request, settings.admin_token)
        recent = list(context.mirror.recent)[::-1]
        counts: dict[str, int] = {}
        for comparison in recent:
            counts[comparison.verdict] = counts.get(comparison.verdict, 0) + 1
        return JSONResponse({"in_flight": context.mirror.in_flight, "counts": counts,
                             "recent": [vars(c) for c in recent[:50]]})

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/bundles/{username}/refresh", refresh, methods=["POST"]),
        Route("/bundles/{username}/status", job_status, methods=["GET"]),
        Route("/bundles/{username}/search", search, methods=["GET"]),
        Route("/bundles/{username}", bundle, methods=["GET"]),
        Route("/bundles/{username}/{repo}", repo, methods=["GET"]),
        Route("/api/orchestrator_start", legacy_start, methods=["POST"]),
        Route("/api/bundles/{username}", legacy_bundle, methods=["GET"]),
        Route("/api/ai", legacy_ai, methods=["POST"]),
        Route(STATUS_PATH + "{job_id}", durable_status, methods=["GET"]),
        Route("/admin/rollout", admin_rollout, methods=["GET", "PUT"]),
        Route("/admin/shadow", admin_shadow, methods=["GET"]),
    ]
    if legacy_app is not None:
        routes.append(Mount("/legacy", app=legacy_app))
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)


def _rollout_changes(body: dict[str, Any]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for name, flag in (("percentage", QUEUE_TRAFFIC_PCT), ("shadow_sample_pct", SHADOW_SAMPLE_PCT)):
        if name in body:
            if not 0 <= body[name] <= 100:
                raise HTTPException(422, f"{name} must be between 0 and 100")
            changes[flag] = f"{body[name]:g}"
    if "stickiness" in body:
        if body["stickiness"] not in ("sticky", "random"):
            raise HTTPException(422, "stickiness must be sticky or random")
        changes[ROLLOUT_STICKINESS] = body["stickiness"]
    if "shadow" in body:
        changes[ENABLE_QUEUE_SHADOW] = "true" if body["shadow"] else "false"
    if not changes:
        raise HTTPException(422, "nothing to change: give percentage, stickiness, shadow or shadow_sample_pct")
    return changes
