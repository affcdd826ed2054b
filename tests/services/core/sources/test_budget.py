"""The GitHub request budget's rule, in-process: permits, the spent quota, pacing, the wait bound."""

from __future__ import annotations

import threading
import time

import pytest

from cloudfolio.devserver.github import FakeGitHub
from services.core.sources import RateLimited
from services.core.sources.budget import LocalBudget, Pace, Quota, pacing
from services.core.sources.github import GitHubSource
from tests.support.clocks import ManualClock

NOW = 1_800_000_000.0


def budget_on(clock: ManualClock, **options: float) -> LocalBudget:
    def sleep(seconds: float) -> None:
        clock.now += seconds

    return LocalBudget(clock=clock, sleep=sleep, **options)


def test_no_pacing_while_plenty_remains_or_nothing_is_known() -> None:
    assert pacing(None, NOW, 0.2) is None
    assert pacing(Quota(4000, 5000, NOW + 1800), NOW, 0.2) is None
    assert pacing(Quota(10, 5000, NOW - 1), NOW, 0.2) is None  # the window is over: the next answer tells


def test_pacing_spreads_what_remains_over_the_time_to_the_reset() -> None:
    assert pacing(Quota(900, 5000, NOW + 900), NOW, 0.2) == Pace(10, 10_000)  # 1 per second
    assert pacing(Quota(30, 5000, NOW + 3000), NOW, 0.2) == Pace(1, 100_000)  # 1 per 100 s
    assert pacing(Quota(900, 5000, NOW + 900), NOW, 0) is None  # 0 never paces


def test_permits_bound_the_requests_in_flight_over_threads() -> None:
    budget = LocalBudget(concurrency=3, wait=5)
    peak, lock, in_flight = [0], threading.Lock(), [0]

    def request() -> None:
        with budget.permit():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 3 and budget.in_flight == 0


def test_no_permit_within_the_wait_is_a_short_budget_retry_and_the_permit_is_not_lost() -> None:
    clock = ManualClock(NOW)
    budget = budget_on(clock, concurrency=1, wait=2)
    with budget.permit(), pytest.raises(RateLimited) as caught, budget.permit():
        pass
    assert caught.value.kind == "budget" and 0 < caught.value.retry_after_seconds <= 3
    assert clock.now >= NOW + 2  # it waited the whole bound first
    with budget.permit():
        assert budget.in_flight == 1


def test_a_spent_quota_is_refused_without_a_request_until_the_reset() -> None:
    clock = ManualClock(NOW)
    budget = budget_on(clock, wait=10)
    budget.observe("0", str(int(NOW + 600)), "5000")
    with pytest.raises(RateLimited) as caught, budget.permit():
        pass
    assert caught.value.kind == "primary"
    assert caught.value.reset_at.timestamp() == NOW + 601


def test_a_reset_within_the_wait_is_slept_through() -> None:
    clock = ManualClock(NOW)
    budget = budget_on(clock, wait=10)
    budget.observe("0", str(int(NOW + 4)), "5000")
    with budget.permit():
        assert clock.now == NOW + 5


def test_a_later_window_or_a_lower_count_replaces_the_reading_and_nothing_else_does() -> None:
    budget = LocalBudget()
    budget.observe("100", str(int(NOW)), "5000")
    budget.observe("120", str(int(NOW)), "5000")  # an older answer arriving late
    assert budget.quota() == Quota(100, 5000, NOW)
    budget.observe("4999", str(int(NOW + 3600)), "5000")
    assert budget.quota() == Quota(4999, 5000, NOW + 3600)
    budget.observe("garbage", None)
    assert budget.quota() == Quota(4999, 5000, NOW + 3600)


def test_paced_requests_take_one_token_each_per_window() -> None:
    clock = ManualClock(NOW)
    budget = budget_on(clock, wait=30, pace_below=0.5)
    budget.observe("20", str(int(NOW + 100)), "100")  # 0.2 per second: 2 per 10-second window
    starts = []
    for _ in range(5):
        with budget.permit():
            starts.append(clock.now)
    windows = [int(start * 1000) // 10_000 for start in starts]
    assert [windows.count(w) for w in sorted(set(windows))] == [2, 2, 1]


def test_the_github_source_sends_every_request_under_a_permit_and_records_the_quota(github: FakeGitHub) -> None:
    github.rate_limit_remaining = 4321
    budget = LocalBudget(concurrency=2)
    source = GitHubSource(github.base_url, budget=budget, max_concurrency=8)
    try:
        github.add_generated_user("budgeted", 6)
        for repo in source.list_repos("budgeted"):
            source.fetch_documents("budgeted", repo)
    finally:
        source.close()
    assert github.peak_in_flight <= 2
    assert budget.quota() is not None and budget.quota().remaining == 4321
