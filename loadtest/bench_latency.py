"""Router latency on this machine: the 202 answer, the 200 ``cached`` answer and a cached GET,
on the queue path and the legacy path, against one ``cloudfolio serve`` process (embedded
default), measured side by side in one run with sequential requests from one client.

    python -m loadtest.bench_latency --requests 300 --record
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from loadtest.bench_common import ms

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples) * 1000, ms(samples, 0.95), ms(samples, 0.99)


def _measure(client: httpx.Client, method: str, path: str, count: int, expect: int, **kwargs: object) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        samples.append(time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--record", action="store_true", help="append the table to docs/BENCHMARKS.md")
    args = parser.parse_args()
    port, data = _port(), tempfile.mkdtemp(prefix="cf-latency-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    env.update({"CLOUDFOLIO_ADMIN_TOKEN": TOKEN, "CLOUDFOLIO_LOG_LEVEL": "warning", "QUEUE_TRAFFIC_PCT": "100"})
    server = subprocess.Popen([sys.executable, "-m", "cloudfolio", "serve", "--port", str(port), "--data-dir", data],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        for _ in range(100):
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        admin = {"Authorization": f"Bearer {TOKEN}"}
        for path, pct in (("queue", 100), ("legacy", 0)):
            client.put("/admin/rollout", headers=admin, json={"percentage": pct})
            job = client.post("/bundles/yungryce/refresh", json={"force": True}).json()["job_id"]
            while client.get("/bundles/yungryce/status", params={"job_id": job}).json()["status"] == "processing":
                time.sleep(0.05)
            n = args.requests
            rows.append((path, "POST refresh (force) -> 202",
                         _measure(client, "POST", "/bundles/yungryce/refresh", n, 202, json={"force": True})))
            time.sleep(2)  # let the forced jobs drain before the cached measurements
            job = client.post("/bundles/yungryce/refresh", json={"force": True}).json()["job_id"]
            while client.get("/bundles/yungryce/status", params={"job_id": job}).json()["status"] == "processing":
                time.sleep(0.05)
            rows.append((path, "POST refresh -> 200 cached",
                         _measure(client, "POST", "/bundles/yungryce/refresh", n, 200, json={})))
            rows.append((path, "GET /bundles/{user} (16 repos)", _measure(client, "GET", "/bundles/yungryce", n, 200)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    table = ["| path | request | p50 ms | p95 ms | p99 ms |", "| --- | --- | --- | --- | --- |"]
    for path, name, samples in rows:
        p50, p95, p99 = _percentiles(samples)
        table.append(f"| {path} | {name} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    print("\n".join(table))
    if args.record:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        section = (f"\n## Router latency ({datetime.now(UTC):%Y-%m-%d}, {machine})\n\n"
                   f"Command: `python -m loadtest.bench_latency --requests {args.requests} --record`; one "
                   "`cloudfolio serve` on the embedded default (in-process workers and legacy replica, local "
                   "storage, sample portfolio), sequential requests from one client on 127.0.0.1. The legacy "
                   "path's `cached` answer lists repos from the source on every call, as the legacy did.\n\n"
                   + "\n".join(table) + "\n")
        with (ROOT / "docs" / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            handle.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
