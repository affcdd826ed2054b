"""The sweeper fails overdue jobs with a reason and deletes expired ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloudfolio.devserver.waiting import wait_until
from services.core.jobs import JobNotFound, JobStatus, JobStore
from services.core.storage.local import LocalBackend
from services.queue.sweeper import Sweeper, sweep_jobs


def test_overdue_unfinished_jobs_fail_with_their_progress(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage)
    stuck = jobs.create("octocat")
    jobs.set_total(stuck.job_id, 3)
    jobs.record_repo(stuck.job_id, "a")
    finished = jobs.create("octocat")
    jobs.complete(finished.job_id, bundle_fingerprint="f" * 32, repos_count=1)
    fresh = jobs.create("octocat")
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert sweep_jobs(jobs, deadline_seconds=60, now=later) == {"failed": 2, "deleted": 0}
    failed = jobs.get(stuck.job_id)
    assert failed.status == JobStatus.FAILED and "1/3 repos done" in failed.reasons[0]
    assert jobs.get(finished.job_id).status == JobStatus.COMPLETED
    assert jobs.get(fresh.job_id).status == JobStatus.FAILED  # pending, never planned: also lost
    assert sweep_jobs(jobs, deadline_seconds=60, now=datetime.now(UTC)) == {"failed": 0, "deleted": 0}


def test_expired_jobs_are_deleted_with_their_markers(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage, ttl_seconds=60)
    job = jobs.create("octocat")
    jobs.record_repo(job.job_id, "a")
    result = sweep_jobs(jobs, deadline_seconds=30, now=datetime.now(UTC) + timedelta(seconds=61))
    assert result == {"failed": 0, "deleted": 1}
    assert list(local_storage.list("jobs/")) == []
    with pytest.raises(JobNotFound):
        jobs.get(job.job_id)


def test_sweeper_thread_runs_and_stops(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage)
    job = jobs.create("octocat")
    sweeper = Sweeper(jobs, deadline_seconds=0, interval=0.05).start()
    try:
        wait_until(lambda: jobs.get(job.job_id).status == JobStatus.FAILED, 5)
    finally:
        sweeper.stop()
