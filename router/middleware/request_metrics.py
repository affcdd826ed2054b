"""``RequestMetrics``: count and time every routed request by route, serving path and status.

A pure ASGI middleware. After the app answered it records ``router_requests_total{route, path,
status_class}`` and ``router_request_duration_seconds{route, path}``, where

- ``route`` is the matched route's template (``/bundles/{username}``), never the raw URL, so the
  label stays bounded;
- ``path`` is what the endpoint stored in ``request.state.path`` (``queue`` or ``legacy``), or
  ``-`` when the request failed before a path was chosen;
- the status is the one the client actually got: a handled error (400 for a bad name) counts as
  its own status, an unhandled exception as 500.

Requests that match no route, routes listed in ``skip``, and routes of mounted apps (the legacy
replica under ``/legacy`` in embedded mode, which is not the router's own traffic) are not counted.

Parameters:
  app(ASGIApp): the app to wrap.
  metrics(RouterMetrics): where to record.
  skip(Collection[str]): route templates not to record (health, metrics, docs).
"""

from __future__ import annotations

import time
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.metrics import RouterMetrics


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: RouterMetrics, skip: Collection[str] = ()) -> None:
        self.app = app
        self.metrics = metrics
        self.skip = frozenset(skip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # what the client gets when the app raises before answering
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            template = getattr(scope.get("route"), "path", None)
            mounted = scope.get("root_path", "") != root_path
            if template is not None and template not in self.skip and not mounted:
                path = (scope.get("state") or {}).get("path", "-")
                self.metrics.observe(template, str(path), status, time.perf_counter() - started)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body") and not recorded:
                record()  # before the last byte goes out: a client that saw the answer sees it counted
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not recorded:
                record()
