"""Running queue workers: in-process (embedded default) or as a worker process over RabbitMQ.

- :class:`InProcessWorkers` starts Dramatiq worker threads and the job sweeper on the process's
  broker: the StubBroker when no broker URL is set, so ``cloudfolio serve`` and ``cloudfolio
  refresh`` run the whole pipeline in one process.
- :func:`run_worker_process` is ``cloudfolio worker``: a Dramatiq ``Worker`` for the chosen roles,
  a ``/health`` and ``/metrics`` endpoint, the job sweeper, and a graceful stop on SIGTERM/SIGINT
  (worker threads finish their message; prefetched, unstarted messages go back to RabbitMQ; nothing
  unfinished is acked). ``dramatiq services.queue.entry`` runs the same actors under Dramatiq's
  own CLI instead (see README).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterable
from typing import Any

import dramatiq

from services.core.gc_pauses import freeze_startup_objects
from services.core.usage_meter import RequestMeter
from services.queue.broker import boot_process
from services.queue.broker_probe import BrokerProbe
from services.queue.health import start_health_server
from services.queue.pipeline import Pipeline
from services.queue.sweeper import Sweeper

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
            chosen |= {names["plan"], names["sync"], names["merge"]}
        elif role == "sync":  # the sync workers plan too: a plan fans out the syncs they run
            chosen |= {names["plan"], names["sync"]}
        elif role in ("merge", "train"):
            chosen.add(names[role])
        else:
            raise ValueError(f"unknown worker role {role!r}; choose from {', '.join(ROLES)}")
    return chosen


class InProcessWorkers:
    """Dramatiq worker threads inside this process, plus the job sweeper and the GitHub usage meter.

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
        settings = pipeline.backends.settings
        self.threads = threads or settings.worker_threads
        self.queues = queues_for(pipeline, roles)
        self.worker_timeout = worker_timeout or (100 if pipeline.embedded else 1000)
        self.worker: dramatiq.Worker | None = None
        self.sweeper = Sweeper(pipeline.backends.jobs, settings.job_deadline, recovery=pipeline,
                               stall_seconds=settings.job_stall_seconds, interval=settings.sweep_interval or None)
        self.meter = RequestMeter(pipeline.backends.source, pipeline.backends.usage, settings.usage_flush_seconds)

    def start(self) -> InProcessWorkers:
        broker = self.pipeline.broker
        boot_process(broker)
        self.worker = dramatiq.Worker(broker, queues=self.queues, worker_threads=self.threads,
                                      worker_timeout=self.worker_timeout)
        self.worker.start()
        self.sweeper.start()
        self.meter.start()
        return self

    def stop(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        self.sweeper.stop()
        if self.worker is not None:
            self.worker.stop(timeout=int(timeout * 1000))
            self.worker = None
        self.meter.stop()  # after the workers: the requests of their last messages are counted too

    def __enter__(self) -> InProcessWorkers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_worker_process(pipeline: Pipeline, roles: Iterable[str], *, threads: int, health_port: int,
                       shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> int:
    """Consume the roles' queues until SIGTERM or SIGINT; return the exit code."""
    settings = pipeline.backends.settings
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
    frozen = freeze_startup_objects(settings.gc_freeze)
    print(f"worker ready: queues={','.join(sorted(queues))} threads={threads}", file=sys.stderr, flush=True)
    log.debug("%d start-up objects frozen out of garbage collection", frozen)
    stop.wait()
    workers.stop(timeout=shutdown_timeout)
    pipeline.broker.close()
    if health is not None:
        health.shutdown()
    log.info("worker stopped")
    return 0
