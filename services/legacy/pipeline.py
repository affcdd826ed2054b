"""The legacy's synchronous pipeline in the calling process: list, find stale repos, sync them in a
thread pool (Durable's fan-out), merge. The legacy replica runs it per orchestration; the queue
actors run the same steps as separate messages.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from services.core.cache import BundleCache
from services.core.sources import RepoSource
from services.core.staleness import find_stale
from services.merge.merger import merge_bundle
from services.sync.repo_sync import sync_repo_record

log = logging.getLogger("cloudfolio.refresh")


@dataclass
class RefreshResult:
    """What an inline refresh did."""

    username: str
    bundle_fingerprint: str
    repos_count: int
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    cached: bool = False


def refresh_inline(
    source: RepoSource,
    cache: BundleCache,
    username: str,
    *,
    force: bool = False,
    workers: int = 8,
    on_planned: Callable[[int], None] | None = None,
    on_repo_done: Callable[[str, bool], None] | None = None,
) -> RefreshResult:
    """Refresh ``username``'s bundle; ``on_planned(n)`` and ``on_repo_done(repo, ok)`` report progress."""
    plan = find_stale(source.list_repos(username), cache, username, force=force)
    if on_planned:
        on_planned(len(plan.stale))
    result = RefreshResult(username, "", 0)
    if not plan.stale and cache.bundle_fingerprint(username) == plan.bundle_fingerprint:
        result.bundle_fingerprint, result.repos_count, result.cached = plan.bundle_fingerprint, len(plan.repos), True
        return result
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sync") as pool:
        futures = {pool.submit(sync_repo_record, source, cache, username, repo): repo["name"] for repo in plan.stale}
        for future in as_completed(futures):
            name = futures[future]
            try:
                future.result()
                result.synced.append(name)
            except Exception as exc:  # one bad repo must not sink the others
                log.warning("sync of %s failed: %s", name, exc, extra={"username": username, "repo": name})
                result.failed[name] = f"{type(exc).__name__}: {exc}"
            if on_repo_done:
                on_repo_done(name, name not in result.failed)
    # the legacy wrote its bundle on every run that merged: its cached_at and Last-Modified move each time
    merged = merge_bundle(cache, username, plan.names, rewrite_unchanged=True)
    result.bundle_fingerprint, result.repos_count = merged.bundle_fingerprint, merged.repos_count
    return result
