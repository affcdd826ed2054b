"""Per-repo cost of the queue path against a no-op Dramatiq actor on the same RabbitMQ.

The same work measured side by side over the sample portfolio's repos, from the local source into
local storage, so GitHub's latency is out of the picture. Workers run as worker processes (spawned,
each a Dramatiq ``Worker`` of ``threads`` threads on the project's pipeline, as ``cloudfolio worker``
runs them), ``processes`` of them: the default of ``cloudfolio worker``, one per CPU:

- a no-op actor on the project's broker and middleware: the floor of a message;
- ``fetch_documents`` + ``build_record`` called in a loop (in this process): the work of a sync itself;
- the storage calls a repo makes, alone: the record written, the repo's marker created, the job
  read and written back by compare-and-swap (what any layout of these three blobs costs);
- the ``sync_repo`` step called directly (fetch, save, bookkeeping, the merge hand-off);
- ``sync_repo`` through RabbitMQ and one worker process, then through ``processes`` of them (the
  worker's default; one process is bound by Python's GIL, and on a machine of several cores the
  worker runs one per core).

The storage-bound rows run twice in the same run: with the local storage on the temp folder's disk
and in memory (``/dev/shm``, where it is a tmpfs), so what the disk's file creations cost is told
apart from what the code and the broker cost. The queue overhead per repo is the last row minus
the second: everything the queue path adds to a repo's own work (storage writes, job bookkeeping,
broker and worker). Messages belong to jobs of 16 repos each, so every 16th one also claims and
sends a merge, as in a real refresh.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dramatiq
from prometheus_client import CollectorRegistry

from cloudfolio.cli.worker import default_worker_processes
from cloudfolio.devserver.processes import delete_queues
from cloudfolio.devserver.waiting import wait_until
from loadtest.bench_common import BROKER, Goal, Section
from services.core.cache import encode_record
from services.core.jobs import JobStore
from services.core.keys import job_key, job_repo_key, tenant_metadata
from services.core.records import build_record
from services.core.settings import Settings
from services.core.storage.local import LocalBackend
from services.queue.broker import boot_process
from services.queue.pipeline import Pipeline, build_pipeline
from services.sync.steps import SyncSteps

USER = "yungryce"
GOAL_MS = 2.0
#: Where the in-memory run keeps its storage, when that folder is a tmpfs.
MEMORY = Path("/dev/shm")


@dataclass(frozen=True)
class Medium:
    """Where one run keeps its local storage: a label for the table and the parent folder."""

    label: str
    parent: Path | None  # None: the temp folder


def file_system(path: Path) -> str:
    """The type of the file system ``path`` lives on, from /proc/mounts ('?' where unknown)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    resolved, best = str(path.resolve()), ("", "?")
    for fields in mounts:
        point = fields[1]
        if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) > len(best[0]):
            best = (point, fields[2])
    return best[1]


def media() -> list[Medium]:
    """The temp folder's disk, then memory where ``/dev/shm`` is a tmpfs (not on every machine)."""
    temp = Path(tempfile.gettempdir())
    found = [Medium(f"{temp}, {file_system(temp)}", None)]
    if MEMORY.is_dir() and file_system(MEMORY) == "tmpfs":
        found.append(Medium(f"{MEMORY}, tmpfs", MEMORY))
    return found


def _noop() -> None:
    """The no-op actor's body (module level: a spawned worker process imports it)."""


