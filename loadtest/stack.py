"""The whole stack as processes on loopback for load tests and benchmarks, started and stopped as one.

:func:`running_stack` starts the GitHub double (in this process, with a fixed latency per call),
the legacy replica, queue worker processes over RabbitMQ and the router, each its own process,
and removes everything (queues, data folder) afterwards. :func:`warm` refreshes every portfolio
once and waits until each job has ended.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cloudfolio.devserver.github import FakeGitHub, start_github_server
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, WorkerProcess, delete_queues
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class Stack:
    router: str  # base URL
    github: FakeGitHub
    env: QueueEnv
    processes: list[Any]


@contextmanager
def running_stack(*, broker_url: str = DEFAULT_BROKER, github_latency: float = 0.0, worker_processes: int = 1,
                  worker_threads: int = 32, worker_roles: tuple[str, ...] = ("all",), github: FakeGitHub | None = None,
                  extra: dict[str, str] | None = None, logs_to: Path | None = None) -> Iterator[Stack]:
    """GitHub double, legacy, ``worker_processes`` workers (consuming ``worker_roles``) and the router;
    ``extra`` adds settings; ``logs_to`` keeps each process's log there (the data folder goes)."""
    state, server = start_github_server(github or FakeGitHub())
    state.latency = github_latency
    data = Path(tempfile.mkdtemp(prefix="cf-stack-"))
    legacy_port, router_port = free_port(), free_port()
    env = QueueEnv(data, server.url, broker_url=broker_url, extra={
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{legacy_port}", "CLOUDFOLIO_LOG_LEVEL": "warning",
        "CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false",
        # capacity runs, not abuse: the refresh rate limits would turn load into 429s
        "CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT": "0", "CLOUDFOLIO_REFRESH_LIMIT_PER_USER": "0", **(extra or {}),
    })
    started: list[Any] = []
    try:
        started.append(ServiceProcess(env, "legacy", port=legacy_port, ready_path="/api/health"))
        for _ in range(worker_processes):
            started.append(WorkerProcess(env, *worker_roles, threads=worker_threads))
        started.append(ServiceProcess(env, "serve", port=router_port, ready_path="/health"))
        yield Stack(f"http://127.0.0.1:{router_port}", state, env, started)
    finally:
        for process in reversed(started):
            process.stop()
        server.stop()
        delete_queues(broker_url, env.queue_names)
        if logs_to is not None:
            logs_to.mkdir(parents=True, exist_ok=True)
            for log in data.glob("*.log"):
                shutil.copy(log, logs_to / log.name)
        shutil.rmtree(data, ignore_errors=True)


def wait_for_jobs(client: httpx.Client, pending: dict[str, str], timeout: float) -> int:
    """Poll every job in ``pending`` (job id -> username) until each has ended; return how many failed."""
    pending, failed = dict(pending), 0

    def all_ended() -> bool:
        nonlocal failed
        for job, user in list(pending.items()):
            status = client.get(f"/bundles/{user}/status", params={"job_id": job}).json()["status"]
            if status != "processing":
                failed += status != "completed"
                pending.pop(job)
        return not pending

    wait_until(all_ended, timeout, lambda: f"{len(pending)} jobs still running after {timeout:g} s", interval=0.2)
    return failed


def warm(router: str, usernames: list[str], timeout: float = 300) -> None:
    """Force a refresh of every user and wait until all their jobs have ended."""
    with httpx.Client(base_url=router, timeout=60) as client:
        answers = {u: client.post(f"/bundles/{u}/refresh", json={"force": True}).json() for u in usernames}
        wait_for_jobs(client, {a["job_id"]: u for u, a in answers.items() if "job_id" in a}, timeout)
