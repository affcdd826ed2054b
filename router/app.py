"""The router's Starlette application: the public bundle API in front of both paths.

Per request the router decides the path (sticky percentage rollout, :mod:`router.bucketing`),
serves the request on it, and, in shadow mode, mirrors it to the other path in the background
(:mod:`router.shadow`). It never calls GitHub itself: the queue path answers from storage and the
job queue, the legacy path from the legacy app over HTTP.

:func:`create_app` only assembles: the route table below, the endpoints in
:mod:`router.endpoints`, request metrics as ASGI middleware, the JSON error handlers, and the
shared :class:`~router.context.RouterContext` on ``app.state.context``. Request tracing is the outermost
middleware, so a request's span encloses everything the router does for it; it is there only when the
process installed a tracer provider before building the app (``cloudfolio serve`` does, when tracing
is configured). Handlers that touch storage or the broker hand that work to threads, so the event
loop never blocks.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Lifespan

from router.context import RouterContext
from router.endpoints import admin, bundles, dashboard, legacy_routes, operations, pages, webhooks
from router.errors import EXCEPTION_HANDLERS
from router.middleware.body_limit import BodyLimit
from router.middleware.request_metrics import RequestMetrics
from router.middleware.security_headers import SecurityHeaders
from router.middleware.tracing import RequestTracing
from services.core import tracing
from services.legacy.durable import STATUS_PATH

#: Operational routes left out of the request metrics (probes and scrapes would drown the signal).
UNMETERED = ("/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs.js", "/docs.css")

#: Starlette tries routes in order: what the front end polls comes first (each route passed costs a
#: regular-expression match; the cached bundle GET was eleventh, ~50 us of a ~320 us request).
ROUTES: list[BaseRoute] = [
    Route("/bundles/{username}", bundles.bundle, methods=["GET"]),
    Route("/bundles/{username}/status", bundles.job_status, methods=["GET"]),
    Route("/bundles/{username}/refresh", bundles.refresh, methods=["POST"]),
    Route("/bundles/{username}/search", bundles.search, methods=["GET"]),
    Route("/bundles/{username}/{repo}", bundles.repo, methods=["GET"]),
    Route("/health", operations.health, methods=["GET"]),
    Route("/ready", operations.ready, methods=["GET"]),
    Route("/metrics", operations.prometheus, methods=["GET"]),
    Route("/openapi.json", operations.openapi, methods=["GET"]),
    Route("/docs", operations.docs, methods=["GET"]),
    Route("/docs.js", operations.docs_script, methods=["GET"]),
    Route("/docs.css", operations.docs_style, methods=["GET"]),
    Route("/api/orchestrator_start", legacy_routes.orchestrator_start, methods=["POST"]),
    Route("/api/bundles/{username}", bundles.bundle, methods=["GET"], name="legacy_bundle"),
    Route("/api/ai", bundles.legacy_ai, methods=["POST"]),
    Route(STATUS_PATH + "{job_id}", legacy_routes.durable_status, methods=["GET"]),
    Route("/webhooks/github", webhooks.github, methods=["POST"]),
    Route("/admin/rollout", admin.rollout, methods=["GET", "PUT"]),
    Route("/admin/shadow", admin.shadow, methods=["GET"]),
    Route("/admin/usage", admin.usage, methods=["GET"]),
    Route("/portfolio/{username}", pages.portfolio, methods=["GET"]),
    Route("/static/portfolio.js", pages.portfolio_script, methods=["GET"]),
    Route("/static/pages.css", pages.style_sheet, methods=["GET"]),
    Route("/static/dashboard.js", pages.dashboard_script, methods=["GET"]),
    Route("/dashboard", dashboard.dashboard, methods=["GET"]),
    Route("/dashboard/login", dashboard.login, methods=["POST"]),
    Route("/dashboard/logout", dashboard.logout, methods=["POST"]),
    Route("/dashboard/actions/{action}", dashboard.control, methods=["POST"]),
]


def create_app(context: RouterContext, *, lifespan: Lifespan | None = None,
               legacy_app: ASGIApp | None = None) -> Starlette:
    """Build the router app. ``legacy_app`` mounts the legacy replica at ``/legacy`` (embedded mode)."""
    routes = list(ROUTES)
    if legacy_app is not None:
        routes.append(Mount("/legacy", app=legacy_app))
    middleware = [Middleware(SecurityHeaders), Middleware(RequestMetrics, metrics=context.metrics, skip=UNMETERED),
                  Middleware(BodyLimit, max_bytes=context.settings.max_body_bytes,
                             larger={"/webhooks/github": context.settings.github_webhook_max_bytes})]
    provider = tracing.installed_provider()
    if provider is not None:  # a process installs its tracer provider before it builds the app (cloudfolio serve);
        # without one the layer would only pass requests through, at a few microseconds each
        middleware.insert(0, Middleware(RequestTracing, skip=UNMETERED, provider=provider))
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan, middleware=middleware)
    app.state.context = context
    return app
