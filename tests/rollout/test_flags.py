"""Flags: fail-safe parsing, TTL caching, last good value when the store is unreadable, the stores."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from cloudfolio.devserver.waiting import wait_until
from rollout.flags import parse_flags
from rollout.provider import FlagProvider
from rollout.stores import EnvFlagStore, FileFlagStore, FlagStore, ReadOnlyFlagStore
from services.core.settings import Settings
from tests.support.clocks import ManualClock


def run_inline(work) -> None:
    work()


@pytest.mark.parametrize("raw", ["abc", "150", "-1", "nan", "1e9"])
def test_invalid_percentage_fails_safe_to_zero(raw: str) -> None:
    flags, problems = parse_flags({"QUEUE-TRAFFIC-PCT": raw})
    assert flags.percentage == 0.0 and "QUEUE-TRAFFIC-PCT" in problems and flags.errors


def test_valid_values_parse() -> None:
    flags, problems = parse_flags({"QUEUE-TRAFFIC-PCT": "30", "ENABLE-QUEUE-SHADOW": "true",
                                   "SHADOW-SAMPLE-PCT": "12.5", "ROLLOUT-STICKINESS": "random"})
    assert problems == {} and (flags.percentage, flags.shadow, flags.shadow_sample_pct, flags.stickiness) == (
        30.0, True, 12.5, "random")
    bad, problems = parse_flags({"ENABLE-QUEUE-SHADOW": "maybe", "ROLLOUT-STICKINESS": "wobbly"})
    assert bad.shadow is False and bad.stickiness == "sticky" and len(problems) == 2


def test_invalid_value_raises_the_error_metric(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    store = FileFlagStore(tmp_path / "flags.json", seed={"QUEUE-TRAFFIC-PCT": "150"})
    provider = FlagProvider(store, registry, refresh_in=run_inline)
    assert provider.current().percentage == 0.0
    assert registry.get_sample_value("flag_errors_total", {"flag": "QUEUE-TRAFFIC-PCT"}) == 1


def test_reads_are_cached_for_the_ttl(tmp_path: Path) -> None:
    clock = ManualClock()
    store = FileFlagStore(tmp_path / "flags.json", seed={"QUEUE-TRAFFIC-PCT": "10"})
    provider = FlagProvider(store, CollectorRegistry(), ttl=5, clock=clock, refresh_in=run_inline)
    assert provider.current().percentage == 10
    store.write({"QUEUE-TRAFFIC-PCT": "60"}, actor="t", reason="t")
    clock.now = 4.9
    assert provider.current().percentage == 10, "still cached"
    clock.now = 5.1
    assert provider.current().percentage == 60, "honoured within the TTL"


def test_ttl_has_a_floor() -> None:
    assert FlagProvider(EnvFlagStore({}), CollectorRegistry(), ttl=0.01).ttl == 1.0


class Flaky(FlagStore):
    name = "flaky"

    def __init__(self) -> None:
        self.fail = False

    def read(self) -> dict[str, str]:
        if self.fail:
            raise ConnectionError("vault unreachable")
        return {"QUEUE-TRAFFIC-PCT": "40"}

    def write(self, values, *, actor, reason):
        raise ReadOnlyFlagStore("read-only")


def test_unreachable_store_keeps_the_last_good_value() -> None:
    clock, store, registry = ManualClock(), Flaky(), CollectorRegistry()
    provider = FlagProvider(store, registry, ttl=1, clock=clock, refresh_in=run_inline)
    assert provider.current().percentage == 40
    store.fail, clock.now = True, 2
    assert provider.current().percentage == 40
    assert registry.get_sample_value("flag_store_errors_total") == 1


def test_no_good_read_ever_means_safe_defaults() -> None:
    store = Flaky()
    store.fail = True
    flags = FlagProvider(store, CollectorRegistry()).current()
    assert flags.percentage == 0.0 and flags.shadow is False


def test_file_store_is_seeded_and_keeps_history(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    store = FileFlagStore(path, seed={"QUEUE-TRAFFIC-PCT": "30", "ENABLE-QUEUE-SHADOW": "true"})
    assert store.read() == {"QUEUE-TRAFFIC-PCT": "30", "ENABLE-QUEUE-SHADOW": "true"}
    store.write({"QUEUE-TRAFFIC-PCT": "0"}, actor="runbook", reason="error rate 5%")
    history = json.loads(path.read_text())["history"]
    assert history[-1] == {**history[-1], "name": "QUEUE-TRAFFIC-PCT", "value": "0", "previous": "30",
                           "actor": "runbook", "reason": "error rate 5%"}
    again = FileFlagStore(path, seed={"QUEUE-TRAFFIC-PCT": "99"})
    assert again.read()["QUEUE-TRAFFIC-PCT"] == "0", "an existing file is not re-seeded"


def test_file_store_lists_its_latest_changes_newest_first(tmp_path: Path) -> None:
    store = FileFlagStore(tmp_path / "flags.json")
    assert store.changes() == []
    for percentage in ("10", "25", "50"):
        store.write({"QUEUE-TRAFFIC-PCT": percentage}, actor="ops", reason=f"step to {percentage}")
    latest, before = store.changes(limit=2)
    assert (latest.value, latest.previous, latest.reason, latest.actor) == ("50", "25", "step to 50", "ops")
    assert before.value == "25" and latest.at >= before.at
    assert EnvFlagStore({"QUEUE-TRAFFIC-PCT": "5"}).changes() == [], "the env store has no history"


def test_env_store_is_read_only() -> None:
    store = EnvFlagStore(Settings.from_env({"QUEUE_TRAFFIC_PCT": "25"}).flag_seed)
    assert store.read() == {"QUEUE-TRAFFIC-PCT": "25"}
    with pytest.raises(ReadOnlyFlagStore):
        store.write({"QUEUE-TRAFFIC-PCT": "1"}, actor="a", reason="b")


class Blocking(FlagStore):
    """A store whose reads block until released: a vault that hangs mid-request."""

    name = "blocking"

    def __init__(self) -> None:
        self.value = "40"
        self.gate = threading.Event()
        self.gate.set()
        self.reads = 0

    def read(self) -> dict[str, str]:
        self.reads += 1
        self.gate.wait(30)
        return {"QUEUE-TRAFFIC-PCT": self.value}

    def write(self, values, *, actor, reason):
        raise ReadOnlyFlagStore("read-only")


def test_stale_flags_are_served_at_once_while_one_background_refresh_runs() -> None:
    clock, store = ManualClock(), Blocking()
    provider = FlagProvider(store, CollectorRegistry(), ttl=1, clock=clock)
    assert provider.current().percentage == 40 and store.reads == 1
    store.gate.clear()  # the store hangs from now on
    store.value = "70"
    clock.now = 5
    # many requests while the refresh hangs: none waits, each gets the last good flags, one read runs
    assert [provider.current().percentage for _ in range(50)] == [40] * 50
    assert store.reads == 2
    store.gate.set()
    wait_until(lambda: provider.current().percentage == 70, 5)


def test_a_failed_read_is_remembered_for_the_ttl_and_reported() -> None:
    clock, store, registry = ManualClock(), Flaky(), CollectorRegistry()
    provider = FlagProvider(store, registry, ttl=1, clock=clock, refresh_in=run_inline)
    provider.current()
    assert provider.health() == "ok" and registry.get_sample_value("flag_store_up") == 1
    store.fail, clock.now = True, 2
    assert provider.current().percentage == 40
    assert provider.health().startswith("degraded: store unreachable") and "vault unreachable" in provider.health()
    clock.now = 2.5
    provider.current()
    assert registry.get_sample_value("flag_store_errors_total") == 1, "not retried within the TTL"
    assert registry.get_sample_value("flag_store_up") == 0
    store.fail, clock.now = False, 4
    provider.current()
    assert provider.health() == "ok" and registry.get_sample_value("flag_store_up") == 1


def test_invalid_values_make_the_flags_degraded_with_the_reason(tmp_path: Path) -> None:
    provider = FlagProvider(FileFlagStore(tmp_path / "flags.json", seed={"QUEUE-TRAFFIC-PCT": "abc"}),
                            CollectorRegistry(), refresh_in=run_inline)
    assert provider.current().percentage == 0
    assert provider.health() == "degraded: invalid values failing safe (QUEUE-TRAFFIC-PCT not a number: 'abc')"
