"""Finding jobs in storage: every id, and the latest jobs newest first."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from services.core.job_listing import job_ids, recent_jobs
from services.core.jobs import Job, JobStore
from services.core.keys import job_id_created_ms, job_key
from services.core.storage import StorageBackend
from services.core.storage.local import LocalBackend
from tests.support.clocks import ManualUtcClock


def test_every_job_document_is_listed_once_markers_aside(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    created = [jobs.create(f"user{i}") for i in range(3)]
    jobs.set_total(created[0].job_id, 2)
    jobs.record_repo(created[0].job_id, "a")  # a marker under jobs/<id>/repos/ is not a job
    assert sorted(job_ids(storage)) == sorted(job.job_id for job in created)


def test_the_recent_jobs_are_the_last_created_first_and_expired_ones_are_left_out(
        local_storage: LocalBackend) -> None:
    clock = ManualUtcClock()
    jobs = JobStore(local_storage, ttl_seconds=60, clock=clock)
    old = jobs.create("old")
    clock.advance(30)
    first = jobs.create("first")
    clock.advance(0.002)  # ids are in milliseconds: two jobs of one millisecond come in either order
    jobs.create("second")
    jobs.set_total(first.job_id, 5)  # a change does not reorder: the table is by creation
    clock.advance(31)  # `old` has expired; the others have not
    assert [job.username for job in recent_jobs(jobs)] == ["second", "first"]
    assert [job.username for job in recent_jobs(jobs, limit=1)] == ["second"]
    assert old.job_id in job_ids(local_storage), "still in storage until the sweeper deletes it"


def test_the_recent_jobs_read_only_their_own_documents(local_storage: LocalBackend, monkeypatch) -> None:
    clock = ManualUtcClock()
    jobs = JobStore(local_storage, clock=clock)
    for index in range(40):
        jobs.create(f"user{index}")
        clock.advance(0.002)
    read: list[str] = []
    real_get = jobs.get
    monkeypatch.setattr(jobs, "get", lambda job_id: read.append(job_id) or real_get(job_id))
    monkeypatch.setattr(local_storage, "head", lambda key: pytest.fail(f"a head of {key}: one per job kept"))
    assert [job.username for job in recent_jobs(jobs, limit=3)] == ["user39", "user38", "user37"]
    assert len(read) == 3


def test_ids_sort_in_creation_order_and_random_ids_count_as_oldest(local_storage: LocalBackend) -> None:
    clock = ManualUtcClock(datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    jobs = JobStore(local_storage, clock=clock)
    created = []
    for _ in range(5):
        created.append(jobs.create("octocat").job_id)
        clock.advance(0.002)
    assert sorted(created) == created
    assert created[0][:13] == "01a24fd6b1c07" and job_id_created_ms(created[0]) == 1_796_635_800_000
    # jobs from before ids carried their time: random (UUID4) ids, one sorting after every timed id and
    # one whose first digits read as a time of today (uuid4 always has its version digit, 4, at index 12)
    old_ids = ["f" + uuid.uuid4().hex[1:], "01a24fd6b1c9" + uuid.uuid4().hex[12:]]
    for job_id in old_ids:
        before = Job(job_id=job_id, username="octocat", mode="live", force=False, created_at=clock().isoformat(),
                     expires_at=(clock() + timedelta(hours=1)).isoformat())
        local_storage.put(job_key(job_id), json.dumps(asdict(before)).encode())
        assert job_id_created_ms(job_id) is None
    listed = [job.job_id for job in recent_jobs(jobs, limit=7)]
    assert listed[:5] == list(reversed(created)) and sorted(listed[5:]) == sorted(old_ids)
