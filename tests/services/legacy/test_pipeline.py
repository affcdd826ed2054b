"""An inline refresh: stale detection, per-repo failures, and the fingerprint the legacy would give."""

from __future__ import annotations

from cloudfolio.devserver.github import FakeGitHub
from services.core.cache import BundleCache
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.keys import CacheKeys
from services.core.sources.github import GitHubSource
from services.core.storage.local import LocalBackend
from services.legacy.pipeline import refresh_inline


def test_refresh_then_nothing_changed_then_one_push(github: FakeGitHub, local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    client = GitHubSource(github.base_url)
    first = refresh_inline(client, cache, "yungryce")
    expected = bundle_fingerprint(metadata_fingerprint(r.meta) for r in github.users["yungryce"].values())
    assert (first.repos_count, len(first.synced), first.bundle_fingerprint) == (16, 16, expected)

    second = refresh_inline(client, cache, "yungryce")
    assert second.cached and second.synced == [] and second.bundle_fingerprint == expected

    original = dict(github.repo("yungryce", "monty").meta)
    github.touch("yungryce", "monty", "2026-01-01T00:00:00Z")
    try:
        third = refresh_inline(client, cache, "yungryce")
        assert third.synced == ["monty"]
        changed = bundle_fingerprint(metadata_fingerprint(r.meta) for r in github.users["yungryce"].values())
        assert third.bundle_fingerprint == changed != expected
        assert cache.bundle_fingerprint("yungryce") == changed
    finally:
        github.repo("yungryce", "monty").meta = original
    client.close()


def test_a_failing_repo_is_reported_and_the_rest_merge(github: FakeGitHub, local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    client = GitHubSource(github.base_url, max_retries=1, backoff_base=0.001)
    github.inject(r"/octo-cli/contents/", "status", status=500, times=None)
    result = refresh_inline(client, cache, "octocat")
    assert list(result.failed) == ["octo-cli"] and "SourceUnavailable" in result.failed["octo-cli"]
    assert result.repos_count == 2
    client.close()


def test_a_forced_run_rewrites_the_bundle_as_the_legacy_did(github: FakeGitHub, local_storage: LocalBackend) -> None:
    cache = BundleCache(local_storage, CacheKeys())
    client = GitHubSource(github.base_url)
    etags = []
    for _ in range(2):
        refresh_inline(client, cache, "octocat", force=True)
        etags.append(local_storage.head(cache.keys.bundle("octocat")).etag)
    assert etags[0] != etags[1], "the same records, written again: its cached_at and Last-Modified move"
    client.close()
