"""The legacy service's HTTP API, shaped like the Azure Functions + Durable Functions app.

- ``POST /api/orchestrator_start`` ``{"username", "force_refresh"}`` (or a GitHub push webhook
  body): 200 ``cached`` when the bundle matches GitHub, else 202 with Durable's management payload
  (``id``, ``statusQueryGetUri``, ``sendEventPostUri``, ``terminatePostUri``, ...) and a
  ``Location`` header.
- ``GET /runtime/webhooks/durabletask/instances/{id}``: Durable's status API. As the extension's
  own handler does: 202 with ``Location`` and ``Retry-After`` while Pending or Running; 200 when
  Completed, Failed or Terminated (500 for Failed with ``returnInternalServerErrorOnFailure=true``);
  404 for an unknown instance. A completed run's ``output`` is the merged bundle (the records).
- ``POST .../instances/{id}/terminate?reason=``: 202, as Durable.
- ``GET /api/bundles/{username}`` and ``/api/bundles/{username}/{repo}``: read-only cache views.
- ``GET /api/health``: liveness (the real app had none; the router's readiness uses it).

Deliberate differences from the legacy, documented in README: an empty or non-JSON body is a 400
(the legacy answered 500), usernames are validated, and the global "model gate" is gone (models are
per user). With a function key configured, requests need it as ``code`` or ``x-functions-key``.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.core.errors import InvalidName
from services.core.jobs import JobNotFound
from services.core.names import validate_repo_name, validate_username
from services.core.sources import SourceError
from services.legacy.orchestrator import PENDING, RUNNING, LegacyOrchestrator

TASK_HUB = "DurableFunctionsHub"
CONNECTION = "Storage"
STATUS_PATH = "/runtime/webhooks/durabletask/instances/"


def _legacy_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The legacy success helper: 2-space indented JSON, public caching for 15 minutes."""
    body = json.dumps(payload, indent=2)
    all_headers = {"Cache-Control": "public, max-age=900", **(headers or {})}
    return Response(body, status_code=status, headers=all_headers, media_type="application/json; charset=utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_legacy_app(orchestrator: LegacyOrchestrator, *, function_key: str = "", retry_after: int = 10) -> Starlette:
    """The legacy service app. ``retry_after`` is the seconds Durable tells pollers to wait (10)."""

    def authorized(request: Request) -> bool:
        if not function_key:
            return True
        given = request.query_params.get("code") or request.headers.get("x-functions-key") or ""
        return hmac.compare_digest(given.encode(), function_key.encode())

    def app_base(request: Request) -> str:
        # this app's own base URL: inside a Mount, root_path carries the mount prefix
        # (request.base_url would give the parent app's base)
        return str(request.url.replace(path=request.scope.get("root_path", ""), query="")).rstrip("/")

    def management_urls(request: Request, instance_id: str) -> dict[str, str]:
        base = app_base(request) + STATUS_PATH + instance_id
        query = f"taskHub={TASK_HUB}&connection={CONNECTION}" + (f"&code={function_key}" if function_key else "")
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{query}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{base}?{query}",
            "restartPostUri": f"{base}/restart?{query}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
        }

    async def parse_start_body(request: Request) -> tuple[str, bool]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ValueError("Request body must be a JSON object")
        if "repository" in body:  # a GitHub push webhook: refresh the owner, forced
            repository = body.get("repository") or {}
            owner = (repository.get("owner") or {}).get("login") if isinstance(repository, dict) else None
            if not owner or not (isinstance(repository, dict) and repository.get("name")):
                raise ValueError("Invalid GitHub webhook payload: missing username or repo name")
            return validate_username(owner), True
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            raise ValueError("force_refresh must be true or false")
        return validate_username(body.get("username", "yungryce")), force

    def start(request: Request, username: str, force: bool) -> Response:
        if not force:
            answer = orchestrator.cached_answer(username)
            if answer is not None:
                return _legacy_json(answer.payload)
        job = orchestrator.start(username, force=force)
        payload = management_urls(request, job.job_id)
        return JSONResponse(payload, status_code=202,
                            headers={"Location": payload["statusQueryGetUri"], "Retry-After": str(retry_after)})

    async def orchestrator_start(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "function key required")
        try:
            username, force = await parse_start_body(request)
        except (ValueError, InvalidName) as exc:
            return _error(400, str(exc))
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(start, request, username, force)
        except SourceError as exc:
            return _error(500, f"Failed to start orchestration: {exc}")

    def instance_status(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "function key required")
        instance_id = request.path_params["instance_id"]
        try:
            job = orchestrator.jobs.get(instance_id)
        except JobNotFound:
            return Response(status_code=404)
        runtime_status = orchestrator.runtime_status(job)
        body = {
            "name": "repo_context_orchestrator",
            "instanceId": job.job_id,
            "runtimeStatus": runtime_status,
            "input": job.username,
            "customStatus": None,
            "output": orchestrator.output(job) if runtime_status == "Completed" else
            ("; ".join(job.reasons) if runtime_status in ("Failed", "Terminated") else None),
            "createdTime": job.created_at.replace("+00:00", "Z"),
            "lastUpdatedTime": (job.finished_at or datetime.now(UTC).isoformat()).replace("+00:00", "Z"),
        }
        if runtime_status in (PENDING, RUNNING):
            return JSONResponse(body, status_code=202,
                                headers={"Location": str(request.url), "Retry-After": str(retry_after)})
        fail_500 = request.query_params.get("returnInternalServerErrorOnFailure", "").lower() == "true"
        return JSONResponse(body, status_code=500 if runtime_status == "Failed" and fail_500 else 200)

    def terminate(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "function key required")
        try:
            orchestrator.terminate(request.path_params["instance_id"], request.query_params.get("reason", ""))
        except JobNotFound:
            return Response(status_code=404)
        return Response(status_code=202)

    def bundle(request: Request) -> Response:
        try:
            username = validate_username(request.path_params["username"])
        except InvalidName as exc:
            return _error(400, str(exc))
        cached = orchestrator.cache.load_bundle(username)
        if cached is None:
            return _error(404, f"No valid bundle found for '{username}'")
        return _legacy_json({"username": username, "fingerprint": cached.fingerprint,
                             "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                             "data": cached.data})

    def repo(request: Request) -> Response:
        try:
            username = validate_username(request.path_params["username"])
            name = validate_repo_name(request.path_params["repo"])
        except InvalidName as exc:
            return _error(400, str(exc))
        cached = orchestrator.cache.load_record(username, name)
        if cached is None:
            return _error(404, f"No valid repository data found for '{name}' by user '{username}'")
        return _legacy_json({"username": username, "repo": name, "fingerprint": cached.fingerprint,
                             "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                             "data": cached.data})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "healthy"}, headers={"Cache-Control": "no-cache"})

    return Starlette(routes=[
        Route("/api/orchestrator_start", orchestrator_start, methods=["POST"]),
        Route(STATUS_PATH + "{instance_id}", instance_status, methods=["GET"]),
        Route(STATUS_PATH + "{instance_id}/terminate", terminate, methods=["POST"]),
        Route("/api/bundles/{username}", bundle, methods=["GET"]),
        Route("/api/bundles/{username}/{repo}", repo, methods=["GET"]),
        Route("/api/health", health, methods=["GET"]),
    ])
