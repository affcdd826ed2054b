"""The whole stack as processes on loopback for load tests and benchmarks, started and stopped as one.

:func:`running_stack` starts the GitHub double (in this process, or as its own ``cloudfolio dev-github``
process serving generated users, with a fixed latency per call), the legacy replica, queue worker
processes over RabbitMQ and the router, each its own process, and removes everything (queues, data
folder) afterwards, also when SIGTERM or SIGINT ends the run (:func:`interrupted_by_signals`).
:func:`warm` refreshes every portfolio once and waits until each job has ended.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from cloudfolio.devserver.github import FakeGitHub, start_github_server
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, WorkerProcess, delete_queues, stop_all
from cloudfolio.devserver.threaded import ServerThread, free_port
from cloudfolio.devserver.waiting import wait_until

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class Stack:
    router: str  # base URL
    github: FakeGitHub | None  # None when the double runs as its own process
    env: QueueEnv
    processes: list[Any]


@contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGINT raise :class:`KeyboardInterrupt` in the main thread, so the
    ``finally`` blocks around it stop what they started. Without this a SIGTERM ends the driver at
    once and leaves every process of the stack running, and so does a SIGINT sent to a driver that a
    shell started in the background (which starts it with SIGINT ignored). After the first signal both
    are ignored until the block is left, so the cleanup runs to its end. Inside another such block,
    or elsewhere than in the main thread (signals reach only that one), it changes nothing."""
    handlers = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or _is_ours(signal.getsignal(signal.SIGTERM)):
        yield  # not reachable by signals here, or an enclosing block already answers them
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        # once: a second Ctrl-C or a supervisor's repeated SIGTERM must not cut the cleanup short
        for other in handlers:
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    interrupt.interrupts_stack = True  # type: ignore[attr-defined]
    previous = {signum: signal.signal(signum, interrupt) for signum in handlers}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler installed outside Python, which cannot be put back from here
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _is_ours(handler: object) -> bool:
    return getattr(handler, "interrupts_stack", False) is True


@contextmanager
def running_stack(*, broker_url: str = DEFAULT_BROKER, github_latency: float = 0.0, worker_processes: int = 1,
                  worker_threads: int = 32, worker_roles: tuple[str, ...] = ("all",), github: FakeGitHub | None = None,
                  github_generate: dict[str, int] | None = None, extra: dict[str, str] | None = None,
                  logs_to: Path | None = None, worker_groups: list[tuple[str, ...]] | None = None) -> Iterator[Stack]:
    """GitHub double, legacy, ``worker_processes`` workers (consuming ``worker_roles``; or one worker per
    entry of ``worker_groups``, each consuming its roles) and the router;
    ``github_generate`` (user -> repo count) runs the double as its own process serving those generated users
    (long runs: its event loop then shares no process with the driver); ``extra`` adds settings; ``logs_to``
    keeps each process's log there (the data folder goes)."""
    data = Path(tempfile.mkdtemp(prefix="cf-stack-"))
    state: FakeGitHub | None = None
    server: ServerThread | None = None
    if github_generate is None:
        state, server = start_github_server(github or FakeGitHub())
        state.latency = github_latency
        github_url = server.url
    else:
        github_port = free_port()
        github_url = f"http://127.0.0.1:{github_port}"
    legacy_port, router_port = free_port(), free_port()
    env = QueueEnv(data, github_url, broker_url=broker_url, extra={
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{legacy_port}", "CLOUDFOLIO_LOG_LEVEL": "warning",
        "CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false",
        # capacity runs, not abuse: the refresh rate limits would turn load into 429s
        "CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT": "0", "CLOUDFOLIO_REFRESH_LIMIT_PER_USER": "0", **(extra or {}),
    })
    started: list[Any] = []
    double: ServiceProcess | None = None
    with interrupted_by_signals():
        try:
            if github_generate is not None:
                specs = [arg for user, count in github_generate.items() for arg in ("--generate", f"{user}:{count}")]
                double = ServiceProcess(env, "dev-github", *specs, "--latency", f"{github_latency:g}", port=github_port,
                                        ready_path="/users/octocat/repos")
            started.append(ServiceProcess(env, "legacy", port=legacy_port, ready_path="/api/health"))
            for roles in worker_groups or [worker_roles] * worker_processes:
                started.append(WorkerProcess(env, *roles, threads=worker_threads))
            started.append(ServiceProcess(env, "serve", port=router_port, ready_path="/health"))
            yield Stack(f"http://127.0.0.1:{router_port}", state, env, started)
        finally:
            stop_all(reversed(started))
            if double is not None:
                double.stop()
            if server is not None:
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
