"""The router's cached ``GET /bundles/{user}`` against a bare Starlette app, from memory and from storage.

The bare app (a subprocess, uvicorn, one worker like the router) answers the same bundle bytes two
ways: held in memory, and read from the router's own local storage on every request through a
thread, as a plain storage-backed endpoint would. Load comes from wrk (2 threads, 20 connections,
10 s per case) on the same 2 cores as the servers; without wrk the section says so and measures
nothing, since a Python client saturates before either server. :func:`tracing_overhead` compares
the same GET through routers that export spans over OTLP/HTTP (the default sampler, a trace in ten,
every request) with one that exports nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloudfolio.devserver.processes import ServiceProcess
from cloudfolio.devserver.threaded import ServerThread, free_port
from cloudfolio.devserver.waiting import wait_until
from loadtest.bench_common import ADMIN_TOKEN, BROKER, Goal, Section, have_wrk, refresh_once, route, wrk
from loadtest.stack import Stack, running_stack
from services.core.keys import CacheKeys

BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route
from services.core.storage.local import LocalBackend
from cloudfolio.http_writes import gathered_protocol
body = open(sys.argv[2], 'rb').read()
storage, key = LocalBackend(sys.argv[3]), sys.argv[4]
async def memory(request):
    return Response(body, media_type='application/json')
async def stored(request):
    blob = await run_in_threadpool(storage.get, key)
    return Response(blob.data, media_type='application/json')
app = Starlette(routes=[Route('/memory', memory), Route('/storage', stored)])
http = gathered_protocol('httptools') if sys.argv[5] == 'gathered' else 'auto'
uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning', http=http)
"""

NO_WRK = ("Not measured: wrk is not installed (`apt-get install wrk`, or run `scripts/bench.sh`, "
          "which installs it).")


