"""Pipeline benchmarks, each measured side by side in one run, printed and (with ``--record``)
appended to docs/BENCHMARKS.md:

- ``refresh``: end-to-end refresh, legacy path vs queue path, same stack, same GitHub latency
  (100 ms per call), for portfolios of 10, 50 and 200 repos: time to the 202 answer, to the job
  completed, and until the bundle is readable; plus the legacy with its inline training (10 repos),
  the shape of the seed plan's "120-180 s -> 2-5 s" claim;
- ``merge``: merging 200 and 1,000 repos: time and peak traced memory (must stay flat);
- ``router``: a cached ``GET /bundles/{u}`` and the 202 path through the router vs a bare Starlette
  endpoint returning the same bytes: req/s and p99;
- ``shadow``: the primary's refresh latency with shadow off vs shadow at 100 % sampling.

    python -m loadtest.bench_pipeline all --record      (from the repository root; needs RabbitMQ)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from loadtest.stack import running_stack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = "bench-admin"
BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def stack(github_latency: float, inline_training: bool = False, shadow: bool = False):
    """GitHub double (in-process), legacy, one worker process, router; yields (router URL, github state)."""
    extra = {"CLOUDFOLIO_ADMIN_TOKEN": TOKEN, "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "CLOUDFOLIO_FLAG_TTL": "1",
             "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "true" if inline_training else "false",
             "ENABLE_QUEUE_SHADOW": "true" if shadow else "false"}
    with running_stack(broker_url=BROKER, github_latency=github_latency, extra=extra) as running:
        yield running.router, running.github


def _route(client: httpx.Client, pct: int) -> None:
    client.put("/admin/rollout", headers={"Authorization": f"Bearer {TOKEN}"}, json={"percentage": pct})


def _refresh_once(client: httpx.Client, user: str) -> tuple[float, float, float]:
    started = time.perf_counter()
    answer = client.post(f"/bundles/{user}/refresh", json={"force": True})
    answered = time.perf_counter() - started
    job = answer.json()["job_id"]
    while (view := client.get(f"/bundles/{user}/status", params={"job_id": job}).json())["status"] == "processing":
        time.sleep(0.02)
    done = time.perf_counter() - started
    if view["status"] != "completed":
        raise RuntimeError(f"job failed: {view}")
    while client.get(f"/bundles/{user}").json().get("fingerprint") != view["bundle_fingerprint"]:
        time.sleep(0.02)
    return answered, done, time.perf_counter() - started


def bench_refresh(sizes: list[int]) -> list[str]:
    rows = ["| repos | path | 202 answer ms | job completed s | bundle readable s |", "| --- | --- | --- | --- | --- |"]
    with stack(0.1) as (router, github):
        client = httpx.Client(base_url=router, timeout=600)
        for size in sizes:
            user = f"bench{uuid.uuid4().hex[:6]}"
            github.add_generated_user(user, size)
            for path, pct in (("legacy", 0), ("queue", 100)):
                _route(client, pct)
                time.sleep(1.2)  # one flag TTL
                answered, done, readable = _refresh_once(client, user)
                rows.append(f"| {size} | {path} | {answered * 1000:.0f} | {done:.1f} | {readable:.1f} |")
                print(rows[-1], flush=True)
    with stack(0.1, inline_training=True) as (router, github):
        client = httpx.Client(base_url=router, timeout=900)
        user = f"bench{uuid.uuid4().hex[:6]}"
        github.add_generated_user(user, 10)
        _route(client, 0)
        time.sleep(1.2)
        answered, done, readable = _refresh_once(client, user)
        rows.append(f"| 10 | legacy, training inline (as the legacy did) | {answered * 1000:.0f} | {done:.1f} | "
                    f"{readable:.1f} |")
        print(rows[-1], flush=True)
    return rows


def bench_merge(sizes: list[int]) -> list[str]:
    from services.core.cache import BundleCache
    from services.core.keys import CacheKeys
    from services.core.records import RepoDocuments, build_record
    from services.core.storage.local import LocalBackend
    from services.merge.merger import merge_bundle

    rows = ["| repos | merge s | peak traced memory MB | bundle MB |", "| --- | --- | --- | --- |"]
    for size in sizes:
        folder = tempfile.mkdtemp(prefix="cf-merge-")
        cache = BundleCache(LocalBackend(folder), CacheKeys())
        names = []
        for index in range(size):
            meta = {"id": index, "name": f"r{index:05d}", "updated_at": "2025-01-01T00:00:00Z",
                    "pushed_at": "2025-01-01T00:00:00Z", "size": index, "default_branch": "main", "language": "Python"}
            docs = RepoDocuments(readme="x" * 20_000, skills_index="s" * 8_000, architecture="a" * 10_000,
                                 repo_context='{"project_identity": {"name": "r"}}',
                                 paths=[f"f{i}.py" for i in range(50)])
            cache.save_record("bench", build_record(meta, docs))
            names.append(meta["name"])
        tracemalloc.start()
        started = time.perf_counter()
        merge_bundle(cache, "bench", names)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        bundle_mb = cache.storage.head(cache.keys.bundle("bench")).size / 2**20
        rows.append(f"| {size} | {seconds:.2f} | {peak:.1f} | {bundle_mb:.1f} |")
        print(rows[-1], flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


async def _hammer(url: str, method: str, requests: int, concurrency: int, body: Any = None) -> tuple[float, float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = asyncio.Queue()
        for _ in range(requests):
            queue.put_nowait(None)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.request(method, url, json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    raise RuntimeError(f"{url} answered {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, _ms(latencies, 0.99)


BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = open(sys.argv[2], 'rb').read()
async def bundle(request):
    return Response(body, media_type='application/json')
async def refresh(request):
    return Response(b'{"status":"processing","job_id":"0","status_url":"/x","path":"queue"}', status_code=202,
                    media_type='application/json')
app = Starlette(routes=[Route('/bundle', bundle), Route('/refresh', refresh, methods=['POST'])])
uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')
"""


