"""Finding jobs in storage: every job's id, and the most recent jobs, from one listing of ``jobs/``.

A listing names the folders right under ``jobs/`` (one per job: its per-repo markers are never
listed or read), so it costs in proportion to the jobs kept (their TTL bounds them), not to their
repos; the sweeper and the dashboard use it, never a request path. Job ids begin with their creation
time (:func:`~services.core.keys.new_job_id`), so the most recent jobs are the listed ids sorted by
that time, and only their ``limit`` documents are read: not one head per job kept. A job deleted
between the listing and a read is skipped.
"""

from __future__ import annotations

from services.core.jobs import Job, JobNotFound, JobStore
from services.core.keys import JOBS_PREFIX, is_job_id, job_id_created_ms
from services.core.storage import StorageBackend


def job_ids(storage: StorageBackend) -> list[str]:
    """The id of every job folder in storage, in key order: one name per job, whatever its markers
    (a folder left without its document reads as not found to whoever reads it)."""
    return [name for name in storage.folders(JOBS_PREFIX) if is_job_id(name)]


def recent_jobs(jobs: JobStore, limit: int = 10) -> list[Job]:
    """The ``limit`` jobs created last, newest first (expired ones left out). Ids without a time
    (random ones, from before ids carried it) count as older than any other: they expire within a TTL."""
    newest_first = sorted(job_ids(jobs.storage), key=lambda job_id: (job_id_created_ms(job_id) or 0, job_id),
                          reverse=True)
    found: list[Job] = []
    for job_id in newest_first:
        if len(found) == limit:
            break
        try:
            found.append(jobs.get(job_id))
        except JobNotFound:  # expired, or deleted since the listing
            continue
    return found
