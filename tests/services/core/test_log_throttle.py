"""Throttled warnings: the first line of a key goes out, repeats within the interval are folded into
the next line's count, keys are independent, and memory stays bounded."""

from __future__ import annotations

import logging

import pytest

from services.core import log_throttle
from services.core.log_throttle import LogThrottle
from tests.support.clocks import ManualClock

LOGGER = logging.getLogger("cloudfolio.test.throttle")


def test_a_key_logs_once_per_interval_and_the_next_line_says_how_many_were_folded(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(100.0)
    throttle = LogThrottle(LOGGER, every=60.0, clock=clock)
    with caplog.at_level(logging.WARNING, LOGGER.name):
        assert throttle.warning("octocat", "%s is over", "octocat") is True
        clock.now += 30
        assert [throttle.warning("octocat", "%s is over", "octocat") for _ in range(3)] == [False] * 3
        clock.now += 31
        assert throttle.warning("octocat", "%s is over", "octocat") is True
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["octocat is over", "octocat is over (and 3 more like it in the last 61 s)"]


def test_keys_are_throttled_apart(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(LOGGER, every=60.0, clock=ManualClock())
    with caplog.at_level(logging.WARNING, LOGGER.name):
        assert throttle.warning(("a", "refreshes_per_day"), "a") and throttle.warning(("b", "refreshes_per_day"), "b")
        assert throttle.warning(("a", "cache_bytes"), "a bytes")
        assert not throttle.warning(("a", "refreshes_per_day"), "a")
    assert [record.getMessage() for record in caplog.records] == ["a", "b", "a bytes"]


def test_nothing_is_counted_while_warnings_are_off(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(LOGGER, clock=ManualClock())
    with caplog.at_level(logging.ERROR, LOGGER.name):
        assert throttle.warning("k", "hidden") is False
    with caplog.at_level(logging.WARNING, LOGGER.name):
        assert throttle.warning("k", "shown") is True
    assert [record.getMessage() for record in caplog.records] == ["shown"]


def test_memory_is_bounded_by_forgetting_the_oldest_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_throttle, "MAX_KEYS", 4)
    clock = ManualClock()
    throttle = LogThrottle(LOGGER, every=1000.0, clock=clock)
    for key in range(4):
        clock.now += 1
        throttle.warning(key, "line")
    clock.now += 1
    throttle.warning("new", "line")
    assert sorted(map(str, throttle._seen)) == ["2", "3", "new"]
    assert throttle.warning(0, "line") is True  # forgotten, so it logs again
