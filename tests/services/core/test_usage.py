"""Usage per user in storage: concurrent counts lose nothing, periods roll over on the clock, cache
bytes are measured, and a worker's GitHub requests reach the user's usage without a write per request."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cloudfolio.devserver.github import FakeGitHub
from services.core.keys import CacheKeys, Namespace
from services.core.sources.github import GitHubSource
from services.core.storage import StorageBackend
from services.core.usage import Usage, UsageStore, day_of, measure_cache_bytes, usage_key, week_of
from services.core.usage_meter import RequestMeter
from tests.support.clocks import ManualUtcClock
from tests.support.services import azurite

THURSDAY = datetime(2026, 12, 3, 23, 59, tzinfo=UTC)


def test_concurrent_counts_from_many_writers_lose_nothing(storage: StorageBackend) -> None:
    store, other_process = UsageStore(storage), UsageStore(storage)  # two stores compete by compare-and-swap

    def count(store: UsageStore) -> None:
        for _ in range(5):
            store.count_refresh("octocat")

    threads = [threading.Thread(target=count, args=(s,)) for s in (store, other_process) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("octocat").refreshes == 40


def test_a_new_day_starts_at_zero_and_keeps_the_last_seven_days(storage: StorageBackend) -> None:
    clock = ManualUtcClock(THURSDAY)
    store = UsageStore(storage, clock)
    store.count_refresh("octocat")
    store.add_github_requests("octocat", 61)
    clock.advance(120)  # past midnight UTC
    assert store.get("octocat").refreshes == 0, "a read of a new day shows its counters at zero"
    usage = store.count_refresh("octocat")
    assert (usage.day, usage.refreshes, usage.github_requests) == ("2026-12-04", 1, 0)
    assert usage.history == {"2026-12-03": {"refreshes": 1, "github_requests": 61}}
    for _day in range(10):
        clock.advance(86_400)
        store.count_refresh("octocat")
    assert len(store.get("octocat").history) == 7


def test_trainings_count_per_iso_week(storage: StorageBackend) -> None:
    clock = ManualUtcClock(THURSDAY)
    store = UsageStore(storage, clock)
    store.count_training("octocat")
    clock.advance(86_400 * 2)  # Saturday: the same week
    assert store.count_training("octocat").trainings == 2
    clock.now = datetime(2026, 12, 7, 0, 1, tzinfo=UTC)  # Monday
    assert store.get("octocat").trainings == 0 and store.get("octocat").week == "2026-W50"


def test_cache_bytes_are_the_users_blobs_in_the_namespace_only(storage: StorageBackend) -> None:
    keys = CacheKeys(Namespace.LIVE)
    storage.put(keys.bundle("octocat"), b"x" * 100)
    storage.put(keys.record("octocat", "hello"), b"y" * 30)
    storage.put(keys.record("octocatz", "hello"), b"z" * 999)  # another user whose name starts the same
    storage.put(CacheKeys(Namespace.SHADOW).bundle("octocat"), b"s" * 7)
    assert measure_cache_bytes(storage, "octocat", Namespace.LIVE) == 130
    store = UsageStore(storage)
    store.record_cache_bytes("octocat", Namespace.LIVE, 130)
    store.record_cache_bytes("octocat", Namespace.SHADOW, 7)
    assert store.get("octocat").total_cache_bytes == 137
    assert list(store.users()) == ["octocat"]


def test_the_meter_adds_what_the_source_spent_per_user_and_304s_cost_nothing(github: FakeGitHub,
                                                                              local_storage: StorageBackend) -> None:
    github.add_generated_user("metered", 3)
    source = GitHubSource(github.base_url, max_concurrency=4)
    store = UsageStore(local_storage)
    meter = RequestMeter(source, store, interval=3600)
    try:
        for repo in source.list_repos("metered"):
            source.fetch_documents("metered", repo)
        sent = len(github.requests_to(r"^/(users|repos)/metered"))
        writes_before = local_storage.head(usage_key("metered")).etag if local_storage.exists(usage_key("metered")) \
            else None
        assert writes_before is None, "no request wrote usage"
        assert meter.flush() == sent and store.get("metered").github_requests == sent
        github.log.clear()
        for repo in source.list_repos("metered"):  # what exists answers 304 now; what is missing 404 again
            source.fetch_documents("metered", repo)
        charged = [r for r in github.requests_to(r"^/(users|repos)/metered") if r.status != 304]
        assert len(charged) < len(github.requests_to(r"^/(users|repos)/metered")), "some answers were 304"
        assert meter.flush() == len(charged) and store.get("metered").github_requests == sent + len(charged)
    finally:
        source.close()


@pytest.mark.integration
def test_the_meter_keeps_counts_it_could_not_write_until_storage_is_back(github: FakeGitHub) -> None:
    from services.core.storage.azure_blob import AzureBlobBackend

    github.add_generated_user("outage", 1)
    source = GitHubSource(github.base_url, max_concurrency=1)
    with azurite() as service:
        storage = AzureBlobBackend(f"usage-{uuid.uuid4().hex[:8]}", connection_string=service.connection_string,
                                   timeout=1, retries=0)
        store = UsageStore(storage)
        meter = RequestMeter(source, store)
        try:
            source.list_repos("outage")
            service.pause()
            try:
                started = time.monotonic()
                assert meter.flush() == 0 and time.monotonic() - started < 10
            finally:
                service.resume()
            assert meter.flush() == 1 and store.get("outage").github_requests == 1
        finally:
            storage.close()
            source.close()


def test_refresh_counts_are_read_with_what_is_pending_and_written_in_one_batch(local_storage: StorageBackend) -> None:
    from services.core.usage_meter import RefreshCounts
    from tests.support.clocks import ManualClock

    wall, mono = ManualUtcClock(THURSDAY), ManualClock()
    store = UsageStore(local_storage, wall)
    counts = RefreshCounts(store, read_ttl=5, clock=mono)
    assert counts.get("octocat").refreshes == 0
    for _ in range(3):
        counts.add("octocat")
    assert counts.cached("octocat").refreshes == 3, "pending counts are seen at once, without storage"  # type: ignore[union-attr]
    assert not local_storage.exists(usage_key("octocat")), "nothing written before the flush"
    wall.advance(120)  # past midnight: the three belong to Thursday
    counts.add("octocat")
    assert counts.cached("octocat").refreshes == 1  # type: ignore[union-attr]
    assert counts.flush() == 4
    usage = store.get("octocat")
    assert usage.refreshes == 1 and usage.history["2026-12-03"]["refreshes"] == 3
    mono.now = 10  # the reading is stale: read again
    assert counts.cached("octocat") is None and counts.get("octocat").refreshes == 1


def test_a_copy_of_a_usage_shares_nothing_the_day_roll_changes() -> None:
    original = Usage("octocat", day="2026-12-02", refreshes=4, github_requests=9, cache_bytes={"live": 10},
                     history={"2026-12-01": {"refreshes": 1, "github_requests": 2}})
    copy = original.copy()
    assert copy == original and copy is not original
    copy.roll(THURSDAY)
    copy.cache_bytes["shadow"] = 5
    copy.history["2026-12-01"]["refreshes"] = 99
    assert original == Usage("octocat", day="2026-12-02", refreshes=4, github_requests=9, cache_bytes={"live": 10},
                             history={"2026-12-01": {"refreshes": 1, "github_requests": 2}})
    assert copy.history["2026-12-02"] == {"refreshes": 4, "github_requests": 9} and copy.refreshes == 0


@pytest.mark.integration
def test_refresh_counts_survive_a_storage_outage_and_are_written_once_it_is_back() -> None:
    from services.core.storage.azure_blob import AzureBlobBackend
    from services.core.usage_meter import RefreshCounts

    with azurite() as service:
        storage = AzureBlobBackend(f"counts-{uuid.uuid4().hex[:8]}", connection_string=service.connection_string,
                                   timeout=1, retries=0)
        store = UsageStore(storage)
        counts = RefreshCounts(store)
        try:
            counts.add("octocat")
            counts.add("octocat")
            service.pause()
            try:
                started = time.monotonic()
                assert counts.flush() == 0 and time.monotonic() - started < 10
            finally:
                service.resume()
            assert counts.flush() == 2 and store.get("octocat").refreshes == 2
        finally:
            storage.close()


@pytest.mark.parametrize(("moment", "day", "week"), [
    (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "2025-12-31", "2026-W01"),
    (datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC), "2026-12-07", "2026-W50"),
    (datetime(2027, 1, 3, 20, 0, tzinfo=timezone(timedelta(hours=-5))), "2027-01-04", "2027-W01"),
])
def test_a_moment_counts_in_its_utc_day_and_iso_week(moment: datetime, day: str, week: str) -> None:
    assert (day_of(moment), week_of(moment)) == (day, week)
