"""The refresh answer under load: 100 Locust users, refresh-only and burst mixes, queue path.

The stack runs on loopback (GitHub double at 100 ms per call, 25 portfolios of 10 repos, every user
on the queue path, one worker process consuming plans, syncs and merges; training is left to its
own workers, as in production). Every portfolio is warmed first. Locust runs headless
(``loadtest/locust_refresh.py``); afterwards every accepted job is polled until it ends, and the
time from the end of the load until the last one completed is reported.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from cloudfolio.devserver.github import FakeGitHub
from loadtest.bench_common import BROKER, Goal, Section, quantile
from loadtest.stack import running_stack, wait_for_jobs, warm

ROOT = Path(__file__).resolve().parents[1]
P99_GOAL_MS, DRAIN_GOAL_S = 20.0, 60.0
#: Seconds from the first refresh left out of the steady-state percentiles: Locust starts every user at
#: once, so each one's first refresh and new connection arrive in the same second.
STEADY_AFTER_S = 5.0


def percentiles(timings: Path, skip_seconds: float = STEADY_AFTER_S) -> dict[str, float]:
    """p50/p95/p99 (ms, nearest rank) of the refreshes that started ``skip_seconds`` or more after the first."""
    rows = [tuple(map(float, line.split())) for line in timings.read_text().splitlines() if line.strip()]
    if not rows:
        return {}
    first = min(start for start, _ms in rows)
    values = [ms for start, ms in rows if start - first >= skip_seconds]
    if not values:
        return {}
    return {f"p{q}": quantile(values, q / 100) for q in (50, 95, 99)}


def _locust(host: str, mix: str, users: list[str], jobs: Path, clients: int, seconds: int, out: Path) -> dict:
    command = [sys.executable, "-m", "locust", "-f", "loadtest/locust_refresh.py", "--headless", "--host", host,
               "-u", str(clients), "-r", str(clients), "-t", f"{seconds}s", "--csv", str(out / "locust"),
               "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5"]
    env = {**os.environ, "CLOUDFOLIO_LOADTEST_MIX": mix, "CLOUDFOLIO_LOADTEST_USERS": ",".join(users),
           "CLOUDFOLIO_LOADTEST_JOBS": str(jobs), "CLOUDFOLIO_LOADTEST_TIMINGS": str(out / "timings.txt")}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 120)
    rows = {row["Name"]: row for row in csv.DictReader((out / "locust_stats.csv").open())} \
        if (out / "locust_stats.csv").exists() else {}
    if "POST refresh" not in rows:
        raise RuntimeError(f"Locust produced no refresh statistics:\n{result.stderr[-3000:]}")
    return rows["POST refresh"]


def _drain(router: str, jobs: Path, timeout: float = 600) -> tuple[int, int, float]:
    """(accepted, failed, seconds until every accepted job had ended)."""
    pending = dict(line.split()[::-1] for line in jobs.read_text().splitlines() if line.strip())
    started = time.monotonic()
    with httpx.Client(base_url=router, timeout=30) as client:
        failed = wait_for_jobs(client, pending, timeout)
    return len(pending), failed, time.monotonic() - started


def _router_full_collections(router: str) -> tuple[int, float]:
    """(full collections, their total seconds) of the router process so far, from its /metrics."""
    text = httpx.get(f"{router}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        for name in ("python_gc_pause_seconds_count", "python_gc_pause_seconds_sum"):
            if line.startswith(f'{name}{{generation="2"}}'):
                values[name] = float(line.rsplit(" ", 1)[1])
    return int(values.get("python_gc_pause_seconds_count", 0)), values.get("python_gc_pause_seconds_sum", 0.0)


REFRESH_ROUTE = "/bundles/{username}/refresh"


def _router_refresh_buckets(router: str) -> dict[float, float]:
    """Cumulative counts of the router's own refresh timings by bucket bound (seconds), every path summed."""
    text = httpx.get(f"{router}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("router_request_duration_seconds_bucket{") and f'route="{REFRESH_ROUTE}"' in line:
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = buckets.get(float(bound), 0.0) + float(line.rsplit(" ", 1)[1])
    return buckets


def server_p99_bound(before: dict[float, float], after: dict[float, float]) -> str:
    """The smallest histogram bound under which 99 % of the refreshes between two readings were timed by
    the router itself (from the app's first byte in to its last byte handed to the server: no client, no kernel
    queue, no socket write)."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    if not total:
        return "-"
    bound = next(b for b, n in counts.items() if n >= 0.99 * total)
    if bound == float("inf"):
        return f"> {max(b for b in counts if b != bound) * 1000:g}"
    return f"<= {bound * 1000:g}"


def refresh_under_load(mixes: list[str], clients: int = 100, seconds: int = 60,
                       settings: dict[str, str] | None = None) -> Section:
    """``settings`` go to every process of the stack (an A/B run, e.g. ``CLOUDFOLIO_GC_FREEZE=false``)."""
    title = f"Refresh answer under load: {clients} users, {seconds} s per mix, queue path"
    if settings:
        title += " (" + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) + ")"
    section = Section(title, ["mix", "refreshes", "failures", "p50 ms", "p95 ms", "p99 ms", "req/s", "jobs accepted",
                              "jobs failed", "last job completed after the load, s",
                              "router full GCs during the load (ms in all)", "router-timed p99 ms",
                              f"steady p50 / p95 / p99 ms (after the first {STEADY_AFTER_S:g} s)"])
    section.notes.append("25 portfolios x 10 repos, GitHub double at 100 ms per call, one worker process "
                         "(plans, syncs, merges); Locust on the same 2 cores as every server. The last column is the "
                         "router's own histogram (from the app's first byte in to its last byte handed to the server): "
                         "the bucket bound under which 99 % of the refreshes fell. Locust starts all users in the "
                         "first second; the steady percentiles leave out the refreshes that started in the first "
                         f"{STEADY_AFTER_S:g} s (Locust's own columns keep them).")
    for mix in mixes:
        github = FakeGitHub()
        users = [f"load{uuid.uuid4().hex[:5]}-{i}" for i in range(25)]
        for user in users:
            github.add_generated_user(user, 10)
        extra = {"QUEUE_TRAFFIC_PCT": "100", "GITHUB_TOKEN": "bench-token", **(settings or {})}
        with running_stack(broker_url=BROKER, github_latency=0.1, github=github, worker_roles=("all",),
                           extra=extra) as stack, tempfile.TemporaryDirectory(prefix="cf-load-") as scratch:
            warm(stack.router, users)
            jobs = Path(scratch) / "jobs.txt"
            jobs.touch()
            collections, paused = _router_full_collections(stack.router)
            timed = _router_refresh_buckets(stack.router)
            stats = _locust(stack.router, mix, users, jobs, clients, seconds, Path(scratch))
            after, paused_after = _router_full_collections(stack.router)
            timed_p99 = server_p99_bound(timed, _router_refresh_buckets(stack.router))
            steady = percentiles(Path(scratch) / "timings.txt")
            accepted, failed, drained = _drain(stack.router, jobs)
        p99, steady_p99 = float(stats["99%"]), steady.get("p99", float("nan"))
        section.add(mix, stats["Request Count"], stats["Failure Count"], stats["50%"], stats["95%"], stats["99%"],
                    f"{float(stats['Requests/s']):.0f}", accepted, failed, f"{drained:.1f}",
                    f"{after - collections} ({(paused_after - paused) * 1000:.0f})", timed_p99,
                    " / ".join(f"{steady[k]:g}" for k in ("p50", "p95", "p99")) if steady else "-")
        if mix == "burst":
            section.goals.append(Goal(f"refresh answer p99 < {P99_GOAL_MS:g} ms at {clients} users, burst mix "
                                      f"(steady state: after the first {STEADY_AFTER_S:g} s)",
                                      f"{steady_p99:g} ms (whole run, with every user's first request in "
                                      f"the same second: {p99:g} ms)", steady_p99 < P99_GOAL_MS))
            section.goals.append(Goal(f"every accepted job completed within {DRAIN_GOAL_S:g} s after the load "
                                      "stops (burst mix)", f"{drained:.1f} s, {failed} failed of {accepted}",
                                      drained <= DRAIN_GOAL_S and failed == 0))
    return section
