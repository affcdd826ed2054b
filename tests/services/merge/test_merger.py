"""Merging: streamed, batched, and the same fingerprint as the legacy algorithm."""

from __future__ import annotations

import json
import tracemalloc

from services.core.cache import BundleCache
from services.core.fingerprints import bundle_fingerprint_of_records, metadata_fingerprint
from services.core.keys import CacheKeys, Namespace
from services.core.records import RepoDocuments, build_record
from services.core.storage import StorageBackend
from services.core.storage.local import LocalBackend
from services.merge.merger import merge_bundle


def _save_records(cache: BundleCache, count: int, readme_size: int = 200) -> list[dict]:
    records = []
    for index in range(count):
        meta = {"id": index, "name": f"r{index:04d}", "updated_at": "2025-01-01T00:00:00Z",
                "pushed_at": "2025-01-01T00:00:00Z", "size": index, "default_branch": "main", "language": "C"}
        record = build_record(meta, RepoDocuments(readme="x" * readme_size, repo_context='{"a": 1}'))
        cache.save_record("yungryce", record)
        records.append(record)
    return records


def test_merge_writes_the_bundle_with_the_legacy_fingerprint(storage: StorageBackend) -> None:
    cache = BundleCache(storage, CacheKeys())
    records = _save_records(cache, 120)
    names = [r["name"] for r in records]
    result = merge_bundle(cache, "yungryce", names + ["vanished"], batch_size=50)
    assert result.repos_count == 120 and result.missing == ["vanished"]
    assert result.bundle_fingerprint == bundle_fingerprint_of_records(records)
    loaded = cache.load_bundle("yungryce")
    assert loaded is not None and loaded.fingerprint == result.bundle_fingerprint
    assert [r["name"] for r in loaded.data] == names
    assert loaded.data[5]["fingerprint"] == metadata_fingerprint(records[5]["metadata"])
    raw = json.loads(storage.get("repos_bundle_context_yungryce").data)
    assert set(raw) == {"data", "cached_at"}, "legacy blob envelope"


def test_namespaces_do_not_see_each_other(local_storage: LocalBackend) -> None:
    live = BundleCache(local_storage, CacheKeys(Namespace.LIVE))
    shadow = BundleCache(local_storage, CacheKeys(Namespace.SHADOW))
    records = _save_records(shadow, 3)
    merge_bundle(shadow, "yungryce", [r["name"] for r in records])
    assert live.load_bundle("yungryce") is None and live.record_fingerprints("yungryce") == {}
    assert shadow.load_bundle("yungryce") is not None


def test_merge_memory_does_not_grow_with_the_portfolio(local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    peaks = {}
    for count in (100, 400):
        names = [r["name"] for r in _save_records(cache, count, readme_size=20_000)]
        tracemalloc.start()
        merge_bundle(cache, "yungryce", names)
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # 4x the repos (8 MB of records) must not need 4x the memory: batches bound it
    assert peaks[400] < 2 * peaks[100], peaks


def test_raw_bundle_bytes_are_the_stored_records(storage: StorageBackend) -> None:
    cache = BundleCache(storage, CacheKeys())
    records = _save_records(cache, 7)
    merge_bundle(cache, "yungryce", [r["name"] for r in records])
    data, info = cache.load_bundle_raw("yungryce")
    assert json.loads(data) == cache.load_bundle("yungryce").data and info.fingerprint
    # a blob in another layout (keys reordered) is decoded and re-encoded instead
    storage.put(cache.keys.bundle("octocat"), json.dumps({"cached_at": "x", "data": [{"a": 1}]}).encode())
    assert json.loads(cache.load_bundle_raw("octocat")[0]) == [{"a": 1}]
    assert cache.load_bundle_raw("nobody") is None
