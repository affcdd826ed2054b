"""Chaos: a worker killed at each hand-off point loses no job.

A worker process started with ``CLOUDFOLIO_TEST_CRASH_AT`` stops at the named point (after
the plan is stored and before the fan-out, after the merge claim and before the send, in the middle
of the merge, after the job completed and before training is handed off), the test SIGKILLs it there,
and a second worker must finish the job with the fingerprint a clean run gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, WorkerProcess, delete_queues
from cloudfolio.devserver.waiting import wait_for_job, wait_until
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.queue.pipeline import build_pipeline

pytestmark = pytest.mark.integration

POINTS = ["after_plan_stored", "after_merge_claim", "mid_merge", "after_job_completed"]


def messages_in(url: str, queue: str) -> int:
    """Messages ready in ``queue``; 0 while nobody has sent to it (Dramatiq declares a queue on its first send)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet
        return 0
    finally:
        connection.close()


@pytest.fixture
def queue_env(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path) -> Iterator[QueueEnv]:
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url,
                   extra={"CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_JOB_STALL_SECONDS": "3600"})
    yield env
    delete_queues(rabbitmq_url, env.queue_names)


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_a_hand_off_point_loses_nothing(point: str, github: FakeGitHub, queue_env: QueueEnv,
                                                            rabbitmq_url: str, user: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    crashing = QueueEnv(queue_env.data_dir, queue_env.github_url, broker_url=rabbitmq_url, prefix=queue_env.prefix,
                        extra={**queue_env.extra, "CLOUDFOLIO_TEST_CRASH_AT": f"{point}:{markers}"})
    pipeline = build_pipeline(Settings.from_env(queue_env.env()))
    workers: list[WorkerProcess] = []
    try:
        job = pipeline.submit_refresh(user, force=True)
        doomed = WorkerProcess(crashing, "all", threads=4)
        workers.append(doomed)
        wait_until(lambda: (markers / point).exists(), 60, lambda: f"{point} never reached:\n{doomed.log_text()}")
        doomed.kill()
        assert not pipeline.backends.jobs.get(job.job_id).terminal or point == "after_job_completed"
        workers.append(WorkerProcess(queue_env, "all", threads=4))
        done = wait_for_job(pipeline.backends.jobs, job.job_id, timeout=120)
        clean = bundle_fingerprint(metadata_fingerprint(r.meta) for r in github.users[user].values())
        assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == [], done
        assert done.bundle_fingerprint == clean == pipeline.backends.cache("live").bundle_fingerprint(user)
        if point == "after_job_completed":  # the redelivered merge hands training off after all
            wait_until(lambda: messages_in(rabbitmq_url, queue_env.queue_names[2]) >= 1, 30,
                       lambda: "the redelivered merge sent no training request")
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.stop()
        pipeline.close()
