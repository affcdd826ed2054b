"""Merging: streamed, batched, and the same fingerprint as the legacy algorithm."""

from __future__ import annotations

import json
import tracemalloc
import uuid

from services.core.cache import BundleCache
from services.core.fingerprints import bundle_fingerprint_of_records, metadata_fingerprint
from services.core.keys import CacheKeys, Namespace
from services.core.records import RepoDocuments, build_record
from services.core.storage import StorageBackend, StorageUnavailable
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


def test_a_merge_of_the_same_records_leaves_the_bundle_as_it_was(storage: StorageBackend) -> None:
    cache = BundleCache(storage, CacheKeys())
    records = _save_records(cache, 30)
    names = [r["name"] for r in records]
    first = merge_bundle(cache, "yungryce", names)
    before, raw = storage.head(cache.keys.bundle("yungryce")), storage.get(cache.keys.bundle("yungryce")).data
    again = merge_bundle(cache, "yungryce", names)
    assert first.written and not again.written
    assert again.bundle_fingerprint == first.bundle_fingerprint and again.repos_count == 30
    after = storage.head(cache.keys.bundle("yungryce"))
    assert (after.etag, after.last_modified) == (before.etag, before.last_modified), "no new write"
    assert storage.get(cache.keys.bundle("yungryce")).data == raw, "its cached_at kept too"


def test_a_changed_record_or_order_rewrites_the_bundle(storage: StorageBackend) -> None:
    cache = BundleCache(storage, CacheKeys())
    records = _save_records(cache, 5)
    names = [r["name"] for r in records]
    merge_bundle(cache, "yungryce", names)
    etags = [storage.head(cache.keys.bundle("yungryce")).etag]
    changed = {**records[2], "description": "now described"}  # same fingerprint: the bytes decide
    cache.save_record("yungryce", changed)
    assert merge_bundle(cache, "yungryce", names).written
    etags.append(storage.head(cache.keys.bundle("yungryce")).etag)
    assert cache.load_bundle("yungryce").data[2]["description"] == "now described"
    assert merge_bundle(cache, "yungryce", list(reversed(names))).written, "another order is another bundle"
    etags.append(storage.head(cache.keys.bundle("yungryce")).etag)
    assert len(set(etags)) == 3


def test_a_bundle_without_a_data_digest_is_rewritten_once(local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    records = _save_records(cache, 3)
    names = [r["name"] for r in records]
    # as the legacy cache manager (or this code before the digest) wrote it: the same records, no data_sha256
    legacy = b'{"data":[' + b",".join(json.dumps(r, separators=(",", ":")).encode() for r in records) + \
        b'],"cached_at":"2025-01-01T00:00:00"}'
    local_storage.put(cache.keys.bundle("yungryce"), legacy, metadata={"fingerprint": "f" * 32})
    assert merge_bundle(cache, "yungryce", names).written
    assert local_storage.head(cache.keys.bundle("yungryce")).metadata["data_sha256"]
    assert not merge_bundle(cache, "yungryce", names).written


def test_an_abandoned_write_leaves_no_temp_file(local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    names = [r["name"] for r in _save_records(cache, 4)]
    merge_bundle(cache, "yungryce", names)
    assert not merge_bundle(cache, "yungryce", names).written
    leftovers = [p for p in local_storage.root.rglob("*") if p.is_file() and p.name.endswith(".part")]
    assert leftovers == []


def test_an_unchanged_bundle_of_many_blocks_is_never_committed(azurite_connection_string: str) -> None:
    from services.core.storage.azure_blob import AzureBlobBackend

    storage = AzureBlobBackend(f"test-{uuid.uuid4().hex[:12]}", connection_string=azurite_connection_string,
                               block_size=1024)  # the bundle below is staged as several blocks
    try:
        cache = BundleCache(storage, CacheKeys())
        names = [r["name"] for r in _save_records(cache, 20, readme_size=400)]
        merge_bundle(cache, "yungryce", names)
        before = storage.head(cache.keys.bundle("yungryce"))
        assert before.size > 4 * 1024
        assert not merge_bundle(cache, "yungryce", names).written
        assert storage.head(cache.keys.bundle("yungryce")).etag == before.etag
    finally:
        storage.close()


def test_the_same_records_under_another_fingerprint_are_written(local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    records = [{"name": "a", "fingerprint": "1"}]
    assert cache.save_bundle("yungryce", records, "f" * 32)
    assert not cache.save_bundle("yungryce", records, "f" * 32)
    assert cache.save_bundle("yungryce", records, "e" * 32)
    assert cache.load_bundle("yungryce").fingerprint == "e" * 32


def test_a_bundle_that_cannot_be_compared_is_written(local_storage: LocalBackend, monkeypatch) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    records = [{"name": "a", "fingerprint": "1"}]
    cache.save_bundle("yungryce", records, "f" * 32)
    before = local_storage.head(cache.keys.bundle("yungryce")).etag

    def unavailable(key: str) -> None:
        raise StorageUnavailable(f"cannot read {key}: timed out")

    monkeypatch.setattr(local_storage, "head", unavailable)
    assert cache.save_bundle("yungryce", records, "f" * 32), "written, as before bundles were compared"
    monkeypatch.undo()
    assert local_storage.head(cache.keys.bundle("yungryce")).etag != before
