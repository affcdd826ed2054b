"""A real Prometheus server on loopback, scraping the targets a test or benchmark names every second.

Installed by the test command (Debian package ``prometheus``); :func:`running_prometheus` writes
its configuration, starts it with its own storage folder and a free port, waits for ``/-/ready``,
and stops it afterwards. Without the binary it raises :class:`PrometheusMissing`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until


class PrometheusMissing(RuntimeError):
    """No ``prometheus`` binary on PATH."""


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_prometheus(targets: list[str], folder: Path) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (``host:port``, path ``/metrics``) every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise PrometheusMissing("prometheus is not installed (`apt-get install prometheus`; the test command does it)")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                      "  - job_name: routers\n    static_configs:\n      - targets: [" +
                      ", ".join(f"'{t}'" for t in targets) + "]\n")
    port = free_port()
    log = (folder / "prometheus.log").open("wb")
    process = subprocess.Popen([str(binary), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    server = Prometheus(f"http://127.0.0.1:{port}", process)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{(folder / 'prometheus.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 30, lambda: "prometheus did not become ready", interval=0.1)
        yield server
    finally:
        server.stop()
        log.close()
