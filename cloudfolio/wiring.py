"""Build each kind of process from settings, in one place: the router, the legacy replica, workers.

- :func:`serve_app`: ``cloudfolio serve``, the router with, on the embedded default, the legacy
  replica mounted under ``/legacy`` (reached over loopback HTTP, exactly as the real Function App
  would be) and the queue workers running in-process;
- :func:`legacy_service`: ``cloudfolio legacy``, the replica alone with its job sweeper;
- :func:`build_pipeline` (re-exported from the queue machinery): workers, refresh, tasks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette

from cloudfolio.telemetry import shutdown_telemetry
from rollout.factory import make_flag_store
from rollout.seeds import startup_report
from router.app import create_app
from router.context import build_context
from router.middleware.tracing import RequestTracing
from services.core.backends import Backends, build_backends
from services.core.components import make_source
from services.core.settings import Settings
from services.legacy.app import create_legacy_app
from services.legacy.orchestrator import LegacyOrchestrator
from services.legacy.training import inline_trainer
from services.queue.pipeline import Pipeline, build_pipeline
from services.queue.sweeper import Sweeper
from services.queue.workers import InProcessWorkers

__all__ = ["Service", "build_pipeline", "legacy_orchestrator", "legacy_service", "serve_app"]


@dataclass
class Service:
    """An ASGI app ready for uvicorn, what it is built from (for the start-up line), and its clean-up."""

    app: Starlette
    parts: dict[str, str]
    closers: list[Callable[[], None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what an operator should read at start-up
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def legacy_orchestrator(settings: Settings, backends: Backends) -> LegacyOrchestrator:
    """The legacy replica's orchestrator on these backends, training inline when configured; it fetches
    from GitHub as the legacy did (REST, one request at a time per activity)."""
    source = make_source(settings, backends.storage, legacy=True) if settings.repo_source == "github" else None
    orchestrator = LegacyOrchestrator(backends.storage, source or backends.source, backends.jobs,
                                      inline_trainer(settings, backends.storage))
    if source is not None:
        orchestrator.closers.append(source.close)
    return orchestrator


def _legacy_app(settings: Settings, orchestrator: LegacyOrchestrator) -> Starlette:
    return create_legacy_app(orchestrator, function_key=settings.legacy_function_key,
                             retry_after=settings.legacy_retry_after)


def legacy_service(settings: Settings) -> Service:
    """The legacy replica alone; a sweeper fails orchestrations whose process died mid-run."""
    backends = build_backends(settings)
    backends.storage.check()
    orchestrator = legacy_orchestrator(settings, backends)
    sweeper = Sweeper(backends.jobs, settings.job_deadline).start()
    app = _legacy_app(settings, orchestrator)
    # its own SERVER spans, children of the router's calls; no routing_mode: that is the router's decision
    app.add_middleware(RequestTracing, skip=("/api/health",))
    return Service(app, {"storage": repr(backends.storage)},
                   [backends.close, orchestrator.close, sweeper.stop])


def _loopback(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def serve_app(settings: Settings) -> Service:
    """The router; on the embedded default also the legacy replica and in-process workers."""
    pipeline: Pipeline = build_pipeline(settings)
    pipeline.backends.storage.check()
    orchestrator = legacy_app = None
    legacy_url = settings.legacy_url
    if not legacy_url:
        orchestrator = legacy_orchestrator(settings, pipeline.backends)
        legacy_app = _legacy_app(settings, orchestrator)
        legacy_url = f"{_loopback(settings)}/legacy"
    flag_store = make_flag_store(settings)
    context = build_context(settings, pipeline, legacy_url, flag_store)
    flags = context.flags.current()  # the first read happens here, not on a user's request
    report = startup_report(flag_store.name, context.flags.raw, flags, settings.flag_seed, context.flags.last_error)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        # the embedded default trains in-process too; with a broker, `cloudfolio worker` does the work
        workers = InProcessWorkers(pipeline, roles=("all", "train")).start() if pipeline.embedded else None
        context.start()
        try:
            yield
        finally:
            await context.close()
            if workers is not None:
                workers.stop()
            if orchestrator is not None:
                orchestrator.close()
            pipeline.close()
            shutdown_telemetry()  # uvicorn re-raises SIGTERM after this: the last spans go out first

    parts = {
        "storage": repr(pipeline.backends.storage),
        "source": settings.repo_source,
        "workers": "in-process workers" if pipeline.embedded else "broker workers",
        "legacy": "in-process legacy" if orchestrator is not None else f"legacy {settings.legacy_url}",
        "flags": flag_store.name,
    }
    return Service(create_app(context, lifespan=lifespan, legacy_app=legacy_app), parts, notes=[report.summary()],
                   warnings=report.warnings)
