"""The queue pipeline as a serving path: start a run (or answer ``cached``), report, wait, read.

A refresh answers ``cached`` when a job verified the bundle against the source within
``freshness_seconds`` (the router never calls GitHub); otherwise it joins the user's job in flight
or creates one (storage only: on the event loop when storage is local files, whose few operations
cost less than a thread hop; in the request thread pool when it is a network service) and sends a
new job's plan through a few dedicated sender threads, never the request pool (Dramatiq #520: one
broker connection per sending thread). Bundles go out as stored: the records are spliced in without decoding them, and
the spliced answer is kept in a bounded memory cache (:class:`~router.paths.bodies.BodyCache`)
that is used only while the blob's storage etag is unchanged; the ETag sent to clients comes from
that storage etag, so a client's ``If-None-Match`` is answered from a head alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from router.conditional import etag_of_blob
from router.paths.base import (
    CachedBundle,
    PathFailed,
    Run,
    RunResult,
    job_seconds,
    record_view,
    status_view,
)
from router.paths.bodies import BodyCache
from services.core.fingerprints import bundle_fingerprint_of_records
from services.core.jobs import Job, JobStatus, JobStore
from services.core.keys import Namespace
from services.core.serving import ServingPath
from services.core.storage import BlobInfo, BlobNotFound
from services.queue.pipeline import Pipeline

T = TypeVar("T")


class QueuePath:
    """The queue pipeline as a path.

    Parameters:
      pipeline(Pipeline): submits jobs.
      freshness_seconds(int): how long a verified bundle counts as current without a new check.
      sender(ThreadPoolExecutor): the few threads that talk to the broker (never the request pool).
      poll_interval(float): seconds between job reads while waiting for a run (shadow comparisons).
      bodies(BodyCache | None): the spliced bundle answers kept in memory. Defaults to 64 MiB.
    """

    name = ServingPath.QUEUE.value

    def __init__(self, pipeline: Pipeline, freshness_seconds: int, sender: ThreadPoolExecutor,
                 poll_interval: float = 0.5, bodies: BodyCache | None = None) -> None:
        self.pipeline = pipeline
        self.jobs: JobStore = pipeline.backends.jobs
        self.freshness_seconds = freshness_seconds
        self.sender = sender
        self.poll_interval = poll_interval
        self.bodies = bodies if bodies is not None else BodyCache()

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

    async def start(self, username: str, force: bool, *, shadow: bool = False, verify: bool = False) -> Run:
        """``verify``: check GitHub now even when the bundle was verified within the freshness window."""
        namespace = Namespace.SHADOW if shadow else Namespace.LIVE
        if not force and not verify:
            fresh = await self._storage_work(self._fresh, username, namespace)
            if fresh is not None:
                return Run(self.name, username, cached=fresh)
        # the storage work (joining or creating the job) runs inline or in the request pool; only a new
        # job's send goes to the few broker threads, so refreshes that join a job never queue behind sends
        admission = await self._storage_work(lambda: self.pipeline.admit_refresh(
            username, force=force, mode=namespace, extra={"path": self.name}))
        if admission.created:
            # the sender thread sends in this request's context, so the plan message carries its trace
            send = functools.partial(contextvars.copy_context().run, self.pipeline.send_first_plan, admission.job)
            await asyncio.get_running_loop().run_in_executor(self.sender, send)
        return Run(self.name, username, job=admission.job)

    async def _storage_work(self, work: Callable[..., T], *args: Any) -> T:
        """Run a request's few storage operations: inline where storage is local files (a thread hop and
        the GIL's hand-offs cost more than the work, and under load they made the refresh's tail),
        in the request thread pool where it is a network service."""
        if self.pipeline.backends.storage.inline_io:
            return work(*args)
        return await run_in_threadpool(work, *args)

    async def status(self, job: Job) -> dict[str, Any]:
        progress = self.jobs.progress_of(job)  # from the job just read: a poll lists no markers
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
        return RunResult.of(records, bundle_fingerprint_of_records(records), seconds)

    async def bundle(self, username: str) -> tuple[int, dict[str, Any]]:
        cached = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_bundle, username)
        if cached is None:
            return 404, {"error": f"No valid bundle found for '{username}'"}
        return 200, record_view(username, self.name, cached)

    async def _head(self, key: str) -> BlobInfo | None:
        try:
            return await self._storage_work(self.pipeline.backends.storage.head, key)
        except BlobNotFound:
            return None

    async def bundle_bytes(self, username: str, skip: Callable[[str], bool] = lambda _etag: False
                           ) -> tuple[str, bytes | None] | None:
        """``(ETag, answer bytes)`` of the bundle, None when there is none; the bytes are None when
        ``skip(etag)`` says the client has them. Records are spliced in without decoding them."""
        cache = self.pipeline.backends.cache(Namespace.LIVE)
        key = cache.keys.bundle(username)
        info = await self._head(key)
        self.pipeline.backends.observations.cache("bundle", info is not None, username)
        if info is None:
            return None
        etag = etag_of_blob(info.etag)
        if skip(etag):
            return etag, None
        body = self.bodies.get(key, info.etag)
        if body is not None:
            return etag, body
        loaded = await run_in_threadpool(cache.load_bundle_raw, username)
        if loaded is None:
            return None
        data, stored = loaded
        head = json.dumps({"username": username, "fingerprint": stored.fingerprint, "path": self.name,
                           "last_modified": stored.last_modified.isoformat(), "size_bytes": stored.size_bytes},
                          separators=(",", ":"))
        body = head[:-1].encode() + b',"data":' + data + b"}"
        self.bodies.put(key, stored.etag, body)
        return etag_of_blob(stored.etag), body

    async def repo(self, username: str, repo: str) -> tuple[int, dict[str, Any]]:
        cached = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_record, username, repo)
        if cached is None:
            return 404, {"error": f"No valid repository data found for '{repo}' by user '{username}'"}
        return 200, record_view(username, self.name, cached, repo=repo)