def _wrk(url: str, method: str, body: Any, seconds: int, connections: int) -> tuple[float, float]:
    """req/s and p99 ms from wrk (a C load generator: the Python client saturates before the server)."""
    import json
    import re

    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = '{json.dumps(body)}'", 'wrk.headers["Content-Type"] = "application/json"']
    script.write_text("\n".join(lines) + "\n")
    output = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s",
                             str(script), url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def bench_router(requests: int, concurrency: int) -> list[str]:
    from cloudfolio.devserver.threaded import free_port

    rows = ["| endpoint | server | req/s | p99 ms | router/bare |", "| --- | --- | --- | --- | --- |"]
    with stack(0.0) as (router, github):
        user = f"bench{uuid.uuid4().hex[:6]}"
        github.add_generated_user(user, 16)
        client = httpx.Client(base_url=router, timeout=120)
        _route(client, 100)
        time.sleep(1.2)
        _refresh_once(client, user)
        body = client.get(f"/bundles/{user}").content
        payload = Path(tempfile.mkstemp(suffix=".json")[1])
        payload.write_bytes(body)
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(payload)])
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/bundle", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            cases = [("cached GET bundle", ("GET", f"{router}/bundles/{user}", None),
                      ("GET", f"http://127.0.0.1:{port}/bundle", None)),
                     ("POST refresh -> 202", ("POST", f"{router}/bundles/{user}/refresh", {"force": True}),
                      ("POST", f"http://127.0.0.1:{port}/refresh", {"force": True}))]
            for name, routed, plain in cases:
                if shutil.which("wrk"):
                    r_rps, r_p99 = _wrk(routed[1], routed[0], routed[2], 10, concurrency)
                    b_rps, b_p99 = _wrk(plain[1], plain[0], plain[2], 10, concurrency)
                else:  # the Python client saturates first: these numbers bound the client, not the servers
                    r_rps, r_p99 = asyncio.run(_hammer(routed[1], routed[0], requests, concurrency, routed[2]))
                    b_rps, b_p99 = asyncio.run(_hammer(plain[1], plain[0], requests, concurrency, plain[2]))
                rows.append(f"| {name} | router | {r_rps:.0f} | {r_p99:.1f} | req/s x{r_rps / b_rps:.2f}, "
                            f"p99 x{r_p99 / b_p99:.2f} |")
                rows.append(f"| {name} | bare Starlette, same bytes | {b_rps:.0f} | {b_p99:.1f} | |")
                print(rows[-2], rows[-1], sep="\n", flush=True)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
    return rows


def bench_shadow(requests: int) -> list[str]:
    rows = ["| shadow | primary POST refresh p50 ms | p95 ms | p99 ms |", "| --- | --- | --- | --- |"]
    for shadow in (False, True):
        with stack(0.02, shadow=shadow) as (router, github):
            user = f"bench{uuid.uuid4().hex[:6]}"
            github.add_generated_user(user, 10)
            client = httpx.Client(base_url=router, timeout=120)
            _route(client, 100)
            time.sleep(1.2)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                client.post(f"/bundles/{user}/refresh", json={"force": True})
                samples.append(time.perf_counter() - started)
                time.sleep(0.05)
            rows.append(f"| {'on, 100 % sampled' if shadow else 'off'} | {statistics.median(samples) * 1000:.1f} | "
                        f"{_ms(samples, 0.95):.1f} | {_ms(samples, 0.99):.1f} |")
            print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["refresh", "merge", "router", "shadow", "all"])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    sections = []
    if args.which in ("refresh", "all"):
        sections.append(("End-to-end refresh, legacy vs queue (GitHub double at 100 ms per call; 1 worker process "
                         "x 8 threads, legacy pool of 10; no training unless stated)", bench_refresh([10, 50, 200])))
    if args.which in ("merge", "all"):
        sections.append(("Merge at scale (records of ~40 KB each, local storage, batches of 50)",
                         bench_merge([200, 1000])))
    if args.which in ("router", "all"):
        generator = "wrk, 2 threads, 20 connections, 10 s each" if shutil.which("wrk") else "httpx, 20 concurrent"
        sections.append((f"Router overhead vs a bare Starlette endpoint returning the same bytes ({generator}, on "
                         "the same 2 cores as the servers and the queue worker)", bench_router(2000, 20)))
    if args.which in ("shadow", "all"):
        sections.append(("Shadow cost: queue-primary refresh latency, shadow off vs on (legacy shadow, 200 "
                         "sequential forced refreshes)", bench_shadow(200)))
    for title, rows in sections:
        print(f"\n{title}\n" + "\n".join(rows))
    if args.record:
        with (ROOT / "docs" / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
            for title, rows in sections:
                handle.write(f"\n## {title}\n\n{datetime.now(UTC):%Y-%m-%d}, {machine}. Command: "
                             f"`python -m loadtest.bench_pipeline {args.which} --record`.\n\n" + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
