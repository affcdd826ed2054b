"""Running queue workers: in-process (embedded default) or as a worker process over RabbitMQ.

- :class:`InProcessWorkers` starts Dramatiq worker threads and the job sweeper on the process's
  broker: the StubBroker when no broker URL is set, so ``cloudfolio serve`` and ``cloudfolio
  refresh`` run the whole pipeline in one process.
- :func:`run_worker_process` is ``cloudfolio worker``: a Dramatiq ``Worker`` for the chosen roles,
  a ``/health`` and ``/metrics`` endpoint, the job sweeper, and a graceful stop on SIGTERM/SIGINT
  (worker threads finish their message; prefetched, unstarted messages go back to RabbitMQ; nothing
  unfinished is acked). ``dramatiq services.worker_entry`` runs the same actors under Dramatiq's
  own CLI instead (see README).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
import pika
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.core.broker import boot_process
from services.core.sweeper import Sweeper
from services.pipeline import Pipeline

log = logging.getLogger("cloudfolio.worker")

#: Roles a worker process can take. ``all`` is sync and merge; training is heavy (torch, minutes of CPU
#: or a GPU) and runs in its own worker or as single tasks (``cloudfolio train``).
ROLES = ("sync", "merge", "train", "all")
#: Seconds a stopping worker waits for in-flight messages; below Container Apps' 30 s grace period.
DEFAULT_SHUTDOWN_TIMEOUT = 25.0


def queues_for(pipeline: Pipeline, roles: Iterable[str]) -> set[str]:
    names = pipeline.queues
    chosen: set[str] = set()
    for role in roles:
        if role == "all":
            chosen |= {names["sync"], names["merge"]}
        elif role in ("sync", "merge", "train"):
            chosen.add(names[role])
        else:
            raise ValueError(f"unknown worker role {role!r}; choose from {', '.join(ROLES)}")
    return chosen


class InProcessWorkers:
    """Dramatiq worker threads inside this process, plus the job sweeper.

    Parameters:
      pipeline(Pipeline): the process's pipeline.
      threads(int): worker threads. Defaults to the ``CLOUDFOLIO_WORKER_THREADS`` setting.
      roles(Iterable[str]): which queues to consume. Defaults to ``all``.
      worker_timeout(int): milliseconds a worker waits on an empty queue before checking for a stop.
        Defaults to 100 for the StubBroker (quick to stop), 1000 for RabbitMQ (Dramatiq's default).
    """

    def __init__(self, pipeline: Pipeline, threads: int | None = None, roles: Iterable[str] = ("all",),
                 worker_timeout: int | None = None) -> None:
        self.pipeline = pipeline
        settings = pipeline.runtime.settings
        self.threads = threads or settings.worker_threads
        self.queues = queues_for(pipeline, roles)
        self.worker_timeout = worker_timeout or (100 if pipeline.runtime.broker_bundle.embedded else 1000)
        self.worker: dramatiq.Worker | None = None
        self.sweeper = Sweeper(pipeline.runtime.jobs, settings.job_deadline)

    def start(self) -> InProcessWorkers:
        broker = self.pipeline.runtime.broker
        boot_process(broker)
        self.worker = dramatiq.Worker(broker, queues=self.queues, worker_threads=self.threads,
                                      worker_timeout=self.worker_timeout)
        self.worker.start()
        self.sweeper.start()
        return self

    def stop(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        self.sweeper.stop()
        if self.worker is not None:
            self.worker.stop(timeout=int(timeout * 1000))
            self.worker = None

    def __enter__(self) -> InProcessWorkers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BrokerProbe:
    """Whether RabbitMQ answers, checked with a short-lived connection at most every ``ttl`` seconds."""

    def __init__(self, url: str, ttl: float = 5.0) -> None:
        self.url = url
        self.ttl = ttl
        self._checked_at = 0.0
        self._state = "unknown"
        self._lock = threading.Lock()

    def state(self) -> str:
        if not self.url:
            return "connected"  # the embedded broker lives in this process
        with self._lock:
            if time.monotonic() - self._checked_at > self.ttl:
                self._state = self._probe()
                self._checked_at = time.monotonic()
            return self._state

    def _probe(self) -> str:
        parameters = pika.URLParameters(self.url)
        parameters.socket_timeout = 2
        parameters.blocked_connection_timeout = 2
        parameters.connection_attempts = 1
        try:
            pika.BlockingConnection(parameters).close()
            return "connected"
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"


def start_health_server(host: str, port: int, pipeline: Pipeline, probe: BrokerProbe,
                        queues: set[str]) -> ThreadingHTTPServer:
    """``/health`` (200 healthy, 503 when the broker is unreachable) and ``/metrics`` on a thread."""
    outcomes = pipeline.runtime.broker_bundle.outcomes
    registry = pipeline.runtime.registry

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                return
            if self.path != "/health":
                self._send(404, json.dumps({"error": "not found"}).encode(), "application/json")
                return
            broker = probe.state()
            last = outcomes.last_message_at
            body = {
                "status": "healthy" if broker == "connected" else "unhealthy",
                "broker": broker,
                "queues": sorted(queues),
                "in_flight": outcomes.in_flight,
                "last_message_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)) if last else None,
            }
            self._send(200 if broker == "connected" else 503, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="worker-health", daemon=True).start()
    return server


def run_worker_process(pipeline: Pipeline, roles: Iterable[str], *, threads: int, health_port: int,
                       shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> int:
    """Consume the roles' queues until SIGTERM or SIGINT; return the exit code."""
    settings = pipeline.runtime.settings
    queues = queues_for(pipeline, roles)
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("received %s; stopping after in-flight messages", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    workers = InProcessWorkers(pipeline, threads=threads, roles=roles).start()
    health = None
    if health_port:
        health = start_health_server(settings.host, health_port, pipeline, BrokerProbe(settings.broker_url), queues)
    log.info("worker consuming %s with %d threads (health on %s)", ", ".join(sorted(queues)), threads,
             f"http://{settings.host}:{health_port}/health" if health_port else "off")
    print(f"worker ready: queues={','.join(sorted(queues))} threads={threads}", file=sys.stderr, flush=True)
    stop.wait()
    workers.stop(timeout=shutdown_timeout)
    pipeline.runtime.broker.close()
    if health is not None:
        health.shutdown()
    log.info("worker stopped")
    return 0


def run_worker_processes(argv: list[str], processes: int, health_port: int) -> int:
    """Start ``processes`` copies of this worker command (health ports ``health_port + i``), forward
    SIGTERM/SIGINT to them, and return the worst exit code."""
    children = []
    for index in range(processes):
        child_argv = [*argv, "--processes", "1"]
        if health_port:
            child_argv += ["--health-port", str(health_port + index)]
        children.append(subprocess.Popen([sys.executable, "-m", "services.cli", *child_argv]))

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(child.wait() for child in children)
