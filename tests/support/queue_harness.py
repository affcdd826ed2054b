"""Helpers for queue tests: RabbitMQ availability, per-test queue names, worker subprocesses."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pika
from dramatiq.common import dq_name, xq_name

from services.core.jobs import Job, JobStore
from tests.support.github_server import free_port
from tests.support.services import unavailable

RABBITMQ_URL = os.environ.get("CLOUDFOLIO_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def require_rabbitmq() -> str:
    parameters = pika.URLParameters(RABBITMQ_URL)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 2
    try:
        pika.BlockingConnection(parameters).close()
    except Exception as exc:
        unavailable(f"RabbitMQ is not reachable at {RABBITMQ_URL}: {exc!r} (scripts/test.sh starts it)")
    return RABBITMQ_URL


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
        return [f"{self.prefix}-github-sync", f"{self.prefix}-merge", f"{self.prefix}-training"]

    def env(self) -> dict[str, str]:
        sync, merge, train = self.queue_names
        values = {
            "CLOUDFOLIO_DATA_DIR": str(self.data_dir),
            "CLOUDFOLIO_REPO_SOURCE": "github",
            "CLOUDFOLIO_GITHUB_API_URL": self.github_url,
            "CLOUDFOLIO_GITHUB_MAX_RETRIES": "1",
            "CLOUDFOLIO_SYNC_QUEUE": sync,
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
        return {**base, **self.env()}


class WorkerProcess:
    """A ``cloudfolio worker`` subprocess with its health port."""

    def __init__(self, queue_env: QueueEnv, *roles: str, threads: int = 4, log_path: Path | None = None) -> None:
        self.health_port = free_port()
        self.log_path = log_path or queue_env.data_dir / f"worker-{self.health_port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", *(roles or ("all",)), "--threads", str(threads),
             "--health-port", str(self.health_port)],
            env=queue_env.process_env(), stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.wait_healthy()

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.health_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"worker not healthy within {timeout}s:\n{self.log_text()}")

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.health_url}/metrics", timeout=5).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            match = re.match(rf"^{re.escape(name)}\{{(.*)\}} ([0-9.e+-]+)$", line)
            if match and ",".join(sorted(match.group(1).split(","))) == wanted:
                return float(match.group(2))
        return 0.0

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def wait_until(condition: Callable[[], bool], timeout: float = 30, describe: Callable[[], str] = lambda: "") -> None:
    """Poll ``condition`` every 50 ms until it holds; fail with ``describe()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, describe()
        time.sleep(0.05)


def wait_for_job(jobs: JobStore, job_id: str, timeout: float = 60, on_poll: Callable[[Job], None] | None = None) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get(job_id)
        if on_poll:
            on_poll(job)
        if job.terminal:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")
        time.sleep(0.05)


class ServiceProcess:
    """A ``cloudfolio`` subcommand serving HTTP (serve, legacy), started and waited for."""

    def __init__(self, queue_env: QueueEnv, *args: str, port: int, ready_path: str) -> None:
        self.port = port
        self.log_path = queue_env.data_dir / f"{args[0]}-{port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "services.cli", *args, "--port", str(port)],
                                        env=queue_env.process_env(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}{ready_path}", timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start:\n{self.log_text()}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
