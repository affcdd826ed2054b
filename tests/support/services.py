"""Start real servers for tests (Azurite) and the skip-locally / fail-in-CI rule."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import WaitTimeout, wait_until

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a missing server can never pass silently in CI."""
    if in_ci():
        pytest.fail(f"required test service unavailable under CI: {reason}")
    pytest.skip(reason)


class Freezable:
    """A server process tests can freeze: connections are then accepted by the kernel and never answered."""

    process: subprocess.Popen

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


def stop(process: subprocess.Popen) -> None:
    """Thaw, terminate and reap a server process (killed when it does not stop within 10 s)."""
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Azurite(Freezable):
    """A running Azurite blob service: its connection string, and pause/resume for outage tests."""

    connection_string: str
    process: subprocess.Popen


@contextmanager
def azurite() -> Iterator[Azurite]:
    """Run Azurite's blob service on a free loopback port until the block ends."""
    if not AZURITE_BIN.exists():
        unavailable(f"Azurite is not installed at {AZURITE_BIN} (scripts/test.sh installs it)")
    if shutil.which("node") is None:
        unavailable("node is not installed")
    port = free_port()
    location = tempfile.mkdtemp(prefix="azurite-")
    process = subprocess.Popen(
        [str(AZURITE_BIN), "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", location,
         "--blobHost", "127.0.0.1", "--blobPort", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    try:

        def answering() -> bool:
            if process.poll() is not None:
                return True  # exited: reported below
            try:
                httpx.get(endpoint + "?comp=list", timeout=1)
                return True
            except httpx.TransportError:
                return False

        with suppress(WaitTimeout):
            wait_until(answering, 30, interval=0.1)
        if process.poll() is not None or not answering():
            process.terminate()
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            unavailable(f"Azurite did not start: {error[-500:]}")
        yield Azurite(f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                      f"BlobEndpoint={endpoint};", process)
    finally:
        stop(process)
        shutil.rmtree(location, ignore_errors=True)


@dataclass
class RedisServer(Freezable):
    """A running ``redis-server`` (no persistence): its URL, and pause/resume for outage tests."""

    url: str
    port: int
    process: subprocess.Popen


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Run ``redis-server`` on a free loopback port until the block ends (scripts/test.sh installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (scripts/test.sh installs the Debian package as root)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--daemonize", "no", "--loglevel", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        import redis

        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)

        def answering() -> bool:
            if process.poll() is not None:
                return True
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        with suppress(WaitTimeout):
            wait_until(answering, 20, interval=0.05)
        client.close()
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            unavailable(f"redis-server did not start: {error[-500:]}")
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
    finally:
        stop(process)
