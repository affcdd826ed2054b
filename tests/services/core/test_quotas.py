"""The quota rule: which quota a user is at, until when, and what enforcement off and on do."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from services.core.log_throttle import LogThrottle
from services.core.observations import Observations
from services.core.quotas import Quotas, seconds_to_next_day, seconds_to_next_week
from services.core.settings import Settings
from services.core.usage import Usage
from tests.support.clocks import ManualClock

THURSDAY_NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_defaults_come_from_the_plan_and_enforcement_is_off() -> None:
    quotas = Quotas.from_settings(Settings.from_env({}))
    assert quotas == Quotas(cache_bytes=100 * 2**20, refreshes_per_day=50, trainings_per_week=2, enforce=False)


def test_the_day_and_the_week_end_at_midnight_utc_and_on_monday() -> None:
    assert seconds_to_next_day(THURSDAY_NOON) == 12 * 3600 + 1
    assert seconds_to_next_week(THURSDAY_NOON) == (3 * 24 + 12) * 3600 + 1


def test_a_refresh_at_the_daily_limit_is_over_until_midnight() -> None:
    quotas = Quotas(refreshes_per_day=3)
    assert quotas.check_refresh(Usage("octocat", refreshes=2), THURSDAY_NOON) is None
    over = quotas.check_refresh(Usage("octocat", refreshes=3), THURSDAY_NOON)
    assert over is not None and (over.quota, over.used, over.limit) == ("refreshes_per_day", 3, 3)
    assert over.retry_after == 12 * 3600 + 1
    assert over.body()["quota"] == "refreshes_per_day" and "octocat" in over.body()["error"]


def test_cache_bytes_and_trainings_have_their_own_quotas_and_zero_is_no_limit() -> None:
    quotas = Quotas(cache_bytes=1000, trainings_per_week=1)
    full = Usage("octocat", cache_bytes={"live": 900, "shadow": 100}, trainings=1)
    assert quotas.check_refresh(full, THURSDAY_NOON).quota == "cache_bytes"  # type: ignore[union-attr]
    assert quotas.check_training(full, THURSDAY_NOON).quota == "trainings_per_week"  # type: ignore[union-attr]
    unlimited = Quotas(cache_bytes=0, refreshes_per_day=0, trainings_per_week=0)
    assert unlimited.check_refresh(Usage("octocat", refreshes=10**6, cache_bytes={"live": 10**12}),
                                   THURSDAY_NOON) is None
    assert unlimited.check_training(Usage("octocat", trainings=99), THURSDAY_NOON) is None


def test_states_for_the_gauges() -> None:
    quotas = Quotas(refreshes_per_day=10, trainings_per_week=2, cache_bytes=1000)
    assert quotas.state(Usage("a", refreshes=1), THURSDAY_NOON) == "under"
    assert quotas.state(Usage("a", refreshes=8), THURSDAY_NOON) == "near"
    assert quotas.state(Usage("a", trainings=2), THURSDAY_NOON) == "at"


@pytest.mark.parametrize("enforce", [False, True])
def test_judge_counts_and_logs_always_and_refuses_only_when_enforced(enforce: bool,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    observations = Observations()
    observations.bind(registry)
    quotas = Quotas(refreshes_per_day=1, enforce=enforce)
    over = quotas.check_refresh(Usage("octocat", refreshes=1), THURSDAY_NOON)
    with caplog.at_level(logging.WARNING, "cloudfolio.quotas"):
        refused = quotas.judge(over, "refresh", observations)
    assert (refused is over) is enforce and (refused is None) is not enforce
    action = "refused" if enforce else "counted"
    assert registry.get_sample_value("cloudfolio_quota_exceeded_total",
                                     {"quota": "refreshes_per_day", "action": action}) == 1
    assert "over quota" in caplog.text
    assert quotas.judge(None, "refresh", observations) is None


def test_judge_counts_every_time_but_logs_a_user_over_a_quota_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    observations = Observations()
    observations.bind(registry)
    clock = ManualClock()
    quotas = Quotas(refreshes_per_day=1, warnings=LogThrottle(logging.getLogger("cloudfolio.quotas"), clock=clock))
    over = quotas.check_refresh(Usage("octocat", refreshes=5), THURSDAY_NOON)
    other = quotas.check_refresh(Usage("hubot", refreshes=5), THURSDAY_NOON)
    with caplog.at_level(logging.WARNING, "cloudfolio.quotas"):
        for _ in range(5):
            quotas.judge(over, "refresh", observations)
        quotas.judge(other, "refresh", observations)
        clock.now += 60
        quotas.judge(over, "refresh", observations)
    assert registry.get_sample_value("cloudfolio_quota_exceeded_total",
                                     {"quota": "refreshes_per_day", "action": "counted"}) == 7
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" over quota")[0] for line in lines] == ["refresh of octocat", "refresh of hubot",
                                                               "refresh of octocat"]
    assert lines[-1].endswith("(and 4 more like it in the last 60 s)")
