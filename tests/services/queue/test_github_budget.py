"""The GitHub budget in a real redis-server: permits and the quota shared between processes' budgets,
leases that outlive a killed holder only briefly, and work that goes on while Redis does not answer."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest
import redis

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, WorkerProcess, delete_queues, stop_all
from cloudfolio.devserver.waiting import wait_for_job
from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.core.sources import RateLimited
from services.core.sources.budget import LocalBudget
from services.queue.github_budget import RedisBudget, make_budget
from services.queue.pipeline import build_pipeline
from tests.support.services import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_service: RedisServer) -> redis.Redis:
    connection = redis.Redis.from_url(redis_service.url, socket_timeout=1, socket_connect_timeout=1)
    connection.flushdb()
    return connection


def budget(client: redis.Redis, **options: float) -> RedisBudget:
    return RedisBudget(client, token="ghp_test", **{"concurrency": 2, "wait": 0.3, **options})


def test_two_budgets_on_one_redis_share_the_permits(client: redis.Redis) -> None:
    one, other = budget(client), budget(client)
    with one.permit(), other.permit():
        assert one.in_flight() == 2
        with pytest.raises(RateLimited) as caught, other.permit():
            pass
        assert caught.value.kind == "budget"
    assert one.in_flight() == 0
    with other.permit():
        assert one.in_flight() == 1


def test_a_holder_that_never_gives_its_permit_back_loses_it_when_the_lease_ends(client: redis.Redis) -> None:
    one = budget(client, concurrency=1, lease=0.5, wait=3)
    dead_holder = one._take_slot()  # taken and never given back: a worker killed mid-request
    assert dead_holder is not None and one._take_slot() is None
    with one.permit():  # waits for the lease to end, well inside the wait bound
        assert one.in_flight() == 1


def test_a_spent_quota_seen_by_one_process_stops_the_others_before_they_send(client: redis.Redis) -> None:
    one, other = budget(client), budget(client)
    other.quota()  # read once before: the reading is refreshed after a second
    reset = int(other.clock()) + 3600
    one.observe("0", str(reset), "5000")
    other._quota = (float("-inf"), None)  # as if its last reading were a second old
    with pytest.raises(RateLimited) as caught, other.permit():
        pass
    assert caught.value.kind == "primary" and caught.value.reset_at.timestamp() == reset + 1
    keys = [key.decode() for key in client.keys("*")]
    assert keys and all("ghp_test" not in key for key in keys)  # the token never goes into Redis


def test_the_quota_is_written_once_a_second_while_plenty_is_left_and_on_every_answer_below(
        client: redis.Redis) -> None:
    clock = [1000.0]
    one = budget(client, clock=lambda: clock[0])
    reset = str(int(time.time()) + 3600)
    one.observe("4000", reset, "5000")
    one.observe("3999", reset, "5000")  # within the second, plenty left: not written
    assert client.hget(f"{one.prefix}:quota", "remaining") == b"4000"
    one.observe("900", reset, "5000")  # below 20 %: every answer is written, pacing reads it
    assert client.hget(f"{one.prefix}:quota", "remaining") == b"900"
    clock[0] += 1.5
    one.observe("899", reset, "5000")
    assert client.hget(f"{one.prefix}:quota", "remaining") == b"899"


def test_keys_are_per_token(client: redis.Redis) -> None:
    mine, theirs = budget(client, concurrency=1), RedisBudget(client, token="ghp_other", concurrency=1, wait=0.3)
    with mine.permit(), theirs.permit():
        assert mine.in_flight() == 1 and theirs.in_flight() == 1


def test_while_redis_does_not_answer_permits_are_per_process(redis_service: RedisServer,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    slow = redis.Redis.from_url(redis_service.url, socket_timeout=0.2, socket_connect_timeout=0.2)
    one = RedisBudget(slow, token="ghp_test", concurrency=1, wait=0.5)
    redis_service.pause()
    started = time.monotonic()
    try:
        # the first permit comes from the process's own budget, whose limit still holds for the second
        with caplog.at_level(logging.WARNING, "cloudfolio.github.budget"), one.permit(), \
                pytest.raises(RateLimited) as caught, one.permit():
            pass
    finally:
        redis_service.resume()
    assert caught.value.kind == "budget" and time.monotonic() - started < 10
    assert "Redis did not answer" in caplog.text and redis_service.url not in caplog.text
    with one.permit():  # Redis is back
        assert one.in_flight() == 1


def test_make_budget_picks_redis_only_when_configured(redis_service: RedisServer) -> None:
    assert isinstance(make_budget(Settings.from_env({})), LocalBudget)
    shared = make_budget(Settings.from_env({"CLOUDFOLIO_REDIS_URL": redis_service.url,
                                            "CLOUDFOLIO_GITHUB_BUDGET_CONCURRENCY": "7"}))
    assert isinstance(shared, RedisBudget) and shared.concurrency == 7
    shared.close()


@pytest.mark.slow
def test_four_worker_processes_stay_inside_one_budget_and_finish_every_job(
        github: FakeGitHub, rabbitmq_url: str, redis_service: RedisServer, tmp_path: Path) -> None:
    """4 processes × 8 threads (each able to send 32 requests at once) against a GitHub that allows 20
    concurrent requests and 150 per 10-second window: 16 shared permits keep them under both."""
    users = [f"b{uuid.uuid4().hex[:8]}" for _ in range(4)]
    for username in users:
        github.add_generated_user(username, 10)
    github.latency = 0.05
    github.secondary_limit = 20
    github.set_budget(150, 10)
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url,
                   extra={"CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_JOB_STALL_SECONDS": "3600",
                          "CLOUDFOLIO_REDIS_URL": redis_service.url, "CLOUDFOLIO_GITHUB_BUDGET_CONCURRENCY": "16",
                          "CLOUDFOLIO_GITHUB_MAX_CONCURRENCY": "32"})
    pipeline = build_pipeline(Settings.from_env(env.env()))
    workers: list[WorkerProcess] = []
    try:
        workers.extend(WorkerProcess(env, "sync", "merge", threads=8) for _ in range(4))
        jobs = [pipeline.submit_refresh(username, force=True) for username in users]
        done = [wait_for_job(pipeline.backends.jobs, job.job_id, timeout=120) for job in jobs]
    finally:
        stop_all(workers)
        pipeline.close()
        delete_queues(rabbitmq_url, env.queue_names)
    assert [(job.status, job.repos_count, job.failed_repos) for job in done] == [(JobStatus.COMPLETED, 10, [])] * 4
    assert github.secondary_limited == 0, "a secondary-limit answer: the permits were not shared"
    assert github.peak_in_flight <= 16, f"peak {github.peak_in_flight} in flight, over the 16 permits"
    requests = len(github.requests_to(r"^/(users|repos)/"))
    assert requests > 150, f"{requests} requests fit in one window: the budget was never tested"
