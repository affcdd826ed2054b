"""The queue pipeline as a serving path: start a run (or answer ``cached``), report, wait, read.

A refresh answers ``cached`` when a job verified the bundle against the source within
``freshness_seconds`` (the router never calls GitHub); otherwise it submits a job through a few
dedicated sender threads, never the request thread pool (Dramatiq #520: one broker connection per
sending thread). Bundles go out as stored: the records are spliced in without decoding them.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from router.paths.base import (
    CachedBundle,
    PathFailed,
    Run,
    RunResult,
    fingerprints_of,
    job_seconds,
    record_view,
    status_view,
)
from services.core.fingerprints import bundle_fingerprint_of_records
from services.core.jobs import Job, JobStatus, JobStore
from services.core.keys import Namespace
from services.core.serving import ServingPath
from services.queue.pipeline import Pipeline


class QueuePath:
    """The queue pipeline as a path.

    Parameters:
      pipeline(Pipeline): submits jobs.
      freshness_seconds(int): how long a verified bundle counts as current without a new check.
      sender(ThreadPoolExecutor): the few threads that talk to the broker (never the request pool).
      poll_interval(float): seconds between job reads while waiting for a run (shadow comparisons).
    """

    name = ServingPath.QUEUE.value

    def __init__(self, pipeline: Pipeline, freshness_seconds: int, sender: ThreadPoolExecutor,
                 poll_interval: float = 0.5) -> None:
        self.pipeline = pipeline
        self.jobs: JobStore = pipeline.backends.jobs
        self.freshness_seconds = freshness_seconds
        self.sender = sender
        self.poll_interval = poll_interval

    def _fresh(self, username: str, namespace: Namespace) -> CachedBundle | None:
        cache = self.pipeline.backends.cache(namespace)
        verified = cache.verified(username)
        if verified is None:
            return None
        age = (datetime.now(UTC) - verified.at).total_seconds()
        if age > self.freshness_seconds or cache.bundle_fingerprint(username) != verified.fingerprint:
            return None
        bundle = cache.storage.head(cache.keys.bundle(username))
        return CachedBundle(verified.fingerprint, verified.repos_count, bundle.last_modified.isoformat(),
                            bundle.size, cache.keys.bundle(username), verified.at.isoformat())

    async def start(self, username: str, force: bool, *, shadow: bool = False) -> Run:
        namespace = Namespace.SHADOW if shadow else Namespace.LIVE
        if not force:
            fresh = await run_in_threadpool(self._fresh, username, namespace)
            if fresh is not None:
                return Run(self.name, username, cached=fresh)
        loop = asyncio.get_running_loop()

        def submit() -> Job:
            return self.pipeline.submit_refresh(username, force=force, mode=namespace, extra={"path": self.name})

        job = await loop.run_in_executor(self.sender, submit)
        return Run(self.name, username, job=job)

    async def status(self, job: Job) -> dict[str, Any]:
        progress = await run_in_threadpool(self.jobs.progress, job.job_id)
        failed = [{"repo": r, "error": e} for r, e in sorted(progress.failed_repos.items())]
        return status_view(job, job.total, progress.completed, failed)

    async def wait(self, run: Run, timeout: float) -> RunResult:
        namespace, seconds = Namespace.LIVE, 0.0
        if run.job is not None:
            deadline = time.monotonic() + timeout
            while True:
                job = await run_in_threadpool(self.jobs.get, run.job.job_id)
                if job.status == JobStatus.FAILED:
                    raise PathFailed("; ".join(job.reasons) or "queue job failed")
                if job.status == JobStatus.COMPLETED:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"queue job {job.job_id} unfinished after {timeout:.0f}s")
                await asyncio.sleep(self.poll_interval)
            namespace, seconds = Namespace(job.mode), job_seconds(job) or 0.0
        cached = await run_in_threadpool(self.pipeline.backends.cache(namespace).load_bundle, run.username)
        records = cached.data if cached is not None else []
        return RunResult(fingerprints_of(records), bundle_fingerprint_of_records(records), seconds)

    async def bundle(self, username: str) -> tuple[int, dict[str, Any]]:
        cached = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_bundle, username)
        if cached is None:
            return 404, {"error": f"No valid bundle found for '{username}'"}
        return 200, record_view(username, self.name, cached)

    async def bundle_bytes(self, username: str) -> bytes | None:
        """The bundle response as bytes, splicing the stored records in without decoding them."""
        loaded = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_bundle_raw, username)
        if loaded is None:
            return None
        data, info = loaded
        head = json.dumps({"username": username, "fingerprint": info.fingerprint, "path": self.name,
                           "last_modified": info.last_modified.isoformat(), "size_bytes": info.size_bytes},
                          separators=(",", ":"))
        return head[:-1].encode() + b',"data":' + data + b"}"

    async def repo(self, username: str, repo: str) -> tuple[int, dict[str, Any]]:
        cached = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_record, username, repo)
        if cached is None:
            return 404, {"error": f"No valid repository data found for '{repo}' by user '{username}'"}
        return 200, record_view(username, self.name, cached, repo=repo)
