"""The queue pipeline in embedded mode: StubBroker and worker threads inside the test process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv
from cloudfolio.devserver.waiting import wait_for_job
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.jobs import JobStatus
from services.core.keys import CacheKeys, Namespace
from services.core.settings import Settings
from services.queue.pipeline import Pipeline, build_pipeline
from services.queue.workers import InProcessWorkers


@pytest.fixture
def pipeline(github: FakeGitHub, tmp_path: Path) -> Iterator[Pipeline]:
    queue_env = QueueEnv(tmp_path, github.base_url)
    pipeline = build_pipeline(Settings.from_env(queue_env.env()))
    with InProcessWorkers(pipeline, threads=4):
        yield pipeline
    pipeline.close()


def expected_fingerprint(github: FakeGitHub, username: str) -> str:
    return bundle_fingerprint(metadata_fingerprint(repo.meta) for repo in github.users[username].values())


def test_embedded_refresh_of_20_repos(github: FakeGitHub, pipeline: Pipeline, user: str) -> None:
    seen: list[int] = []
    job = pipeline.submit_refresh(user)
    done = wait_for_job(pipeline.backends.jobs, job.job_id,
                        on_poll=lambda j: seen.append(pipeline.backends.jobs.progress(j.job_id).done))
    assert done.status == JobStatus.COMPLETED and done.total == 20 and done.repos_count == 20
    assert done.bundle_fingerprint == expected_fingerprint(github, user)
    assert seen[0] == 0 and seen[-1] == 20 and seen == sorted(seen)
    bundle = pipeline.backends.cache(Namespace.LIVE).load_bundle(user)
    assert bundle is not None and bundle.fingerprint == done.bundle_fingerprint


def test_stale_detection_syncs_nothing_then_exactly_the_pushed_repo(
    github: FakeGitHub, pipeline: Pipeline, user: str
) -> None:
    jobs = pipeline.backends.jobs
    first = wait_for_job(jobs, pipeline.submit_refresh(user).job_id)
    second = wait_for_job(jobs, pipeline.submit_refresh(user).job_id)
    assert (second.status, second.total, second.bundle_fingerprint) == ("completed", 0, first.bundle_fingerprint)
    github.touch(user, "repo-0007", "2026-02-02T00:00:00Z")
    third = wait_for_job(jobs, pipeline.submit_refresh(user).job_id)
    assert third.total == 1
    assert third.bundle_fingerprint == expected_fingerprint(github, user) != first.bundle_fingerprint
    forced = wait_for_job(jobs, pipeline.submit_refresh(user, force=True).job_id)
    assert forced.total == 20 and forced.bundle_fingerprint == third.bundle_fingerprint


def test_shadow_mode_never_touches_the_live_namespace(github: FakeGitHub, pipeline: Pipeline, user: str) -> None:
    job = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh(user, mode="shadow").job_id)
    assert job.status == JobStatus.COMPLETED and job.mode == "shadow"
    storage = pipeline.backends.storage
    assert not storage.exists(CacheKeys(Namespace.LIVE).bundle(user))
    assert list(storage.list(CacheKeys(Namespace.LIVE).records_prefix(user))) == []
    assert storage.exists(CacheKeys(Namespace.SHADOW).bundle(user))


def test_a_repo_that_always_fails_is_listed_and_the_rest_merge(
    github: FakeGitHub, pipeline: Pipeline, user: str
) -> None:
    github.inject(rf"/repos/{user}/repo-0003/", "status", status=500, times=None)
    job = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh(user).job_id, timeout=90)
    assert job.status == JobStatus.COMPLETED and job.repos_count == 19
    assert [f["repo"] for f in job.failed_repos] == ["repo-0003"]
    assert "SourceUnavailable" in job.failed_repos[0]["error"]
    # 1 try + 3 retries, each making 1 + CLOUDFOLIO_GITHUB_MAX_RETRIES(1) HTTP attempts on the first path
    assert len(github.requests_to(rf"/repos/{user}/repo-0003/contents/.repo-context.json")) == 8


def test_a_user_that_does_not_exist_fails_the_job_at_once(pipeline: Pipeline) -> None:
    job = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("no-such-user-x").job_id)
    assert job.status == "failed" and "UserNotFound" in job.reasons[0]


def test_training_is_handed_off_to_the_training_queue(github: FakeGitHub, pipeline: Pipeline, user: str) -> None:
    wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh(user).job_id)
    training = pipeline.broker.queues[pipeline.queues["train"]]
    message = training.get(timeout=1)
    assert message is not None, "a train_model message waits in the training queue"
    assert b'"actor_name":"train_model"' in message
