"""Operational endpoints: ``/health`` (liveness), ``/ready`` (readiness of every dependency),
``/metrics`` (Prometheus), ``/openapi.json`` and ``/docs``.

``/ready`` reports each dependency as ``ok``, ``degraded: ...`` or ``unavailable: ...`` (or
``unreachable: ...``). Storage, the broker and the legacy app being down answer 503, so a load
balancer takes the replica out. Flags are never a reason to: an unreachable flag store or an
invalid flag value fails safe and keeps serving, so it reads ``degraded`` with the reason, the
status is ``degraded`` and the answer 200.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from router.docs_page import DOCS_CSS, DOCS_HTML, DOCS_JS
from router.openapi import TEXT, Operation, documented, openapi_document
from router.routing import context_of

NO_CACHE = {"Cache-Control": "no-cache"}


@documented(get=Operation("Liveness", {200: "Health"}))
async def health(request: Request) -> Response:
    return JSONResponse({"status": "healthy", "timestamp": datetime.now(UTC).isoformat()}, headers=NO_CACHE)


@documented(get=Operation("Readiness: storage, broker, flag store, legacy app", {200: "Ready", 503: "Ready"},
                          notes={200: "ready, or degraded (flags failing safe)", 503: "a dependency is down"}))
async def ready(request: Request) -> Response:
    context = context_of(request)
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(context.pipeline.backends.storage.check)
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"unavailable: {exc}"
    state = "connected" if context.pipeline.embedded else await run_in_threadpool(context.broker_probe.state)
    checks["broker"] = "ok" if state == "connected" else state
    await run_in_threadpool(context.flags.current)  # never waits on the store once flags are known
    checks["flags"] = context.flags.health()
    legacy_state = await context.legacy.client.reachable()
    checks["legacy"] = "ok" if legacy_state == "reachable" else legacy_state
    if all(value == "ok" for value in checks.values()):
        status, code = "ready", 200
    elif all(value == "ok" or value.startswith("degraded") for value in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "not ready", 503
    return JSONResponse({"status": status, "checks": checks}, status_code=code, headers=NO_CACHE)


@documented(get=Operation("Prometheus metrics", {200: TEXT}, media_type="text/plain"))
async def prometheus(request: Request) -> Response:
    return Response(generate_latest(context_of(request).registry), media_type=CONTENT_TYPE_LATEST)


@documented(get=Operation("This document", {200: TEXT}))
async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(request.app.routes))


@documented(get=Operation("The API documentation page", {200: TEXT}, media_type="text/html"))
async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_HTML)


@documented(get=Operation("The documentation page's script", {200: TEXT}, media_type="application/javascript"))
async def docs_script(request: Request) -> Response:
    return Response(DOCS_JS, media_type="application/javascript")


@documented(get=Operation("The documentation page's style sheet", {200: TEXT}, media_type="text/css"))
async def docs_style(request: Request) -> Response:
    return Response(DOCS_CSS, media_type="text/css")
