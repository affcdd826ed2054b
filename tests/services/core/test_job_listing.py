"""Finding jobs in storage: every id, and the latest jobs newest first."""

from __future__ import annotations

import os
import time

from services.core.job_listing import job_ids, recent_jobs
from services.core.jobs import JobStore
from services.core.storage import StorageBackend
from services.core.storage.local import LocalBackend
from tests.support.clocks import ManualUtcClock


def test_every_job_document_is_listed_once_markers_aside(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    created = [jobs.create(f"user{i}") for i in range(3)]
    jobs.set_total(created[0].job_id, 2)
    jobs.record_repo(created[0].job_id, "a")  # a marker under jobs/<id>/repos/ is not a job
    assert sorted(job_ids(storage)) == sorted(job.job_id for job in created)


def test_the_recent_jobs_are_the_last_changed_first_and_expired_ones_are_left_out(
        local_storage: LocalBackend) -> None:
    clock = ManualUtcClock()
    jobs = JobStore(local_storage, ttl_seconds=60, clock=clock)
    old = jobs.create("old")
    clock.advance(30)
    first, second = jobs.create("first"), jobs.create("second")
    for age, job in ((3, first), (2, second)):  # a second apart, whatever the file system's mtime granularity
        stamp = time.time() - age
        os.utime(local_storage._path(f"jobs/{job.job_id}/job.json"), (stamp, stamp))
    jobs.set_total(first.job_id, 5)  # the latest change
    clock.advance(31)  # `old` has expired; the others have not
    assert [job.username for job in recent_jobs(jobs)] == ["first", "second"]
    assert [job.username for job in recent_jobs(jobs, limit=1)] == ["first"]
    assert old.job_id in job_ids(local_storage), "still in storage until the sweeper deletes it"
