"""The legacy orchestrator as a serving path, over HTTP with :class:`~router.legacy_client.LegacyClient`.

The same code drives the project's replica and the real Function App. A run is a router-side job
(``mode=legacy``) mapped to the legacy instance; its status is what the legacy app says: Durable's
runtime status and custom status, and, since Durable exposes no per-repo progress, repo counts only
once the orchestration completed (``total_repos`` and ``completed_repos`` are null until then).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from router.legacy_client import LegacyClient, LegacyStatus
from router.paths.base import CachedBundle, PathFailed, Run, RunResult, job_seconds, status_view
from services.core.fingerprints import bundle_fingerprint_of_records
from services.core.jobs import Job, JobStatus, JobStore
from services.core.keys import Namespace
from services.core.serving import ServingPath
from services.legacy.durable import COMPLETED, FAILED, RUNNING


def _utc(value: Any) -> str | None:
    """The legacy's naive UTC timestamps as ISO 8601 with an offset."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def cached_from_legacy(answer: dict[str, Any]) -> CachedBundle:
    """The legacy app's 200 ``cached`` answer in the shape both paths report."""
    info = answer.get("cache_info") if isinstance(answer.get("cache_info"), dict) else {}
    return CachedBundle(answer.get("bundle_fingerprint"), answer.get("repos_count"), info.get("last_modified"),
                        info.get("size_bytes"), str(answer.get("cache_key") or ""), _utc(answer.get("timestamp")))


class LegacyPath:
    """The legacy orchestrator as a path, over HTTP.

    Parameters:
      client(LegacyClient): speaks the Durable HTTP API.
      jobs(JobStore): router-side jobs that map our job ids to legacy instances.
      poll_interval(float): seconds between status polls when the legacy sends no Retry-After.
      max_poll_interval(float): cap on a Retry-After the legacy asks for.
    """

    name = ServingPath.LEGACY.value

    def __init__(self, client: LegacyClient, jobs: JobStore, poll_interval: float = 1.0,
                 max_poll_interval: float = 10.0) -> None:
        self.client = client
        self.jobs = jobs
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    async def start(self, username: str, force: bool, *, shadow: bool = False, verify: bool = False) -> Run:
        # ``verify`` changes nothing here: the legacy app checks GitHub on every start, as it always did
        answer = await self.client.start(username, force)
        if answer.cached is not None:
            return Run(self.name, username, cached=cached_from_legacy(answer.cached))
        extra = {"path": self.name, "instance_id": answer.instance_id, "status_url": answer.status_url,
                 "shadow": shadow}
        job = await run_in_threadpool(self.jobs.create, username, mode=Namespace.LEGACY, force=force, extra=extra)
        return Run(self.name, username, job=job)

    async def _settle(self, job: Job) -> tuple[Job, Any, LegacyStatus | None]:
        """Poll the legacy once; record a finished run on our job. Returns (job, output, what it said)."""
        if job.terminal:
            return job, None, None
        status = await self.client.status(job.extra["status_url"])
        if status.completed:
            records = status.output if isinstance(status.output, list) else []
            job = await run_in_threadpool(
                self.jobs.complete, job.job_id, bundle_fingerprint=bundle_fingerprint_of_records(records),
                repos_count=len(records))
            job = await run_in_threadpool(self.jobs.update, job.job_id,
                                          lambda j: j.extra.update(legacy_seconds=status.seconds))
            return job, records, status
        if status.failed:
            reason = f"legacy orchestration {status.runtime_status}: {status.output}"
            job = await run_in_threadpool(self.jobs.fail, job.job_id, reason)
            return job, None, status
        job.extra["retry_after"] = status.retry_after
        return job, None, status

    async def status(self, job: Job) -> dict[str, Any]:
        job, _output, said = await self._settle(job)
        done = job.status == JobStatus.COMPLETED
        if said is not None:
            legacy = {"runtime_status": said.runtime_status, "custom_status": said.custom_status}
        else:  # settled on an earlier poll
            legacy = {"runtime_status": COMPLETED if done else FAILED if job.terminal else RUNNING,
                      "custom_status": None}
        count = job.repos_count if done else None
        return status_view(job, count, count, [], legacy)

    async def durable_view(self, job: Job) -> tuple[str, Any, str]:
        """``(runtime status, output, retry-after)`` of the legacy instance behind a router job, for the
        router's own Durable status route (the legacy app's status URL stays on the server)."""
        job, output, said = await self._settle(job)
        if job.status == JobStatus.COMPLETED:
            if output is None:
                code, body = await self.client.get_bundle(job.username)
                output = body.get("data", []) if code == 200 and isinstance(body, dict) else []
            return COMPLETED, output, "2"
        if job.status == JobStatus.FAILED:
            return (said.runtime_status if said is not None else FAILED), "; ".join(job.reasons), "2"
        retry = said.retry_after if said is not None and said.retry_after else 2
        return (said.runtime_status if said is not None else RUNNING), None, f"{retry:g}"

    async def wait(self, run: Run, timeout: float) -> RunResult:
        if run.job is None:
            code, body = await self.client.get_bundle(run.username)
            records = body.get("data", []) if code == 200 else []
            return RunResult.of(records, bundle_fingerprint_of_records(records), 0.0)
        deadline = time.monotonic() + timeout
        job = run.job
        while True:
            job, output, _said = await self._settle(job)
            if job.status == JobStatus.FAILED:
                raise PathFailed("; ".join(job.reasons))
            if job.status == JobStatus.COMPLETED:
                if output is None:  # settled by someone else (the status endpoint): read the bundle
                    _code, body = await self.client.get_bundle(run.username)
                    output = body.get("data", [])
                seconds = job.extra.get("legacy_seconds") or job_seconds(job) or 0.0
                return RunResult.of(output, bundle_fingerprint_of_records(output), seconds)
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
