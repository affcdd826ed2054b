"""``RequestTracing``: one OpenTelemetry ``SERVER`` span per routed request, the root of a refresh's trace.

A pure ASGI middleware (the Starlette instrumentation names its span from the raw URL before routing
happens; this one names it after the matched route, so operation names stay bounded). The span:

- continues a W3C ``traceparent`` the client sent, otherwise starts a trace;
- is named ``<METHOD> <route template>`` (``POST /bundles/{username}/refresh``) and carries the HTTP
  semantic-convention attributes Application Insights maps onto ``requests``: ``http.request.method``,
  ``http.route``, ``url.path``, ``url.scheme``, ``http.response.status_code`` (``resultCode``);
- carries ``routing_mode`` and ``cloudfolio.path`` (the serving path the endpoint chose, stored in
  ``request.state.path``; ``-`` when none was chosen) and ``cloudfolio.username`` (these land in
  ``customDimensions``, which the rollback alert reads);
- is marked an error for a 5xx answer or an exception (4xx answers are the client's, not ours).

Reads the default sampler (:class:`~services.core.sampling.ReadRateSampler`) refuses skip the SDK:
they run under a non-recording context, so they cost a token-bucket check and a context switch.
The query string is never recorded. Paths in ``skip`` (probes, scrapes, docs) get no span. With no
tracer provider installed the middleware only passes the request on.

Parameters:
  app(ASGIApp): the app to wrap.
  skip(Collection[str]): request paths that are not traced.
  provider(TracerProvider | None): where the spans go, and whose sampler refuses reads (both looked up
    once). Default: the process's global provider, looked up on every request (the legacy replica, which
    always has this layer, may build its app before the provider is installed). The router adds this
    layer only when a provider is installed before it builds the app, and passes that provider
    (:func:`router.app.create_app`): a request then skips two look-ups.
"""

from __future__ import annotations

from collections.abc import Collection

from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core import tracing


class RequestTracing:
    def __init__(self, app: ASGIApp, skip: Collection[str] = (), provider: TracerProvider | None = None) -> None:
        self.app = app
        self.skip = frozenset(skip)
        self.provider = provider
        self.sampler = tracing.read_sampler(provider) if provider is not None else None
        self.tracer = tracing.tracer(provider)  # the global proxy without a provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip or (
                self.provider is None and not tracing.installed()):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", ())
                   if key in (b"traceparent", b"tracestate")}
        method = scope.get("method", "GET")
        sampler = None if headers else (self.sampler if self.provider is not None else tracing.read_sampler())
        if sampler is not None and method in tracing.READ_METHODS and not sampler.admits_read():
            # a read the sampler refuses: no SDK span is built (that cost more than serving a cached read);
            # a non-recording context with fresh ids keeps its children out of the trace store too
            token = tracing.start_unsampled()
            try:
                await self.app(scope, receive, send)
            finally:
                tracing.end_unsampled(token)
            return
        status = 500  # what the client gets when the app raises before answering
        # without a traceparent there is nothing to continue: the propagators' work is skipped (it cost a
        # sampled-out request about a third of its tracing time)
        with self.tracer.start_as_current_span(
                method, context=tracing.extract(headers) if headers else None, kind=SpanKind.SERVER,
                record_exception=False,
                set_status_on_exception=False,
                attributes={"http.request.method": method, "url.path": scope["path"],
                            "url.scheme": scope.get("scheme", "http")}) as span:

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            except BaseException as exc:
                tracing.fail(span, exc)
                raise
            finally:
                if span.is_recording():
                    self._finish(span, scope, method, status)

    @staticmethod
    def _finish(span: tracing.Span, scope: Scope, method: str, status: int) -> None:
        template = getattr(scope.get("route"), "path", None)
        path = str((scope.get("state") or {}).get("path", "-"))
        username = (scope.get("path_params") or {}).get("username")
        values = {"http.response.status_code": status, tracing.ROUTING_MODE: path,
                  **tracing.attributes(path=path, username=username)}
        if template is not None:
            span.update_name(f"{method} {template}")
            values["http.route"] = template
        span.set_attributes(values)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
