"""Chaos: a worker killed at each hand-off point loses no job.

A worker process started with ``CLOUDFOLIO_TEST_CRASH_AT`` stops at the named point (after
the plan is stored and before the fan-out, after the merge claim and before the send, in the middle
of the merge, after the job completed and before training is handed off), the test SIGKILLs it there,
and a second worker must finish the job with the fingerprint a clean run gives. The router is
killed the same way between storing a new job and sending its plan: the workers' sweeper sends it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, WorkerProcess, delete_queues, stop_all
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_for_job, wait_until
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.job_listing import job_ids
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


def clean_fingerprint(github: FakeGitHub, user: str) -> str:
    return bundle_fingerprint(metadata_fingerprint(r.meta) for r in github.users[user].values())


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
        clean = clean_fingerprint(github, user)
        assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == [], done
        assert done.bundle_fingerprint == clean == pipeline.backends.cache("live").bundle_fingerprint(user)
        if point == "after_job_completed":  # the redelivered merge hands training off after all
            wait_until(lambda: messages_in(rabbitmq_url, queue_env.queue_names[2]) >= 1, 30,
                       lambda: "the redelivered merge sent no training request")
    finally:
        stop_all(workers)
        pipeline.close()


def test_a_router_killed_between_creating_a_job_and_sending_its_plan_loses_nothing(
        github: FakeGitHub, queue_env: QueueEnv, rabbitmq_url: str, user: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    routing = {"QUEUE_TRAFFIC_PCT": "100"}
    crashing = QueueEnv(queue_env.data_dir, queue_env.github_url, broker_url=rabbitmq_url, prefix=queue_env.prefix,
                        extra={**queue_env.extra, **routing,
                               "CLOUDFOLIO_TEST_CRASH_AT": f"after_job_created:{markers}"})
    # the surviving workers sweep every second and call a pending job stalled after 2 s
    sweeping = QueueEnv(queue_env.data_dir, queue_env.github_url, broker_url=rabbitmq_url, prefix=queue_env.prefix,
                        extra={**queue_env.extra, **routing, "CLOUDFOLIO_JOB_STALL_SECONDS": "2",
                               "CLOUDFOLIO_SWEEP_INTERVAL": "1"})
    pipeline = build_pipeline(Settings.from_env(queue_env.env()))
    started: list[ServiceProcess | WorkerProcess] = []
    try:
        router = ServiceProcess(crashing, "serve", port=free_port(), ready_path="/health")
        started.append(router)
        # the request never gets its answer: the router dies while it waits on the plan send
        request = threading.Thread(target=lambda: _refresh_swallowing_the_disconnect(router.url, user), daemon=True)
        request.start()
        wait_until(lambda: (markers / "after_job_created").exists(), 30,
                   lambda: f"the router never reached the crash point:\n{router.log_text()}")
        router.kill()
        request.join(timeout=10)
        jobs = pipeline.backends.jobs
        pending = [jobs.get(job_id) for job_id in job_ids(jobs.storage)]
        assert [(job.username, job.status) for job in pending] == [(user, JobStatus.PENDING)]
        assert messages_in(rabbitmq_url, queue_env.queue_names[3]) == 0  # the plan really was never sent
        started.append(WorkerProcess(sweeping, "all", threads=4))
        done = wait_for_job(pipeline.backends.jobs, pending[0].job_id, timeout=120)
        assert done.status == JobStatus.COMPLETED and done.repos_count == 20 and done.failed_repos == [], done
        assert done.bundle_fingerprint == clean_fingerprint(github, user)
        assert done.extra.get("plan_resends") == 1
        # a restarted router answers the job as completed
        started.append(ServiceProcess(queue_env, "serve", port=free_port(), ready_path="/health"))
        status = httpx.get(f"{started[-1].url}/bundles/{user}/status", params={"job_id": done.job_id}, timeout=10)
        assert status.status_code == 200 and status.json()["status"] == "completed", status.text
    finally:
        stop_all(started)
        pipeline.close()


def _refresh_swallowing_the_disconnect(router: str, user: str) -> None:
    with contextlib.suppress(httpx.TransportError):  # expected: the router is killed mid-request
        httpx.post(f"{router}/bundles/{user}/refresh", json={"force": True}, timeout=60)
