"""The stack as real processes on loopback, for load tests, benchmarks and integration tests.

:class:`QueueEnv` is the environment of one isolated stack (its own queue names, data folder and
GitHub double); :class:`WorkerProcess` and :class:`ServiceProcess` start ``cloudfolio worker`` and
``cloudfolio serve``/``legacy`` with it and wait until they answer; :func:`delete_queues` removes
a stack's queues from RabbitMQ afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pika
from dramatiq.common import dq_name, xq_name

from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from cloudfolio.memory import without_thread_caches


def delete_queues(url: str, names: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in names:
        for queue in (name, dq_name(name), xq_name(name)):
            channel.queue_delete(queue)
    connection.close()


@dataclass
class QueueEnv:
    """Environment for a test's own queues, storage folder and GitHub test server."""

    data_dir: Path
    github_url: str
    broker_url: str = ""
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def queue_names(self) -> list[str]:
        return [f"{self.prefix}-github-sync", f"{self.prefix}-merge", f"{self.prefix}-training",
                f"{self.prefix}-refresh-plan"]

    def env(self) -> dict[str, str]:
        sync, merge, train, plan = self.queue_names
        values = {
            "CLOUDFOLIO_DATA_DIR": str(self.data_dir),
            "CLOUDFOLIO_REPO_SOURCE": "github",
            "CLOUDFOLIO_GITHUB_API_URL": self.github_url,
            "CLOUDFOLIO_GITHUB_MAX_RETRIES": "1",
            "CLOUDFOLIO_SYNC_QUEUE": sync,
            "CLOUDFOLIO_PLAN_QUEUE": plan,
            "CLOUDFOLIO_MERGE_QUEUE": merge,
            "CLOUDFOLIO_TRAINING_QUEUE": train,
            "CLOUDFOLIO_RETRY_MIN_BACKOFF_MS": "50",
            "CLOUDFOLIO_RETRY_MAX_BACKOFF_MS": "200",
            "CLOUDFOLIO_LOG_LEVEL": "info",
        }
        if self.broker_url:
            values["CLOUDFOLIO_BROKER_URL"] = self.broker_url
        values.update(self.extra)
        return values

    def process_env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        base.pop("prometheus_multiproc_dir", None)
        return without_thread_caches({**base, **self.env()})


class CliProcess:
    """A ``cloudfolio`` sub-command as a subprocess of this one, its output in a log file.

    Parameters:
      queue_env(QueueEnv): the stack's environment.
      args(Sequence[str]): the command line after ``cloudfolio``.
      log_path(Path): where stdout and stderr go.
    """

    def __init__(self, queue_env: QueueEnv, args: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "cloudfolio", *args], env=queue_env.process_env(),
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.stop_requested = False

    def wait_answering(self, url: str, what: str, ok: Callable[[int], bool], timeout: float = 30) -> None:
        """Wait until ``url`` answers with a status ``ok`` accepts; fail early if the process exits."""

        def answering() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{what} exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                return ok(httpx.get(url, timeout=1).status_code)
            except httpx.TransportError:
                return False

        wait_until(answering, timeout, lambda: f"{what} not answering within {timeout:g}s:\n{self.log_text()}",
                   interval=0.1)

    def _ready_or_stopped(self, wait: Callable[[], None]) -> None:
        """Run a constructor's readiness wait; when it fails (a timeout, a signal's KeyboardInterrupt)
        stop the process first: no caller holds it yet, so nobody else could."""
        try:
            wait()
        except BaseException:
            self.stop(timeout=10)
            raise

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def close_log(self) -> None:
        self._log.close()

    def request_stop(self) -> None:
        """Send SIGTERM once, without waiting (:func:`stop_all` overlaps several graceful stops)."""
        if self.process.poll() is None and not self.stop_requested:
            self.stop_requested = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.request_stop()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def stop_all(processes: Iterable[CliProcess], timeout: float | None = None) -> None:
    """Stop every process still running: all are sent SIGTERM first, then each is waited for (``timeout``,
    else each one's own default), so their graceful stops (a worker's takes about a second: its threads
    notice the stop at their next poll) overlap instead of adding up. Every log is closed, even when a
    wait is interrupted."""
    processes = list(processes)
    try:
        for process in processes:
            process.request_stop()
        for process in processes:
            process.stop() if timeout is None else process.stop(timeout)
    finally:
        for process in processes:
            process.close_log()


class WorkerProcess(CliProcess):
    """A ``cloudfolio worker`` subprocess with its health port, started and waited for."""

    def __init__(self, queue_env: QueueEnv, *roles: str, threads: int = 4, log_path: Path | None = None) -> None:
        self.health_port = free_port()
        # one process: the tests and load tests kill, signal and read the metrics of exactly this pid
        args = ["worker", *(roles or ("all",)), "--threads", str(threads), "--processes", "1",
                "--health-port", str(self.health_port)]
        super().__init__(queue_env, args, log_path or queue_env.data_dir / f"worker-{self.health_port}.log")
        self._ready_or_stopped(self.wait_healthy)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    def wait_healthy(self, timeout: float = 30) -> None:
        self.wait_answering(f"{self.health_url}/health", "worker", lambda status: status == 200, timeout)

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.health_url}/metrics", timeout=5).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            match = re.match(rf"^{re.escape(name)}\{{(.*)\}} ([0-9.e+-]+)$", line)
            if match and ",".join(sorted(match.group(1).split(","))) == wanted:
                return float(match.group(2))
        return 0.0


class ServiceProcess(CliProcess):
    """A ``cloudfolio`` sub-command serving HTTP (serve, legacy), started and waited for."""

    def __init__(self, queue_env: QueueEnv, *args: str, port: int, ready_path: str) -> None:
        self.port = port
        super().__init__(queue_env, [*args, "--port", str(port)], queue_env.data_dir / f"{args[0]}-{port}.log")
        self._ready_or_stopped(lambda: self.wait_answering(f"{self.url}{ready_path}", args[0],
                                                           lambda status: status < 500))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 20) -> int:
        return super().stop(timeout)
