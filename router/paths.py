"""The two paths a request can take, behind one interface.

:class:`QueuePath` runs the queue pipeline (live, or ``shadow`` for mirrors); :class:`LegacyPath`
drives the legacy orchestrator over HTTP with :class:`~router.legacy_client.LegacyClient`. Each
can start a run (or say the bundle is already current), report a job's status, wait for a run's
final records, and read the bundle a user on that path is served. The router uses them for the
primary request and the shadow mirror alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from router.legacy_client import LegacyClient
from services.core.fingerprints import bundle_fingerprint_of_records
from services.core.jobs import Job, JobStatus, JobStore
from services.core.keys import Namespace
from services.core.records import record_name
from services.queue.pipeline import Pipeline

log = logging.getLogger("cloudfolio.router.paths")


class PathFailed(Exception):
    """A run ended failed; the message says why."""


@dataclass
class Run:
    """A started run: either already current (``cached``) or a job to follow."""

    path: str
    username: str
    cached_fingerprint: str | None = None
    cached_info: dict[str, Any] = field(default_factory=dict)
    job: Job | None = None


@dataclass
class RunResult:
    """The records a finished run produced, reduced to what a comparison needs."""

    fingerprints: dict[str, str]
    bundle_fingerprint: str
    seconds: float


def _fingerprints(records: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record_name(record):
            result[record_name(record)] = record.get("fingerprint", "")
    return result


def job_seconds(job: Job) -> float | None:
    """Created-to-finished time of a job, from its own timestamps."""
    if not job.finished_at:
        return None
    return max(0.0, (datetime.fromisoformat(job.finished_at) - datetime.fromisoformat(job.created_at)).total_seconds())


def status_view(job: Job, completed: int, failed: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "status": JobStatus.PROCESSING.value if job.status == JobStatus.PENDING else job.status,
        "path": job.extra.get("path"),
        "total_repos": job.total,
        "completed_repos": completed,
        "failed_repos": failed,
        "created_at": job.created_at,
        "bundle_fingerprint": job.bundle_fingerprint if job.status == JobStatus.COMPLETED else None,
        "reasons": job.reasons,
    }


class QueuePath:
    """The queue pipeline as a path.

    Parameters:
      pipeline(Pipeline): submits jobs.
      freshness_seconds(int): how long a verified bundle counts as current without a new check.
      sender(ThreadPoolExecutor): the few threads that talk to the broker (never the request pool).
    """

    name = "queue"

    def __init__(self, pipeline: Pipeline, freshness_seconds: int, sender: ThreadPoolExecutor,
                 poll_interval: float = 0.5) -> None:
        self.pipeline = pipeline
        self.jobs: JobStore = pipeline.backends.jobs
        self.freshness_seconds = freshness_seconds
        self.sender = sender
        self.poll_interval = poll_interval

    def _fresh(self, username: str, namespace: Namespace) -> tuple[str, dict[str, Any]] | None:
        cache = self.pipeline.backends.cache(namespace)
        verified = cache.verified(username)
        if verified is None:
            return None
        fingerprint, at = verified
        age = (datetime.now(UTC) - at).total_seconds()
        if age > self.freshness_seconds or cache.bundle_fingerprint(username) != fingerprint:
            return None
        bundle = cache.storage.head(cache.keys.bundle(username))
        return fingerprint, {"verified_at": at.isoformat(), "last_modified": bundle.last_modified.isoformat(),
                             "size_bytes": bundle.size, "cache_key": cache.keys.bundle(username)}

    async def start(self, username: str, force: bool, *, shadow: bool = False) -> Run:
        namespace = Namespace.SHADOW if shadow else Namespace.LIVE
        if not force:
            fresh = await run_in_threadpool(self._fresh, username, namespace)
            if fresh is not None:
                return Run(self.name, username, cached_fingerprint=fresh[0], cached_info=fresh[1])
        loop = asyncio.get_running_loop()

        def submit() -> Job:
            return self.pipeline.submit_refresh(username, force=force, mode=namespace, extra={"path": self.name})

        job = await loop.run_in_executor(self.sender, submit)
        return Run(self.name, username, job=job)

    async def status(self, job: Job) -> dict[str, Any]:
        progress = await run_in_threadpool(self.jobs.progress, job.job_id)
        failed = [{"repo": r, "error": e} for r, e in sorted(progress.failed_repos.items())]
        return status_view(job, progress.completed, failed)

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
        return RunResult(_fingerprints(records), bundle_fingerprint_of_records(records), seconds)

    async def bundle(self, username: str) -> tuple[int, dict[str, Any]]:
        cached = await run_in_threadpool(self.pipeline.backends.cache(Namespace.LIVE).load_bundle, username)
        if cached is None:
            return 404, {"error": f"No valid bundle found for '{username}'"}
        return 200, {"username": username, "fingerprint": cached.fingerprint, "path": self.name,
                     "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                     "data": cached.data}

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
        return 200, {"username": username, "repo": repo, "fingerprint": cached.fingerprint, "path": self.name,
                     "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                     "data": cached.data}


class LegacyPath:
    """The legacy orchestrator as a path, over HTTP.

    Parameters:
      client(LegacyClient): speaks the Durable HTTP API.
      jobs(JobStore): router-side jobs that map our job ids to legacy instances.
      poll_interval(float): seconds between status polls when the legacy sends no Retry-After.
      max_poll_interval(float): cap on a Retry-After the legacy asks for.
    """

    name = "legacy"

    def __init__(self, client: LegacyClient, jobs: JobStore, poll_interval: float = 1.0,
                 max_poll_interval: float = 10.0) -> None:
        self.client = client
        self.jobs = jobs
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    async def start(self, username: str, force: bool, *, shadow: bool = False) -> Run:
        answer = await self.client.start(username, force)
        if answer.cached is not None:
            fingerprint = answer.cached.get("bundle_fingerprint")
            info = {k: answer.cached.get(k) for k in ("repos_count", "cache_key", "cache_info")}
            return Run(self.name, username, cached_fingerprint=fingerprint, cached_info=info)
        extra = {"path": self.name, "instance_id": answer.instance_id, "status_url": answer.status_url,
                 "shadow": shadow}
        job = await run_in_threadpool(self.jobs.create, username, mode=Namespace.LEGACY, force=force, extra=extra)
        return Run(self.name, username, job=job)

    async def _settle(self, job: Job) -> tuple[Job, Any]:
        """Poll the legacy once; record a finished run on our job. Returns (job, output)."""
        if job.terminal:
            return job, None
        status = await self.client.status(job.extra["status_url"])
        if status.completed:
            records = status.output if isinstance(status.output, list) else []
            job = await run_in_threadpool(
                self.jobs.complete, job.job_id, bundle_fingerprint=bundle_fingerprint_of_records(records),
                repos_count=len(records))
            job = await run_in_threadpool(self.jobs.update, job.job_id,
                                          lambda j: j.extra.update(legacy_seconds=status.seconds))
            return job, records
        if status.failed:
            reason = f"legacy orchestration {status.runtime_status}: {status.output}"
            job = await run_in_threadpool(self.jobs.fail, job.job_id, reason)
            return job, None
        job.extra["retry_after"] = status.retry_after
        return job, None

    async def status(self, job: Job) -> dict[str, Any]:
        job, _output = await self._settle(job)
        completed = (job.repos_count or 0) if job.status == JobStatus.COMPLETED else 0
        view = status_view(job, completed, [])
        if job.status == JobStatus.COMPLETED:
            view["total_repos"] = job.repos_count
        return view

    async def wait(self, run: Run, timeout: float) -> RunResult:
        if run.job is None:
            code, body = await self.client.get_bundle(run.username)
            records = body.get("data", []) if code == 200 else []
            return RunResult(_fingerprints(records), bundle_fingerprint_of_records(records), 0.0)
        deadline = time.monotonic() + timeout
        job = run.job
        while True:
            job, output = await self._settle(job)
            if job.status == JobStatus.FAILED:
                raise PathFailed("; ".join(job.reasons))
            if job.status == JobStatus.COMPLETED:
                if output is None:  # settled by someone else (the status endpoint): read the bundle
                    _code, body = await self.client.get_bundle(run.username)
                    output = body.get("data", [])
                seconds = job.extra.get("legacy_seconds") or job_seconds(job) or 0.0
                return RunResult(_fingerprints(output), bundle_fingerprint_of_records(output), seconds)
            if time.monotonic() > deadline:
                raise TimeoutError(f"legacy instance {job.extra['instance_id']} unfinished after {timeout:.0f}s")
            pause = job.extra.get("retry_after") or self.poll_interval
            await asyncio.sleep(min(pause, self.max_poll_interval, max(0.05, deadline - time.monotonic())))

    async def bundle(self, username: str) -> tuple[int, dict[str, Any]]:
        code, body = await self.client.get_bundle(username)
        if code == 200 and isinstance(body, dict):
            body["path"] = self.name
        return code, body

    async def repo(self, username: str, repo: str) -> tuple[int, dict[str, Any]]:
        code, body = await self.client.get_repo(username, repo)
        if code == 200 and isinstance(body, dict):
            body["path"] = self.name
        return code, body
