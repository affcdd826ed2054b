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
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.core.errors import InvalidName
from services.core.jobs import JobNotFound
from services.core.names import validate_repo_name, validate_username
from services.core.sources import SourceError
from services.legacy.durable import (
    COMPLETED,
    FAILED,
    STATUS_PATH,
    TERMINATED,
    management_payload,
    runtime_status,
    status_code,
    status_payload,
)
from services.legacy.orchestrator import LegacyOrchestrator

TASK_HUB = "DurableFunctionsHub"
CONNECTION = "Storage"


def _legacy_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The legacy success helper: 2-space indented JSON, public caching for 15 minutes."""
    body = json.dumps(payload, indent=2)
    all_headers = {"Cache-Control": "public, max-age=900", **(headers or {})}
    return Response(body, status_code=status, headers=all_headers, media_type="application/json; charset=utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@dataclass(frozen=True)
class LegacyConfig:
    """What the endpoints share, kept on ``app.state.legacy``."""

    orchestrator: LegacyOrchestrator
    function_key: str
    retry_after: int


def _config(request: Request) -> LegacyConfig:
    return request.app.state.legacy


def _authorized(request: Request) -> bool:
    key = _config(request).function_key
    if not key:
        return True
    given = request.query_params.get("code") or request.headers.get("x-functions-key") or ""
    return hmac.compare_digest(given.encode(), key.encode())


def _app_base(request: Request) -> str:
    # this app's own base URL: inside a Mount, root_path carries the mount prefix
    # (request.base_url would give the parent app's base)
    return str(request.url.replace(path=request.scope.get("root_path", ""), query="")).rstrip("/")


def _management_urls(request: Request, instance_id: str) -> dict[str, str]:
    key = _config(request).function_key
    query = f"taskHub={TASK_HUB}&connection={CONNECTION}" + (f"&code={key}" if key else "")
    return management_payload(_app_base(request), instance_id, query)


#: Largest start body read (a GitHub push webhook is a few KB).
MAX_BODY_BYTES = 64 * 1024


async def _limited_body(request: Request) -> bytes:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ValueError(f"Request body over {MAX_BODY_BYTES} bytes")
    return raw


async def _parse_start_body(request: Request) -> tuple[str, bool]:
    raw = await _limited_body(request)
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ValueError("Request body must be a JSON object")
    if "repository" in body:  # a GitHub push webhook: refresh the owner, forced
        repository = body.get("repository") or {}
        owner_object = repository.get("owner") if isinstance(repository, dict) else None
        owner = owner_object.get("login") if isinstance(owner_object, dict) else None
        if not isinstance(owner, str) or not owner or not (isinstance(repository, dict) and repository.get("name")):
            raise ValueError("Invalid GitHub webhook payload: missing username or repo name")
        return validate_username(owner), True
    force = body.get("force_refresh", False)
    if not isinstance(force, bool):
        raise ValueError("force_refresh must be true or false")
    return validate_username(body.get("username", "yungryce")), force


def _start(request: Request, username: str, force: bool) -> Response:
    config = _config(request)
    if not force:
        answer = config.orchestrator.cached_answer(username)
        if answer is not None:
            return _legacy_json(answer.payload)
    job = config.orchestrator.start(username, force=force)
    payload = _management_urls(request, job.job_id)
    return JSONResponse(payload, status_code=202,
                        headers={"Location": payload["statusQueryGetUri"], "Retry-After": str(config.retry_after)})


async def orchestrator_start(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "function key required")
    try:
        username, force = await _parse_start_body(request)
    except (ValueError, InvalidName) as exc:
        return _error(400, str(exc))
    try:
        return await run_in_threadpool(_start, request, username, force)
    except SourceError as exc:
        return _error(500, f"Failed to start orchestration: {exc}")


def instance_status(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "function key required")
    config = _config(request)
    try:
        job = config.orchestrator.jobs.get(request.path_params["instance_id"])
    except JobNotFound:
        return Response(status_code=404)
    runtime = runtime_status(job)
    output = config.orchestrator.output(job) if runtime == COMPLETED else (
        "; ".join(job.reasons) if runtime in (FAILED, TERMINATED) else None)
    fail_500 = request.query_params.get("returnInternalServerErrorOnFailure", "").lower() == "true"
    code = status_code(runtime, fail_with_500=fail_500)
    headers = {"Location": str(request.url), "Retry-After": str(config.retry_after)} if code == 202 else None
    return JSONResponse(status_payload(job, output), status_code=code, headers=headers)


def terminate(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "function key required")
    try:
        _config(request).orchestrator.terminate(request.path_params["instance_id"],
                                                request.query_params.get("reason", ""))
    except JobNotFound:
        return Response(status_code=404)
    return Response(status_code=202)


def _cached_view(username: str, cached: Any, **extra: str) -> Response:
    return _legacy_json({"username": username, **extra, "fingerprint": cached.fingerprint,
                         "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                         "data": cached.data})


def bundle(request: Request) -> Response:
    try:
        username = validate_username(request.path_params["username"])
    except InvalidName as exc:
        return _error(400, str(exc))
    cached = _config(request).orchestrator.cache.load_bundle(username)
    if cached is None:
        return _error(404, f"No valid bundle found for '{username}'")
    return _cached_view(username, cached)


def repo(request: Request) -> Response:
    try:
        username = validate_username(request.path_params["username"])
        name = validate_repo_name(request.path_params["repo"])
    except InvalidName as exc:
        return _error(400, str(exc))
    cached = _config(request).orchestrator.cache.load_record(username, name)
    if cached is None:
        return _error(404, f"No valid repository data found for '{name}' by user '{username}'")
    return _cached_view(username, cached, repo=name)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "healthy"}, headers={"Cache-Control": "no-cache"})


ROUTES = [
    Route("/api/orchestrator_start", orchestrator_start, methods=["POST"]),
    Route(STATUS_PATH + "{instance_id}", instance_status, methods=["GET"]),
    Route(STATUS_PATH + "{instance_id}/terminate", terminate, methods=["POST"]),
    Route("/api/bundles/{username}", bundle, methods=["GET"]),
    Route("/api/bundles/{username}/{repo}", repo, methods=["GET"]),
    Route("/api/health", health, methods=["GET"]),
]


def create_legacy_app(orchestrator: LegacyOrchestrator, *, function_key: str = "", retry_after: int = 10) -> Starlette:
    """The legacy service app. ``retry_after`` is the seconds Durable tells pollers to wait (10)."""
    app = Starlette(routes=ROUTES)
    app.state.legacy = LegacyConfig(orchestrator, function_key, retry_after)
    return app
