"""The start-up report: the flags in force, and a warning for every seed the store overrides."""

from __future__ import annotations

from rollout.flags import parse_flags
from rollout.seeds import startup_report


def report_for(store: str, raw: dict[str, str] | None, seed: dict[str, str], error: str | None = None):
    return startup_report(store, raw, parse_flags(raw or {})[0], seed, error)


def test_a_seed_that_the_store_overrides_is_named_with_the_command_to_change_it() -> None:
    report = report_for("file", {"QUEUE-TRAFFIC-PCT": "0"}, {"QUEUE-TRAFFIC-PCT": "100"})
    assert report.summary().startswith("flags in force (file store): 0 % of users on the queue path, shadow off")
    [warning] = report.warnings
    assert "QUEUE_TRAFFIC_PCT=100 is set but the file store holds QUEUE-TRAFFIC-PCT=0: the store wins" in warning
    assert "`cloudfolio rollout set 100 --reason ...`" in warning


def test_seeds_that_agree_or_feed_the_env_store_give_no_warning() -> None:
    assert report_for("file", {"QUEUE-TRAFFIC-PCT": "30"}, {"QUEUE-TRAFFIC-PCT": "30"}).warnings == []
    assert report_for("env", {"QUEUE-TRAFFIC-PCT": "30"}, {"QUEUE-TRAFFIC-PCT": "30"}).warnings == []
    unset = report_for("keyvault", {}, {"ENABLE-QUEUE-SHADOW": "true"}).warnings
    assert len(unset) == 1 and "holds ENABLE-QUEUE-SHADOW=(unset)" in unset[0]


def test_invalid_values_and_an_unreachable_store_are_reported() -> None:
    bad = report_for("file", {"QUEUE-TRAFFIC-PCT": "abc", "ROLLOUT-LOCK": "rolled back"}, {})
    assert bad.warnings == ["invalid flag QUEUE-TRAFFIC-PCT: not a number: 'abc'; failing safe"]
    assert "locked (rolled back)" in bad.summary()
    down = report_for("keyvault", None, {"QUEUE-TRAFFIC-PCT": "10"}, error="ServiceRequestError: refused")
    assert "unreachable" in down.summary() and "safe defaults" in down.summary() and down.warnings == []