@contextmanager
def _bare(body: Path, storage_root: Path, key: str, http: str = "stock") -> Iterator[str]:
    """The bare app's base URL, on uvicorn as it comes (``stock``) or on the router's gathered writes
    (``gathered``); the process is stopped on the way out, also when it never started answering."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(body), str(storage_root), key, http],
                               cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            return httpx.get(f"{url}/memory", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answering, 30, lambda: "the bare Starlette app did not start", interval=0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def stack_with_bundle(repos: int, extra: dict[str, str] | None = None) -> Iterator[tuple[Stack, str]]:
    """The whole stack with every user on the queue path and one user's bundle of ``repos`` repos built."""
    settings = {"CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN, "CLOUDFOLIO_FLAG_TTL": "1", **(extra or {})}
    with running_stack(broker_url=BROKER, worker_roles=("all",), extra=settings) as stack:
        user = f"bench{uuid.uuid4().hex[:6]}"
        assert stack.github is not None  # the in-process GitHub double
        stack.github.add_generated_user(user, repos)
        with httpx.Client(base_url=stack.router, timeout=120) as client:
            route(client, 100)
            refresh_once(client, user)
        yield stack, user


def cached_get(repos: int = 16, extra: dict[str, str] | None = None, label: str = "") -> Section:
    section = Section(f"Cached GET /bundles/{{user}}: router vs bare Starlette{label}",
                      ["server", "req/s", "p99 ms", "req/s vs bare from memory", "p99 vs bare from memory"])
    if not have_wrk():
        section.notes.append(NO_WRK)
        section.goals.append(Goal("cached GET >= 0.5x bare app from memory, p99 within 2x", "not measured", False))
        return section
    with stack_with_bundle(repos, extra) as (stack, user):
        body = Path(tempfile.mkstemp(suffix=".json")[1])
        body.write_bytes(httpx.get(f"{stack.router}/bundles/{user}", timeout=120).content)
        storage, key = stack.env.data_dir / "storage", CacheKeys().bundle(user)
        try:
            with _bare(body, storage, key) as bare, _bare(body, storage, key, "gathered") as gathered:
                results = [("router", wrk(f"{stack.router}/bundles/{user}")),
                           ("bare Starlette, bytes in memory", wrk(f"{bare}/memory")),
                           ("bare Starlette, read from the same storage", wrk(f"{bare}/storage")),
                           ("bare Starlette, bytes in memory, writes gathered as the router's",
                            wrk(f"{gathered}/memory"))]
        finally:
            body.unlink(missing_ok=True)
    memory_rps, memory_p99 = results[1][1]
    for name, (rps, p99) in results:
        section.add(name, f"{rps:.0f}", f"{p99:.1f}", f"x{rps / memory_rps:.2f}", f"x{p99 / memory_p99:.2f}")
    rps, p99 = results[0][1]
    gathered_rps, gathered_p99 = results[3][1]
    section.notes.append(
        "The router runs on uvicorn with an answer's writes gathered into one (cloudfolio/http_writes.py); the goals "
        "compare it with the bare app on uvicorn as it comes, as the speed issue set them. The same bare app on the "
        f"gathered writes (the last row): the router is x{rps / gathered_rps:.2f} of its req/s, "
        f"p99 x{p99 / gathered_p99:.2f}.")
    section.goals.append(Goal(f"cached GET >= 0.5x bare app from memory{label}", f"x{rps / memory_rps:.2f}",
                              rps / memory_rps >= 0.5))
    section.goals.append(Goal(f"cached GET p99 within 2x of the bare app's{label}", f"x{p99 / memory_p99:.2f}",
                              p99 / memory_p99 <= 2.0))
    return section


def _otlp_sink() -> ServerThread:
    """A collector that accepts every OTLP/HTTP export and discards it (the cost measured is the router's)."""

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(b"", media_type="application/x-protobuf")

    return ServerThread(Starlette(routes=[Route("/v1/traces", accept, methods=["POST"])])).start()


#: The traced routers: (name, the OTEL_* settings beside the exporter's endpoint).
TRACED_ROUTERS = (
    ("traced, default sampler (5 reads/s)", {}),
    ("traced, 10 % sampled", {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}),
    ("traced, every request", {"OTEL_TRACES_SAMPLER": "always_on"}),
)


def tracing_overhead(repos: int = 16, rounds: int = 3) -> Section:
    """The cached GET through routers exporting spans over OTLP/HTTP (default sampler, a trace in ten,
    every request), against a router of the same stack with no exporter; measured alternately
    ``rounds`` times."""
    section = Section("Tracing overhead: cached GET /bundles/{user}, router exporting spans vs not",
                      ["router", "req/s", "p99 ms", "req/s vs untraced", "p99 vs untraced"])
    if not have_wrk():
        section.notes.append(NO_WRK)
        section.goals.append(Goal("tracing costs the cached GET under 10 %", "not measured", False))
        return section
    sink = _otlp_sink()
    try:
        with stack_with_bundle(repos) as (stack, user):
            routers = {"untraced": stack.router}
            started = []
            for name, otel in TRACED_ROUTERS:
                env = replace(stack.env, extra={**stack.env.extra, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, **otel})
                started.append(ServiceProcess(env, "serve", port=free_port(), ready_path="/health"))
                routers[name] = started[-1].url
            try:
                runs: dict[str, list[tuple[float, float]]] = {name: [] for name in routers}
                for _ in range(rounds):
                    for name, url in routers.items():
                        runs[name].append(wrk(f"{url}/bundles/{user}"))
            finally:
                for process in started:
                    process.stop()
    finally:
        sink.stop()
    best = {name: (max(r for r, _ in values), min(p for _, p in values)) for name, values in runs.items()}
    base_rps, base_p99 = best["untraced"]
    for name, (rps, p99) in best.items():
        section.add(name, f"{rps:.0f}", f"{p99:.1f}", f"x{rps / base_rps:.2f}", f"x{p99 / base_p99:.2f}")
    section.notes.append(f"Best of {rounds} alternating 10 s wrk runs each (2 threads, 20 connections); the traced "
                         "routers export their spans to an OTLP/HTTP sink in the benchmark process. The default "
                         "sampler (services/core/sampling.py) keeps every write and CLOUDFOLIO_TRACED_READS_PER_SECOND "
                         "read traces a second; the others set OTEL_TRACES_SAMPLER.")
    for name, _ in TRACED_ROUTERS:
        ratio = best[name][0] / base_rps
        section.goals.append(Goal(f"{name}: the cached GET costs under 10 % more (req/s >= 0.9x untraced)",
                                  f"x{ratio:.2f}", ratio >= 0.9))
    return section
