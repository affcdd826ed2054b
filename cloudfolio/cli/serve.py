"""``cloudfolio serve`` (the router) and ``cloudfolio legacy`` (the legacy replica alone)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from cloudfolio.cli.common import add_data_dir, load_settings
from cloudfolio.cli.exits import RET_OK
from cloudfolio.http_writes import gathered_protocol
from cloudfolio.memory import watch_memory
from cloudfolio.telemetry import configure_telemetry, shutdown_telemetry
from cloudfolio.wiring import Service, legacy_service, serve_app
from services.core.gc_pauses import freeze_startup_objects
from services.core.redaction import redact_url
from services.core.settings import Settings

log = logging.getLogger("cloudfolio.serve")


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:  # absent, or a wheel that does not load here: uvicorn's "auto" falls back too
        return False
    return True


def server_stack() -> tuple[str, str]:
    """(event loop, HTTP parser) for uvicorn: uvloop and httptools (C, both dependencies) where they
    import, else asyncio's loop and h11, as uvicorn's own "auto" picks; named here so the banner can
    say which one runs (the C pair cut the router's CPU a refresh by a fifth under the burst mix)."""
    return ("uvloop" if _imports("uvloop") else "asyncio"), ("httptools" if _imports("httptools") else "h11")


def server_options(settings: Settings, port: int, loop: str, http: str) -> dict[str, Any]:
    """``uvicorn.run``'s keyword arguments for the router and the legacy replica, on the event loop and
    HTTP parser :func:`server_stack` picked, with an answer's writes gathered into one
    (:mod:`cloudfolio.http_writes`)."""
    return {"host": settings.host, "port": port, "log_level": settings.log_level, "access_log": False,
            "server_header": False, "loop": loop, "http": gathered_protocol(http)}


def _run(service: Service, settings: Settings, port: int, banner: str) -> int:
    import uvicorn

    loop, http = server_stack()
    options = server_options(settings, port, loop, http)
    print(f"{banner}; HTTP: uvicorn on {loop} + {http}, writes gathered per answer", file=sys.stderr)
    for note in service.notes:
        print(note, file=sys.stderr)
    for warning in service.warnings:
        log.warning("%s", warning)
    freeze_startup_objects(settings.gc_freeze)  # the app is built: full collections skip all of it from now on
    try:
        uvicorn.run(service.app, **options)
    finally:
        service.close()
        shutdown_telemetry()
    return RET_OK


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    configure_telemetry(settings, "router")
    watch_memory(settings, "router")
    service = serve_app(settings)
    parts = dict(service.parts)
    if settings.broker_url:
        parts["workers"] = f"broker {redact_url(settings.broker_url)}"
    banner = (f"CloudFolio router on http://{settings.host}:{settings.port} (storage: {parts['storage']}, source: "
              f"{parts['source']}, {parts['workers']}, {parts['legacy']}, flags: {parts['flags']})")
    return _run(service, settings, settings.port, banner)


def cmd_legacy(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    configure_telemetry(settings, "legacy")
    watch_memory(settings, "legacy")
    service = legacy_service(settings)
    port = args.port or 7071
    banner = f"CloudFolio legacy orchestrator on http://{settings.host}:{port} (storage: {service.parts['storage']})"
    return _run(service, settings, port, banner)


def add_server_arguments(parser: argparse.ArgumentParser, default_port: str) -> None:
    parser.add_argument("--host", help="address to listen on (default: CLOUDFOLIO_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port to listen on (default: {default_port})")
    add_data_dir(parser)


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API (router) on the configured backends",
                                description="Run the router's HTTP API (OpenAPI at /openapi.json, docs at /docs). With "
                                "no configuration everything runs in this process: local storage under "
                                "./.cloudfolio, the sample portfolio, in-process queue workers, the legacy "
                                "replica under /legacy, and flags in ./.cloudfolio/flags.json (seeded from "
                                "QUEUE_TRAFFIC_PCT, ENABLE_QUEUE_SHADOW, SHADOW_SAMPLE_PCT, ROLLOUT_STICKINESS).")
    add_server_arguments(serve, "CLOUDFOLIO_PORT or 8000")
    serve.set_defaults(func=cmd_serve)

    legacy = commands.add_parser(
        "legacy", help="run the legacy orchestrator replica (Durable-Functions-style HTTP API)",
        description="Run the legacy orchestrator on its own: POST /api/orchestrator_start, Durable's status "
        "API under /runtime/webhooks/durabletask/instances/, GET /api/bundles/{username}. It runs the "
        "synchronous pipeline (stale detection, thread-pool fan-out, merge) and writes under legacy/. Point "
        "the router at it with CLOUDFOLIO_LEGACY_URL.")
    add_server_arguments(legacy, "7071, as Azure Functions")
    legacy.set_defaults(func=cmd_legacy)
