"""Refresh coalescing on the queue path: one job in flight per user, at most one follow-up.

The pipeline runs embedded (StubBroker, worker threads in this process) against the GitHub double
with latency, so a job stays in flight while the test sends more refreshes.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv
from cloudfolio.devserver.waiting import wait_for_job, wait_until
from services.core.inflight import AFTER
from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.queue.pipeline import Pipeline, build_pipeline
from services.queue.workers import InProcessWorkers


@pytest.fixture
def pipeline(github: FakeGitHub, tmp_path: Path) -> Iterator[Pipeline]:
    pipeline = build_pipeline(Settings.from_env(QueueEnv(tmp_path, github.base_url).env()))
    with InProcessWorkers(pipeline, threads=4):
        yield pipeline
    pipeline.close()


def test_a_refresh_while_a_job_is_in_flight_returns_that_job(
    github: FakeGitHub, pipeline: Pipeline, user: str
) -> None:
    github.latency = 0.02
    first = pipeline.submit_refresh(user)
    with ThreadPoolExecutor(8) as pool:  # concurrent refreshes agree on one job
        joined = list(pool.map(lambda _i: pipeline.submit_refresh(user).job_id, range(16)))
    assert set(joined) == {first.job_id}
    done = wait_for_job(pipeline.backends.jobs, first.job_id)
    assert done.status == JobStatus.COMPLETED and done.total == 20
    assert len(github.requests_to(rf"^/users/{user}/repos$")) == 1, "one listing: one plan ran"
    later = pipeline.submit_refresh(user)
    assert later.job_id != first.job_id, "a finished job is not joined"


def test_forced_refreshes_during_a_job_queue_one_follow_up_that_runs_after_it(
    github: FakeGitHub, pipeline: Pipeline, user: str
) -> None:
    github.latency = 0.02
    jobs = pipeline.backends.jobs
    running = pipeline.submit_refresh(user, force=True)
    follow_ups = {pipeline.submit_refresh(user, force=True).job_id for _ in range(5)}
    assert len(follow_ups) == 1 and running.job_id not in follow_ups
    follow_up_id = follow_ups.pop()
    assert jobs.get(follow_up_id).extra[AFTER] == running.job_id
    assert pipeline.submit_refresh(user).job_id == follow_up_id, "a plain refresh joins the queued one"
    first = wait_for_job(jobs, running.job_id)
    second = wait_for_job(jobs, follow_up_id)
    assert (first.status, second.status) == (JobStatus.COMPLETED, JobStatus.COMPLETED)
    assert second.total == 20, "the follow-up is forced: every repo again"
    plan_stored = pipeline.backends.storage.head(f"jobs/{follow_up_id}/plan.json").last_modified
    assert plan_stored >= datetime.fromisoformat(first.finished_at), "it planned once the first had ended"
    assert len(github.requests_to(rf"^/users/{user}/repos$")) == 2, "two jobs, not six"
    assert len(github.requests_to(rf"^/repos/{user}/[^/]+/languages$")) == 40


def test_a_forced_refresh_while_the_follow_up_runs_queues_after_it(
    github: FakeGitHub, pipeline: Pipeline, user: str
) -> None:
    github.latency = 0.02
    jobs = pipeline.backends.jobs
    first = pipeline.submit_refresh(user, force=True)
    second = pipeline.submit_refresh(user, force=True)
    wait_for_job(jobs, first.job_id)
    # the follow-up becomes the running job once it plans; a forced refresh then queues after it
    wait_until(lambda: jobs.get(second.job_id).status != JobStatus.PENDING, 30, lambda: "the follow-up never planned")
    third = pipeline.submit_refresh(user, force=True)
    assert third.job_id not in (first.job_id, second.job_id)
    assert jobs.get(third.job_id).extra[AFTER] == second.job_id
    assert wait_for_job(jobs, third.job_id).status == JobStatus.COMPLETED


def test_a_follow_up_of_a_failed_job_still_runs(github: FakeGitHub, pipeline: Pipeline, user: str) -> None:
    github.latency = 0.02
    jobs = pipeline.backends.jobs
    first = pipeline.submit_refresh(user, force=True)
    second = pipeline.submit_refresh(user, force=True)
    jobs.fail(first.job_id, "failed for the test")
    assert wait_for_job(jobs, second.job_id).status == JobStatus.COMPLETED
