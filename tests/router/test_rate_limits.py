"""Refresh rate limits: token buckets per client and per user; 429 with Retry-After, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.rate_limits import RefreshLimits, RefreshRateLimited, TokenBuckets
from services.core.rates import Rate
from tests.router.conftest import make_stack
from tests.support.clocks import ManualClock


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(Rate.parse("3/min"), clock)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    assert buckets.take("a") == pytest.approx(20.0), "one token comes back every 20 s"
    assert buckets.take("b") is None, "another key has its own bucket"
    clock.now = 20
    assert buckets.take("a") is None and buckets.take("a") == pytest.approx(20.0)


def test_buckets_are_bounded_least_recently_used_first() -> None:
    buckets = TokenBuckets(Rate.parse("1/h"), ManualClock(), max_keys=2)
    buckets.take("a"), buckets.take("b"), buckets.take("c")
    assert buckets.take("a") is None, "a was dropped and starts full again"


def test_rates_parse_and_zero_is_off() -> None:
    assert Rate.parse("0") is None and Rate.parse("10/s").per_seconds == 1 and Rate.parse("2/h").tokens == 2
    for bad in ("ten/min", "5/day", "-1/s"):
        with pytest.raises(ValueError):
            Rate.parse(bad)


def test_per_user_limit_names_itself_and_a_client_limit_holds_across_users() -> None:
    limits = RefreshLimits(Rate.parse("3/min"), Rate.parse("1/min"), ManualClock())
    limits.check("10.0.0.1", "alice")
    with pytest.raises(RefreshRateLimited) as caught:
        limits.check("10.0.0.1", "alice")
    assert caught.value.limit == "per-user" and caught.value.retry_after == 60
    limits.check("10.0.0.1", "bob")
    with pytest.raises(RefreshRateLimited) as caught:
        limits.check("10.0.0.1", "carol")
    assert caught.value.limit == "per-client"


def test_the_router_answers_429_with_retry_after_and_starts_nothing(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, CLOUDFOLIO_REFRESH_LIMIT_PER_USER="2/min",
                            CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT="0"):
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        answers = [stack.client.post("/bundles/octocat/refresh", json={"force": True}) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        refused = answers[-1]
        assert refused.json()["limit"] == "per-user" and refused.headers["retry-after"] == "30"
        assert refused.json()["retry_after_seconds"] == 30 and "too many refreshes" in refused.json()["error"]
        jobs = [i for i in stack.context.pipeline.backends.storage.list("jobs/") if i.key.endswith("/job.json")]
        assert len(jobs) == 2, "the refused refresh started nothing"
        legacy = stack.client.post("/api/orchestrator_start", json={"username": "octocat"})
        assert legacy.status_code == 429, "the legacy start route counts too"
        assert stack.client.post("/bundles/yungryce/refresh").status_code in (200, 202), "per user"
        assert 'router_rate_limited_total{limit="per-user"} 2.0' in stack.client.get("/metrics").text


def test_behind_a_proxy_the_configured_header_names_the_client(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT="1/min",
                            CLOUDFOLIO_REFRESH_LIMIT_PER_USER="0", CLOUDFOLIO_CLIENT_IP_HEADER="X-Forwarded-For"):
        first = stack.client.post("/bundles/octocat/refresh", headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
        other = stack.client.post("/bundles/octocat/refresh", headers={"X-Forwarded-For": "198.51.100.2"})
        again = stack.client.post("/bundles/octocat/refresh", headers={"X-Forwarded-For": "203.0.113.7"})
        assert (first.status_code != 429, other.status_code != 429, again.status_code) == (True, True, 429)
