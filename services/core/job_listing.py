"""Finding jobs in storage: every job's id, and the most recent jobs, from one listing of ``jobs/``.

A listing names the folders right under ``jobs/`` (one per job: its per-repo markers are never
listed or read), so it costs in proportion to the jobs kept (their TTL bounds them), not to their
repos; the sweeper and the dashboard use it, never a request path. A job deleted between the
listing and a read is skipped.
"""

from __future__ import annotations

import contextlib

from services.core.jobs import Job, JobNotFound, JobStore
from services.core.keys import JOBS_PREFIX, is_job_id, job_key
from services.core.storage import BlobNotFound, StorageBackend


def job_ids(storage: StorageBackend) -> list[str]:
    """The id of every job folder in storage, in key order: one name per job, whatever its markers
    (a folder left without its document reads as not found to whoever reads it)."""
    return [name for name in storage.folders(JOBS_PREFIX) if is_job_id(name)]


def recent_jobs(jobs: JobStore, limit: int = 10) -> list[Job]:
    """The ``limit`` jobs whose documents changed last, newest first (expired ones left out)."""
    listed = []
    for job_id in job_ids(jobs.storage):
        with contextlib.suppress(BlobNotFound):
            listed.append(jobs.storage.head(job_key(job_id)))
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
