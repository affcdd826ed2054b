"""Operational endpoints: ``/health`` (liveness), ``/ready`` (readiness of every dependency),
``/metrics`` (Prometheus), ``/openapi.json`` and ``/docs``.

``/ready`` answers 200 only when storage, the broker, the flag store and the legacy app all
answer; otherwise 503 with each check's state, so a load balancer takes the replica out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from router.openapi import DOCS_HTML, openapi_schema
from router.routing import context_of

NO_CACHE = {"Cache-Control": "no-cache"}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "healthy", "timestamp": datetime.now(UTC).isoformat()}, headers=NO_CACHE)


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
    try:
        await run_in_threadpool(context.flags.store.read)
        checks["flags"] = "ok"
    except Exception as exc:
        checks["flags"] = f"unavailable: {exc}"
    legacy_state = await context.legacy.client.reachable()
    checks["legacy"] = "ok" if legacy_state == "reachable" else legacy_state
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                        status_code=200 if ok else 503, headers=NO_CACHE)


async def prometheus(request: Request) -> Response:
    return Response(generate_latest(context_of(request).registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_schema())


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_HTML)
