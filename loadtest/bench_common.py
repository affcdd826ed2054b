"""What the benchmarks share: percentiles, the rollout switch, one timed refresh, wrk, a section.

A :class:`Section` is one table of a benchmark run plus the goals it was measured against; the
``loadtest.bench`` command prints every section and writes them to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cloudfolio.devserver.waiting import wait_until

ADMIN_TOKEN = "bench-admin"
BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
FLAG_TTL = 1.0


@dataclass
class Goal:
    text: str
    measured: str
    met: bool


@dataclass
class Section:
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])
        print("| " + " | ".join(self.rows[-1]) + " |", flush=True)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |",
                 "| " + " | ".join("---" for _ in self.header) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines += [""] + [f"{note}" for note in self.notes] + ([""] if self.notes else [])
        return "\n".join(lines)


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by nearest rank: the smallest value with at least ``q`` of all
    values at or below it (the one rule every benchmark here uses)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in milliseconds, nearest rank."""
    return quantile(values, q) * 1000


def route(client: httpx.Client, pct: int) -> None:
    """Send ``pct`` % of users to the queue path and wait one flag TTL so every process sees it."""
    client.put("/admin/rollout", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
               json={"percentage": pct, "reason": "benchmark"}).raise_for_status()
    time.sleep(FLAG_TTL + 0.2)


def refresh_once(client: httpx.Client, user: str, timeout: float = 900,
                 poll: float = 0.05) -> tuple[float, float, float]:
    """Force a refresh of ``user``: seconds to the answer, to the job completed (seen by polling the
    status every ``poll`` seconds), to the bundle readable."""
    started = time.perf_counter()
    answer = client.post(f"/bundles/{user}/refresh", json={"force": True})
    answered = time.perf_counter() - started
    job = answer.json()["job_id"]

    def ended() -> dict[str, Any] | None:
        view = client.get(f"/bundles/{user}/status", params={"job_id": job}).json()
        return None if view["status"] == "processing" else view

    # every poll costs the router (and the legacy's status route) CPU on the cores the workers use
    view = wait_until(ended, timeout, lambda: f"job {job} did not end in {timeout:g} s", interval=poll)
    done = time.perf_counter() - started
    if view["status"] != "completed":
        raise RuntimeError(f"job failed: {view}")
    wait_until(lambda: client.get(f"/bundles/{user}").json().get("fingerprint") == view["bundle_fingerprint"],
               60, lambda: "the bundle of the completed job never became readable", interval=0.02)
    return answered, done, time.perf_counter() - started


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, method: str = "GET", body: Any = None, seconds: int = 10, connections: int = 20,
        headers: dict[str, str] | None = None) -> tuple[float, float]:
    """req/s and p99 ms from wrk (a C load generator: a Python client saturates before the server)."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = '{json.dumps(body)}'", 'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
    script.write_text("\n".join(lines) + "\n")
    try:
        output = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s",
                                 str(script), url], capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        script.unlink(missing_ok=True)
    if re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        raise RuntimeError(f"{url} answered errors under load:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