def _worker_process(env: dict[str, str], queue: str, threads: int, noop_actor: str, counts: Any, index: int,
                    ready: Any, go: Any, stop: Any) -> None:
    """One worker process: the pipeline from ``env`` (plus the no-op actor when ``noop_actor`` is set),
    a Dramatiq worker on ``queue`` started at ``go``, its count of finished messages in ``counts[index]``."""
    registry = CollectorRegistry()
    pipeline = build_pipeline(Settings.from_env(env), registry=registry)
    actor = "sync_repo"
    if noop_actor:
        actor = dramatiq.actor(_noop, actor_name=noop_actor, queue_name=queue, broker=pipeline.broker,
                               max_retries=0).actor_name
    boot_process(pipeline.broker)
    ready.release()
    go.wait()
    worker = dramatiq.Worker(pipeline.broker, queues={queue}, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        while not stop.is_set():
            counts[index] = int(registry.get_sample_value("messages_processed_total",
                                                          {"actor": actor, "outcome": "ok"}) or 0)
            stop.wait(0.01)
    finally:
        worker.stop()
        pipeline.close()


def _drain(env: dict[str, str], queue: str, processes: int, threads: int, total: int, noop_actor: str = "") -> float:
    """Seconds ``processes`` worker processes take to finish the ``total`` messages waiting on ``queue``,
    from the moment they all start consuming (their imports and connections are not counted)."""
    context = multiprocessing.get_context("spawn")
    counts = context.Array("q", processes, lock=False)
    ready, go, stop = context.Semaphore(0), context.Event(), context.Event()
    children = [context.Process(target=_worker_process, daemon=True,
                                args=(env, queue, threads, noop_actor, counts, index, ready, go, stop))
                for index in range(processes)]
    for child in children:
        child.start()
    arrived = 0

    def all_ready() -> bool:
        nonlocal arrived
        while ready.acquire(block=False):
            arrived += 1
        dead = [child.exitcode for child in children if child.exitcode is not None]
        if dead:
            raise RuntimeError(f"a worker process exited with {dead[0]} before it consumed")
        return arrived == processes

    try:
        wait_until(all_ready, 120, f"{processes} worker processes not ready in 120 s", interval=0.05)
        started = time.perf_counter()
        go.set()
        wait_until(lambda: sum(counts) >= total, 600, lambda: f"{queue}: {sum(counts)} of {total} in 600 s",
                   interval=0.01)
        return time.perf_counter() - started
    finally:
        stop.set()
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()


def _storage_alone(pipeline: Pipeline, repos: list[dict], jobs: int) -> float:
    """Seconds per repo of the three storage calls a synced repo makes, with the bytes a sync writes."""
    storage, keys = pipeline.backends.storage, pipeline.backends.cache("live").keys
    records = {repo["name"]: build_record(repo, pipeline.backends.source.fetch_documents(USER, repo)) for repo in repos}
    marker = b'{"outcome":"completed","error":"","at":"2026-12-06T00:00:00+00:00"}'
    started = time.perf_counter()
    for _ in range(jobs):
        job_id = pipeline.backends.jobs.create(USER).job_id
        for repo in repos:
            record = records[repo["name"]]
            storage.put(keys.record(USER, repo["name"]), encode_record({"data": record}),
                        metadata=tenant_metadata(USER, fingerprint=record["fingerprint"]))
            storage.put(job_repo_key(job_id, repo["name"]), marker, metadata={"outcome": "completed"},
                        create_only=True)
            job = storage.get(job_key(job_id))
            storage.put(job_key(job_id), job.data, if_match=job.info.etag)
    return (time.perf_counter() - started) / (jobs * len(repos))


def _env(data: Path, names: list[str]) -> dict[str, str]:
    return {
        "CLOUDFOLIO_BROKER_URL": BROKER, "CLOUDFOLIO_DATA_DIR": str(data), "CLOUDFOLIO_LOG_LEVEL": "warning",
        "CLOUDFOLIO_SYNC_QUEUE": names[0], "CLOUDFOLIO_MERGE_QUEUE": names[1],
        "CLOUDFOLIO_TRAINING_QUEUE": names[2], "CLOUDFOLIO_PLAN_QUEUE": names[3]}


def _send_syncs(pipeline: Pipeline, repos: list[dict], jobs: int) -> None:
    for _ in range(jobs):
        job = pipeline.backends.jobs.create(USER)
        pipeline.backends.jobs.set_total(job.job_id, len(repos))
        for repo in repos:
            pipeline.send(pipeline.actors.sync_repo.message(job.job_id, USER, repo, "live"))


def _on_medium(medium: Medium, messages: int, threads: int, processes: int, floor_and_fetch: bool,
               settings: dict[str, str]) -> dict[str, float]:
    """Seconds per repo of each row measured with the storage on ``medium`` (the no-op floor and the
    fetch, which touch no storage, only when ``floor_and_fetch``)."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    data = Path(tempfile.mkdtemp(prefix="cf-bench-", dir=medium.parent))
    names = [f"{prefix}-{n}" for n in ("sync", "merge", "training", "plan", "noop")]
    env = {**settings, **_env(data, names)}
    pipeline: Pipeline | None = None
    seconds: dict[str, float] = {}
    try:  # from the first queue on: an interrupt anywhere still removes the queues and the folder
        pipeline = build_pipeline(Settings.from_env(env), registry=CollectorRegistry())
        broker = pipeline.broker
        boot_process(broker)
        repos = pipeline.backends.source.list_repos(USER)
        jobs = messages // len(repos)
        total = jobs * len(repos)
        seconds["repos"] = total
        if floor_and_fetch:
            noop = dramatiq.actor(_noop, actor_name=f"{prefix}_noop", queue_name=names[4], broker=broker,
                                  max_retries=0)
            for _ in range(total):
                pipeline.send(noop.message())
            seconds["floor"] = _drain(env, names[4], processes, threads, total, noop.actor_name) / total
            started = time.perf_counter()
            for index in range(total):
                repo = repos[index % len(repos)]
                build_record(repo, pipeline.backends.source.fetch_documents(USER, repo))
            seconds["fetch"] = (time.perf_counter() - started) / total

        seconds["storage"] = _storage_alone(pipeline, repos, jobs)
        steps = SyncSteps(pipeline.backends, pipeline)
        started = time.perf_counter()
        for _ in range(jobs):
            job = pipeline.backends.jobs.create(USER)
            pipeline.backends.jobs.set_total(job.job_id, len(repos))
            for repo in repos:
                steps.sync_repo(job.job_id, USER, repo, "live")
        seconds["direct"] = (time.perf_counter() - started) / total

        for key, count in (("queued_one", 1), ("queued", processes)):
            if key == "queued_one" and processes == 1:
                continue
            _send_syncs(pipeline, repos, jobs)
            seconds[key] = _drain(env, names[0], count, threads, total) / total
    finally:
        if pipeline is not None:
            pipeline.close()
        delete_queues(BROKER, names)
        shutil.rmtree(data, ignore_errors=True)
    return seconds


def _rows(processes: int) -> list[tuple[str, str]]:
    rows = [("floor", f"no-op actor (broker, middleware, {processes} worker process(es))"),
            ("fetch", "fetch + build the record, no queue, no storage"),
            ("storage", "the storage calls alone: record put, marker create, job read + conditional put"),
            ("direct", "`sync_repo` step called directly (adds storage, bookkeeping, merge hand-off)")]
    if processes > 1:
        rows.append(("queued_one", "`sync_repo` through RabbitMQ, one worker process"))
    rows.append(("queued", f"`sync_repo` through RabbitMQ, {processes} worker process(es) (the worker's default)"))
    return rows


def per_repo_overhead(messages: int, threads: int, processes: int, settings: dict[str, str] | None = None) -> Section:
    """The section; ``settings`` (``--set``) reach this process's pipeline and the worker processes."""
    runs = [(medium, _on_medium(medium, messages, threads, processes, floor_and_fetch=index == 0,
                                settings=settings or {}))
            for index, medium in enumerate(media())]
    first = runs[0][1]
    floor, fetch = first["floor"], first["fetch"]
    section = Section(f"Queue overhead per repo ({first['repos']:.0f} repos, worker processes of {threads} threads, "
                      "local source and storage)",
                      ["what runs per repo"] + [f"ms, storage on {medium.label}" for medium, _ in runs]
                      + ["vs no-op actor"])
    for key, label in _rows(processes):
        values = [seconds.get(key, first[key]) for _medium, seconds in runs]
        section.add(label, *(f"{value * 1000:.2f}" for value in values), f"x{values[0] / floor:.1f}")
    section.notes.append(f"Worker processes: {processes}, the default of `cloudfolio worker` here (one per CPU it "
                         "may use; CLOUDFOLIO_WORKER_PROCESSES); each is spawned and timed from when all consume. "
                         "With the local source and storage each runs at most CLOUDFOLIO_WORKER_RUN_SLOTS "
                         "(default 2) syncs at once.")
    if settings:
        section.notes.append("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ".")
    for medium, seconds in runs:
        overhead = (seconds["queued"] - fetch) * 1000
        one = f" (one process: {(seconds['queued_one'] - fetch) * 1000:.2f} ms)" if "queued_one" in seconds else ""
        section.notes.append(f"Storage on {medium.label}: queue overhead per repo = through the queue - fetch and "
                             f"build = {overhead:.2f} ms{one}. The storage calls alone, one after another, take "
                             f"{seconds['storage'] * 1000:.2f} ms; the worker's threads overlap them.")
        section.goals.append(Goal(f"queue overhead per repo < {GOAL_MS:g} ms (storage on {medium.label})",
                                  f"{overhead:.2f} ms", overhead < GOAL_MS))
    return section


def _poll_ms(jobs: JobStore, job_id: str, size: int, polls: int) -> tuple[float, float]:
    timings = []
    for poll in (lambda: JobStore.progress_of(jobs.get(job_id)), lambda: jobs.progress(job_id)):
        if poll().done != size:
            raise RuntimeError(f"a poll of {job_id} did not see its {size} repos")
        started = time.perf_counter()
        for _ in range(polls):
            poll()
        timings.append((time.perf_counter() - started) / polls * 1000)
    return timings[0], timings[1]


def status_poll_cost(sizes: tuple[int, ...] = (200, 1000), polls: int = 200) -> Section:
    """A status poll reads the job document alone (``progress_of``); counting the markers (``progress``,
    what the merge and the sweeper decide on) lists them. Both on local storage, per job size."""
    section = Section("Status poll: the job document alone vs listing the repo markers (local storage)",
                      ["repos in the job", "`progress_of(get(job))` ms", "`progress(job)` (lists markers) ms",
                       "listing vs document"])
    for size in sizes:
        data = Path(tempfile.mkdtemp(prefix="cf-bench-poll-"))
        try:
            jobs = JobStore(LocalBackend(data))
            job = jobs.create(USER)
            jobs.set_total(job.job_id, size)
            for index in range(size):
                jobs.record_repo(job.job_id, f"repo-{index}")
            document, listing = _poll_ms(jobs, job.job_id, size, polls)
        finally:
            shutil.rmtree(data, ignore_errors=True)
        section.add(size, f"{document:.2f}", f"{listing:.2f}", f"x{listing / document:.0f}")
    return section


if __name__ == "__main__":  # quick look: python -m loadtest.bench_overhead
    print(status_poll_cost().markdown())
    print(per_repo_overhead(800, 8, default_worker_processes(Settings.from_env(), ["sync"])).markdown())
