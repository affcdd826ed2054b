"""End-to-end refresh, legacy replica vs queue path, and the sync worker thread count.

Both paths run in one stack (GitHub double at 100 ms per call, a token set, so the queue path uses
the GraphQL batch fetch as it does in production; the legacy replica fetches sequentially over REST
as the legacy did) and are measured back to back on the same generated portfolio: a forced
refresh, timed until the job is completed. Without training the worker consumes no training
queue (so a background fine-tune never slows the next measurement); with training the legacy
trains inline, as it did, and the queue worker trains after the merge, which the table waits for
before the next measurement.
"""

from __future__ import annotations

import statistics
import uuid
from pathlib import Path

import httpx

from cloudfolio.devserver.waiting import wait_until
from loadtest.bench_common import ADMIN_TOKEN, BROKER, Goal, Section, refresh_once, route
from loadtest.stack import running_stack

GITHUB_LATENCY = 0.1


def _stack(threads: int, processes: int, training: bool, settings: dict[str, str] | None = None):
    extra = {"CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN, "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "CLOUDFOLIO_FLAG_TTL": "1",
             "GITHUB_TOKEN": "bench-token", "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "true" if training else "false",
             **(settings or {})}
    # `all` is plans, syncs and merges, in `processes` worker processes as `cloudfolio worker` runs them by
    # default here; training has its own single process, as `cloudfolio worker train` does by default
    groups = [("all",)] * processes + ([("train",)] if training else [])
    return running_stack(broker_url=BROKER, github_latency=GITHUB_LATENCY, worker_threads=threads,
                         worker_groups=groups, extra=extra)


def _trainings_pending(data: Path) -> bool:
    return any(data.rglob("*.queued.json"))


def _timed(client: httpx.Client, user: str, repeat: int) -> float:
    return statistics.median(refresh_once(client, user)[1] for _ in range(repeat))


def end_to_end(sizes: list[int], threads: int, processes: int, training: bool, repeat: int,
               settings: dict[str, str] | None = None) -> Section:
    label = "with training (legacy inline, queue worker after the merge)" if training else "without training"
    section = Section(f"End-to-end refresh, legacy vs queue, {label}",
                      ["repos", "legacy job completed s", "queue job completed s", "queue speed-up", "goal"])
    section.notes.append(f"GitHub double at {GITHUB_LATENCY * 1000:.0f} ms per call; legacy pool of 10 threads, "
                         f"{processes} queue worker process(es) x {threads} threads (the default here)"
                         f"{' and one training worker' if training else ''}; median of {repeat} forced refreshes each.")
    if settings:
        section.notes.append("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ".")
    with _stack(threads, processes, training, settings) as stack:
        client = httpx.Client(base_url=stack.router, timeout=900)
        for size in sizes:
            user = f"bench{uuid.uuid4().hex[:6]}"
            stack.github.add_generated_user(user, size)
            route(client, 0)
            legacy = _timed(client, user, repeat)
            route(client, 100)
            queue = _timed(client, user, repeat)
            if training:  # the queue worker fine-tunes now: let it end before the next measurement
                wait_until(lambda: not _trainings_pending(stack.env.data_dir), 900,
                           lambda: "the queue worker's training did not end in 900 s", interval=0.5)
            wanted = 10.0 if training else (2.0 if size <= 10 else 5.0)
            ratio = legacy / queue
            section.add(size, f"{legacy:.2f}", f"{queue:.2f}", f"x{ratio:.1f}", f">= x{wanted:g}")
            section.goals.append(Goal(f"queue >= {wanted:g}x faster than legacy at {size} repos, {label}",
                                      f"x{ratio:.1f}", ratio >= wanted))
    return section


def worker_threads(size: int, counts: list[int], repeat: int, current_default: int, processes: int,
                   settings: dict[str, str] | None = None) -> Section:
    section = Section(f"Sync worker threads: queue path at {size} repos, no training",
                      ["threads per worker process", "job completed s", "vs 8 threads"])
    section.notes.append(f"Same setup as the end-to-end table ({processes} worker process(es)); median of {repeat} "
                         f"forced refreshes; the default (CLOUDFOLIO_WORKER_THREADS) is {current_default}.")
    base = None
    for threads in counts:
        with _stack(threads, processes, training=False, settings=settings) as stack:
            client = httpx.Client(base_url=stack.router, timeout=900)
            user = f"bench{uuid.uuid4().hex[:6]}"
            stack.github.add_generated_user(user, size)
            route(client, 100)
            seconds = _timed(client, user, repeat)
        base = base or seconds
        section.add(threads, f"{seconds:.2f}", f"x{base / seconds:.2f}")
    return section
