"""Finding jobs in storage: every job's id, and the most recent jobs, from one listing of ``jobs/``.

A listing walks every key under ``jobs/`` (the job documents and their per-repo markers), so it
costs in proportion to the jobs kept (their TTL bounds them); the sweeper and the dashboard use
it, never a request path. A job deleted between the listing and a read is skipped.
"""

from __future__ import annotations

from services.core.jobs import Job, JobNotFound, JobStore
from services.core.storage import StorageBackend

JOB_DOCUMENT = "/job.json"


def job_ids(storage: StorageBackend) -> list[str]:
    """The id of every job document in storage, in key order."""
    return [info.key.split("/")[1] for info in storage.list("jobs/") if info.key.endswith(JOB_DOCUMENT)]


def recent_jobs(jobs: JobStore, limit: int = 10) -> list[Job]:
    """The ``limit`` jobs whose documents changed last, newest first (expired ones left out)."""
    listed = [info for info in jobs.storage.list("jobs/") if info.key.endswith(JOB_DOCUMENT)]
    listed.sort(key=lambda info: info.last_modified, reverse=True)
    found: list[Job] = []
    for info in listed:
        if len(found) == limit:
            break
        try:
            found.append(jobs.get(info.key.split("/")[1]))
        except JobNotFound:
            continue
    return found
