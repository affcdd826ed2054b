"""The recent-jobs benchmark: a row per number of jobs kept, each timing a real read."""

from __future__ import annotations

import os
import time

from loadtest.bench_jobs import SHOWN, head_every_job, recent_jobs_cost
from services.core.job_listing import recent_jobs
from services.core.jobs import JobStore
from services.core.keys import job_key
from services.core.storage.local import LocalBackend
from tests.support.clocks import ManualUtcClock


def test_the_section_reports_every_size_in_milliseconds() -> None:
    section = recent_jobs_cost(sizes=(3, 15), rounds=1)
    assert [row[0] for row in section.rows] == ["3", "15"]
    for row in section.rows:
        assert all(float(value) > 0 for value in row[1:4]) and row[4].startswith("x")


def test_both_ways_find_the_same_jobs_when_none_changed_after_it_was_made(local_storage: LocalBackend) -> None:
    clock = ManualUtcClock()
    jobs = JobStore(local_storage, clock=clock)
    stamp = time.time() - 100
    for index in range(SHOWN + 3):  # ids a millisecond apart or more, documents a second apart
        job_id = jobs.create(f"user{index}").job_id
        os.utime(local_storage._path(job_key(job_id)), (stamp + index, stamp + index))
        clock.advance(0.002)
    former = {job.job_id for job in head_every_job(jobs, SHOWN)}
    assert len(former) == SHOWN and former == {job.job_id for job in recent_jobs(jobs, SHOWN)}
