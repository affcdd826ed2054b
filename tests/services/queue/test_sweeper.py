"""The sweeper fails overdue jobs with a reason and deletes expired ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    assert sweep_jobs(jobs, deadline_seconds=60, now=later) == {"failed": 2, "deleted": 0, "resent": 0}
    failed = jobs.get(stuck.job_id)
    assert failed.status == JobStatus.FAILED and "1/3 repos done" in failed.reasons[0]
    assert jobs.get(finished.job_id).status == JobStatus.COMPLETED
    assert jobs.get(fresh.job_id).status == JobStatus.FAILED  # pending, never planned: also lost
    assert sweep_jobs(jobs, deadline_seconds=60, now=datetime.now(UTC)) == {"failed": 0, "deleted": 0, "resent": 0}


def test_expired_jobs_are_deleted_with_their_markers(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage, ttl_seconds=60)
    job = jobs.create("octocat")
    jobs.record_repo(job.job_id, "a")
    result = sweep_jobs(jobs, deadline_seconds=30, now=datetime.now(UTC) + timedelta(seconds=61))
    assert result == {"failed": 0, "deleted": 1, "resent": 0}
    assert list(local_storage.list("jobs/")) == []
    with pytest.raises(JobNotFound):
        jobs.get(job.job_id)


class ReadCounting(LocalBackend):
    """A local backend that remembers which blobs were read or listed with their info."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []

    def get(self, key: str):  # type: ignore[no-untyped-def]
        self.read.append(key)
        return super().get(key)

    def head(self, key: str):  # type: ignore[no-untyped-def]
        self.read.append(key)
        return super().head(key)


def test_a_sweep_of_finished_jobs_reads_their_documents_and_nothing_else(tmp_path: Path) -> None:
    storage = ReadCounting(tmp_path)
    jobs = JobStore(storage)
    ids = []
    for _ in range(5):
        job = jobs.create("octocat")
        jobs.set_total(job.job_id, 20)
        for repo in range(20):
            jobs.record_repo(job.job_id, f"repo{repo}")
        jobs.complete(job.job_id, bundle_fingerprint="f" * 32, repos_count=20)
        ids.append(job.job_id)
    storage.read.clear()
    assert sweep_jobs(jobs, deadline_seconds=60) == {"failed": 0, "deleted": 0, "resent": 0}
    # a job's 20 markers are neither listed with their info nor read: the sweep's cost is per job
    assert sorted(storage.read) == sorted(f"jobs/{job_id}/job.json" for job_id in ids)


def test_sweeper_thread_runs_and_stops(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage)
    job = jobs.create("octocat")
    sweeper = Sweeper(jobs, deadline_seconds=0, interval=0.05).start()
    try:
        wait_until(lambda: jobs.get(job.job_id).status == JobStatus.FAILED, 5)
    finally:
        sweeper.stop()


class Recorder:
    def __init__(self) -> None:
        self.plans: list[str] = []
        self.merges: list[str] = []

    def resend_plan(self, job) -> None:
        self.plans.append(job.job_id)

    def resend_merge(self, job) -> None:
        self.merges.append(job.job_id)


def test_a_merge_claimed_but_never_run_is_sent_again_before_the_job_could_fail(local_storage: LocalBackend) -> None:
    jobs, recovery = JobStore(local_storage), Recorder()
    job = jobs.create("octocat")
    jobs.set_total(job.job_id, 2)
    jobs.record_repo(job.job_id, "a")
    jobs.record_repo(job.job_id, "b")
    assert jobs.claim_merge(job.job_id, owner="message-1")  # the worker then died before sending the merge
    soon = datetime.now(UTC) + timedelta(seconds=30)
    assert sweep_jobs(jobs, 900, soon, recovery=recovery, stall_seconds=60)["resent"] == 0, "not stalled yet"
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert sweep_jobs(jobs, 900, later, recovery=recovery, stall_seconds=60) == {"failed": 0, "deleted": 0,
                                                                                 "resent": 1}
    assert recovery.merges == [job.job_id]
    # at the deadline a job whose repos are all done gets a merge, not a failure, until resends run out
    past_deadline = datetime.now(UTC) + timedelta(seconds=901)
    for _ in range(2):
        assert sweep_jobs(jobs, 900, past_deadline, recovery=recovery)["resent"] == 1
    assert sweep_jobs(jobs, 900, past_deadline, recovery=recovery)["failed"] == 1
    assert len(recovery.merges) == 3 and jobs.get(job.job_id).status == JobStatus.FAILED


def test_a_plan_that_never_ran_is_sent_again_once(local_storage: LocalBackend) -> None:
    jobs, recovery = JobStore(local_storage), Recorder()
    job = jobs.create("octocat")
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert sweep_jobs(jobs, 900, later, recovery=recovery, stall_seconds=60)["resent"] == 1
    assert sweep_jobs(jobs, 900, later, recovery=recovery, stall_seconds=60)["resent"] == 0
    assert recovery.plans == [job.job_id]


def test_the_claim_owner_may_claim_again_and_a_duplicate_may_not(local_storage: LocalBackend) -> None:
    jobs = JobStore(local_storage)
    job = jobs.create("octocat")
    assert jobs.claim_merge(job.job_id, owner="m-1")
    assert jobs.claim_merge(job.job_id, owner="m-1"), "the redelivered winner sends the merge again"
    assert not jobs.claim_merge(job.job_id, owner="m-2") and not jobs.claim_merge(job.job_id)
