"""The queue pipeline over real RabbitMQ with real ``cloudfolio worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, WorkerProcess, delete_queues, stop_all
from cloudfolio.devserver.waiting import wait_for_job, wait_until
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.jobs import Job, JobStatus
from services.core.plans import load_plan
from services.core.settings import Settings
from services.queue.pipeline import Pipeline, build_pipeline
from tests.support.services import unavailable

pytestmark = pytest.mark.integration


@pytest.fixture
def queue_env(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path) -> Iterator[QueueEnv]:
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url)
    yield env
    delete_queues(rabbitmq_url, env.queue_names)


@pytest.fixture
def pipeline(queue_env: QueueEnv) -> Iterator[Pipeline]:
    pipeline = build_pipeline(Settings.from_env(queue_env.env()))
    yield pipeline
    pipeline.close()


@pytest.fixture
def workers(queue_env: QueueEnv) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    stop_all(started)


def expected_fingerprint(github: FakeGitHub, username: str) -> str:
    return bundle_fingerprint(metadata_fingerprint(repo.meta) for repo in github.users[username].values())


def cli(queue_env: QueueEnv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cloudfolio", *args], env=queue_env.process_env(),
                          capture_output=True, text=True, timeout=60)


def test_worker_process_completes_a_20_repo_job(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    seen = [jobs.progress(job.job_id).done]  # before any worker runs
    started = time.monotonic()
    workers.append(WorkerProcess(queue_env, "all", threads=8))
    done = wait_for_job(jobs, job.job_id, on_poll=lambda j: seen.append(jobs.progress(j.job_id).done))
    elapsed = time.monotonic() - started
    print(f"\n20-repo job over RabbitMQ: {elapsed:.2f}s from worker start to completed")
    assert done.status == JobStatus.COMPLETED and done.total == 20 and done.repos_count == 20, done
    assert done.bundle_fingerprint == expected_fingerprint(github, user)
    assert seen[0] == 0 and seen[-1] == 20 and seen == sorted(seen)
    assert workers[0].metric("messages_processed_total", actor="merge_bundle", outcome="ok") == 1
    assert workers[0].metric("dramatiq_messages_total", queue_name=queue_env.queue_names[0],
                             actor_name="sync_repo") == 20


def test_kill_9_mid_job_loses_nothing(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    # Given a slow GitHub and a worker holding messages, when it is killed with SIGKILL mid-job and
    # another worker starts, then the job still completes with all 20 repos and the right fingerprint.
    github.inject(rf"/repos/{user}/", "latency", seconds=0.4, times=None)
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    first = WorkerProcess(queue_env, "all", threads=2)
    workers.append(first)
    wait_until(lambda: jobs.progress(job.job_id).done >= 3, 60, first.log_text)
    first.kill()
    killed_at = jobs.progress(job.job_id).done
    assert killed_at < 20, "the worker was killed mid-job"
    workers.append(WorkerProcess(queue_env, "all", threads=8))
    done = wait_for_job(jobs, job.job_id, timeout=90)
    assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == []
    assert done.bundle_fingerprint == expected_fingerprint(github, user)
    assert jobs.progress(job.job_id).completed == 20


def test_duplicate_sync_messages_count_once_and_merge_once(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    worker = WorkerProcess(queue_env, "sync", threads=4)  # sync only: plan runs, merge waits in its queue
    workers.append(worker)
    plan = wait_until(lambda: load_plan(pipeline.backends.storage, job.job_id), 30, worker.log_text)
    for repo in plan.stale:  # deliver every sync_repo message a second time
        pipeline.send(pipeline.actors.sync_repo.message(job.job_id, user, repo, "live"))
    wait_until(lambda: worker.metric("messages_processed_total", actor="sync_repo", outcome="ok") >= 40, 60,
               worker.log_text)
    merger = WorkerProcess(queue_env, "merge", threads=2)
    workers.append(merger)
    done = wait_for_job(jobs, job.job_id)
    assert done.status == JobStatus.COMPLETED and done.repos_count == 20
    progress = jobs.progress(job.job_id)
    assert (progress.completed, progress.failed) == (20, 0)
    # merges are sent only by the winner of a claim: one claim means one merge was ever sent
    claims = [i.key for i in pipeline.backends.storage.list(f"jobs/{job.job_id}/merge-claim")]
    assert claims == [f"jobs/{job.job_id}/merge-claim-0"]
    assert merger.metric("messages_processed_total", actor="merge_bundle", outcome="ok") == 1


def test_a_failing_repo_is_dead_lettered_listed_and_replayed(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    fault = github.inject(rf"/repos/{user}/repo-0011/", "status", status=502, times=None)
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    workers.append(WorkerProcess(queue_env, "all", threads=4))
    done = wait_for_job(jobs, job.job_id, timeout=90)
    assert done.status == JobStatus.COMPLETED and done.repos_count == 19
    assert [f["repo"] for f in done.failed_repos] == ["repo-0011"]

    sync_queue = queue_env.queue_names[0]
    listing = cli(queue_env, "queues")
    assert listing.returncode == 0, listing.stderr
    xq_line = next(line for line in listing.stdout.splitlines() if line.startswith(f"{sync_queue}.XQ "))
    assert xq_line.split()[1] == "1", listing.stdout

    github.faults.remove(fault)  # GitHub recovered
    replay = cli(queue_env, "dlq", "replay", sync_queue)
    assert replay.returncode == 0 and "replayed 1 message" in replay.stdout, replay.stderr

    def repaired() -> Job | None:
        current = jobs.get(job.job_id)
        return None if current.failed_repos else current

    current = wait_until(repaired, 60, workers[0].log_text)
    assert current.status == JobStatus.COMPLETED and current.repos_count == 20
    assert current.bundle_fingerprint == expected_fingerprint(github, user)


def test_worker_health_and_graceful_stop(queue_env: QueueEnv, workers: list[WorkerProcess]) -> None:
    worker = WorkerProcess(queue_env, "all", threads=2)
    health = httpx.get(f"{worker.health_url}/health", timeout=5).json()
    assert health["status"] == "healthy" and health["broker"] == "connected"
    assert health["in_flight"] == 0 and health["last_message_at"] is None, "an idle worker is healthy"
    assert worker.stop() == 0, "stopped by SIGTERM on its own (a kill would exit -9)"
    assert "worker stopped" in worker.log_text()


def test_worker_without_broker_url_explains_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    result = subprocess.run([sys.executable, "-m", "cloudfolio", "worker"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2 and "CLOUDFOLIO_BROKER_URL" in result.stderr


def test_sigterm_lets_a_running_message_finish(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    github.inject(rf"/repos/{user}/", "latency", seconds=0.3, times=None)
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    worker = WorkerProcess(queue_env, "all", threads=2)
    wait_until(lambda: jobs.progress(job.job_id).done >= 1)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0
    worker.stop()
    # nothing acked unfinished: another worker completes every repo
    workers.append(WorkerProcess(queue_env, "all", threads=8))
    done = wait_for_job(jobs, job.job_id, timeout=90)
    assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == []


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


def test_a_broker_restart_mid_job_is_survived(
    github: FakeGitHub, queue_env: QueueEnv, pipeline: Pipeline, user: str, workers: list[WorkerProcess]
) -> None:
    # Given a running job, when RabbitMQ's app is stopped and started again, then the worker
    # reconnects and the job completes with every repo (the technique of Dramatiq's own tests).
    if os.geteuid() != 0:
        unavailable("rabbitmqctl needs root here")
    github.inject(rf"/repos/{user}/", "latency", seconds=0.2, times=None)
    jobs = pipeline.backends.jobs
    job = pipeline.submit_refresh(user)
    workers.append(WorkerProcess(queue_env, "all", threads=2))
    wait_until(lambda: jobs.progress(job.job_id).done >= 2)
    _rabbitmqctl("stop_app")
    try:
        time.sleep(2)
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
    done = wait_for_job(jobs, job.job_id, timeout=120)
    assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == [], done
    assert done.bundle_fingerprint == expected_fingerprint(github, user)
