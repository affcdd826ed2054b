"""The job sweeper: no job stays unfinished forever, and expired jobs are deleted.

A job whose messages were lost (dead-lettered without reaching the failure hook, expired, or held
by a broker that was wiped) would never finish. Every worker process runs :class:`Sweeper` in a
background thread: jobs not finished ``deadline`` seconds after creation are failed with a reason
naming how far they got; jobs past their TTL are deleted with their markers.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

from services.core.jobs import Job, JobNotFound, JobStore

log = logging.getLogger("cloudfolio.sweeper")


def sweep_jobs(jobs: JobStore, deadline_seconds: int, now: datetime | None = None) -> dict[str, int]:
    """Fail overdue jobs and delete expired ones; return counts of each."""
    now = now or datetime.now(UTC)
    failed = deleted = 0
    job_ids = [info.key.split("/")[1] for info in jobs.storage.list("jobs/") if info.key.endswith("/job.json")]
    for job_id in job_ids:
        try:
            job = Job(**json.loads(jobs.storage.get(f"jobs/{job_id}/job.json").data))
        except Exception:  # deleted meanwhile, or unreadable: nothing to do with it here
            continue
        if datetime.fromisoformat(job.expires_at) <= now:
            jobs.delete(job_id)
            deleted += 1
            continue
        overdue = datetime.fromisoformat(job.created_at) + timedelta(seconds=deadline_seconds) <= now
        if overdue and not job.terminal:
            try:
                progress = jobs.progress(job_id)
                reason = (f"deadline of {deadline_seconds}s passed with {progress.done}/{progress.total} repos done: "
                          "messages were lost (dead-lettered or expired)")
                jobs.fail(job_id, reason, failed_repos=progress.failed_repos)
                failed += 1
                log.warning("failed overdue job %s", job_id, extra={"job_id": job_id, "username": job.username})
            except JobNotFound:
                continue
    return {"failed": failed, "deleted": deleted}


class Sweeper:
    """Runs :func:`sweep_jobs` every ``interval`` seconds in a daemon thread."""

    def __init__(self, jobs: JobStore, deadline_seconds: int, interval: float | None = None) -> None:
        self.jobs = jobs
        self.deadline_seconds = deadline_seconds
        self.interval = interval if interval is not None else max(1.0, min(60.0, deadline_seconds / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sweep_jobs(self.jobs, self.deadline_seconds)
            except Exception:
                log.exception("job sweep failed; trying again next interval")
