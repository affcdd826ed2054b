"""The GitHub budget in a real redis-server: permits and the quota shared between processes' budgets,
leases that outlive a killed holder only briefly, and work that goes on while Redis does not answer."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from services.core.settings import Settings
from services.core.sources import RateLimited
from services.core.sources.budget import LocalBudget
from services.queue.github_budget import RedisBudget, make_budget
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
