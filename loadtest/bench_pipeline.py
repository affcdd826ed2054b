"""Pipeline benchmarks, each measured side by side in one run, printed and (with ``--record``)
appended to docs/BENCHMARKS.md:

- ``merge``: merging 200 and 1,000 repos: time and peak traced memory (must stay flat);
- ``shadow``: the primary's refresh latency with shadow off vs shadow at 100 % sampling.

The end-to-end refresh, router and per-repo comparisons live in ``python -m loadtest.bench``.

    python -m loadtest.bench_pipeline all --record      (from the repository root; needs RabbitMQ)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from loadtest.bench_common import ADMIN_TOKEN, BROKER, ms, route
from loadtest.stack import running_stack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextmanager
def stack(github_latency: float, inline_training: bool = False, shadow: bool = False):
    """GitHub double (in-process), legacy, one worker process, router; yields (router URL, github state)."""
    extra = {"CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN, "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "CLOUDFOLIO_FLAG_TTL": "1",
             "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "true" if inline_training else "false",
             "ENABLE_QUEUE_SHADOW": "true" if shadow else "false"}
    with running_stack(broker_url=BROKER, github_latency=github_latency, extra=extra) as running:
        yield running.router, running.github


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


def bench_shadow(requests: int) -> list[str]:
    rows = ["| shadow | primary POST refresh p50 ms | p95 ms | p99 ms |", "| --- | --- | --- | --- |"]
    for shadow in (False, True):
        with stack(0.02, shadow=shadow) as (router, github):
            user = f"bench{uuid.uuid4().hex[:6]}"
            github.add_generated_user(user, 10)
            client = httpx.Client(base_url=router, timeout=120)
            route(client, 100)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                client.post(f"/bundles/{user}/refresh", json={"force": True})
                samples.append(time.perf_counter() - started)
                time.sleep(0.05)
            rows.append(f"| {'on, 100 % sampled' if shadow else 'off'} | {statistics.median(samples) * 1000:.1f} | "
                        f"{ms(samples, 0.95):.1f} | {ms(samples, 0.99):.1f} |")
            print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["merge", "shadow", "all"])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    sections = []
    if args.which in ("merge", "all"):
        sections.append(("Merge at scale (records of ~40 KB each, local storage, batches of 50)",
                         bench_merge([200, 1000])))
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
