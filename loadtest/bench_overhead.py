"""Per-repo cost of the queue path against a no-op Dramatiq actor on the same RabbitMQ.

Four measurements of the same work, side by side, in this process (one worker of ``threads``
threads where a worker runs), over the sample portfolio's repos from the local source into local
storage, so GitHub's latency is out of the picture:

- a no-op actor on the project's broker and middleware: the floor of a message;
- ``fetch_documents`` + ``build_record`` called in a loop: the work of a sync itself;
- the ``sync_repo`` step called directly (fetch, save, bookkeeping, the merge hand-off);
- ``sync_repo`` through RabbitMQ and a worker.

The queue overhead per repo is the last minus the second: everything the queue path adds to a
repo's own work (storage writes, job bookkeeping, broker and worker). Messages belong to jobs of 16
repos each, so every 16th one also claims and sends a merge, as in a real refresh.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dramatiq
from prometheus_client import CollectorRegistry

from cloudfolio.devserver.processes import delete_queues
from cloudfolio.devserver.waiting import wait_until
from loadtest.bench_common import BROKER, Goal, Section
from services.core.jobs import JobStore
from services.core.records import build_record
from services.core.settings import Settings
from services.core.storage.local import LocalBackend
from services.queue.broker import boot_process
from services.queue.pipeline import build_pipeline
from services.sync.steps import SyncSteps

USER = "yungryce"
GOAL_MS = 2.0


def _drain(broker: dramatiq.Broker, queue: str, threads: int, processed: Callable[[], float], total: int) -> float:
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=threads, worker_timeout=100)
    started = time.perf_counter()
    worker.start()
    try:
        wait_until(lambda: processed() >= total, 600, lambda: f"{queue}: {processed():.0f} of {total} in 600 s",
                   interval=0.01)
        return time.perf_counter() - started
    finally:
        worker.stop()


def per_repo_overhead(messages: int, threads: int) -> Section:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    data = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    names = [f"{prefix}-{n}" for n in ("sync", "merge", "training", "plan", "noop")]
    settings = Settings.from_env({
        "CLOUDFOLIO_BROKER_URL": BROKER, "CLOUDFOLIO_DATA_DIR": str(data), "CLOUDFOLIO_LOG_LEVEL": "warning",
        "CLOUDFOLIO_SYNC_QUEUE": names[0], "CLOUDFOLIO_MERGE_QUEUE": names[1],
        "CLOUDFOLIO_TRAINING_QUEUE": names[2], "CLOUDFOLIO_PLAN_QUEUE": names[3]})
    registry = CollectorRegistry()
    pipeline = build_pipeline(settings, registry=registry)
    broker = pipeline.broker
    boot_process(broker)

    def processed(actor: str) -> Callable[[], float]:
        return lambda: registry.get_sample_value("messages_processed_total", {"actor": actor, "outcome": "ok"}) or 0

    noop = dramatiq.actor(lambda: None, actor_name=f"{prefix}_noop", queue_name=names[4], broker=broker,
                          max_retries=0)
    repos = pipeline.backends.source.list_repos(USER)
    jobs = messages // len(repos)
    total = jobs * len(repos)
    section = Section(f"Queue overhead per repo ({total} repos, one worker x {threads} threads, local source "
                      "and storage)", ["what runs per repo", "ms per repo", "vs no-op actor"])
    try:
        for _ in range(total):
            pipeline.send(noop.message())
        floor = _drain(broker, names[4], threads, processed(noop.actor_name), total) / total

        started = time.perf_counter()
        for index in range(total):
            repo = repos[index % len(repos)]
            build_record(repo, pipeline.backends.source.fetch_documents(USER, repo))
        fetch = (time.perf_counter() - started) / total

        steps = SyncSteps(pipeline.backends, pipeline)
        started = time.perf_counter()
        for _ in range(jobs):
            job = pipeline.backends.jobs.create(USER)
            pipeline.backends.jobs.set_total(job.job_id, len(repos))
            for repo in repos:
                steps.sync_repo(job.job_id, USER, repo, "live")
        direct = (time.perf_counter() - started) / total

        for _ in range(jobs):
            job = pipeline.backends.jobs.create(USER)
            pipeline.backends.jobs.set_total(job.job_id, len(repos))
            for repo in repos:
                pipeline.send(pipeline.actors.sync_repo.message(job.job_id, USER, repo, "live"))
        queued = _drain(broker, names[0], threads, processed("sync_repo"), total) / total
    finally:
        pipeline.close()
        delete_queues(BROKER, names)
        shutil.rmtree(data, ignore_errors=True)
    for label, seconds in (("no-op actor (broker, middleware, worker)", floor),
                           ("fetch + build the record, no queue, no storage", fetch),
                           ("`sync_repo` step called directly (adds storage, bookkeeping, merge hand-off)", direct),
                           ("`sync_repo` through RabbitMQ and a worker", queued)):
        section.add(label, f"{seconds * 1000:.2f}", f"x{seconds / floor:.1f}")
    overhead = (queued - fetch) * 1000
    section.notes.append(f"Queue overhead per repo = through the queue - fetch and build: {overhead:.2f} ms.")
    section.goals.append(Goal(f"queue overhead per repo < {GOAL_MS:g} ms", f"{overhead:.2f} ms", overhead < GOAL_MS))
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
    print(per_repo_overhead(800, 8).markdown())
