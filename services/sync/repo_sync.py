"""Sync one repo: fetch its documents from the source, build the record, save it atomically.

The fetch (every source call for the repo) and the save are the ``fetch_repo_content`` and
``save_to_cache`` spans of the refresh's trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core import tracing
from services.core.cache import BundleCache
from services.core.records import build_record
from services.core.sources import RepoSource


def sync_repo_record(source: RepoSource, cache: BundleCache, username: str, repo: Mapping[str, Any]) -> dict[str, Any]:
    """Fetch, build and save the record of ``repo``; return the record. Safe to repeat."""
    name = str(repo.get("name"))
    with tracing.span(tracing.FETCH_REPO_CONTENT, username=username, repo=name):
        documents = source.fetch_documents(username, repo)
    record = build_record(repo, documents)
    with tracing.span(tracing.SAVE_TO_CACHE, username=username, repo=name):
        cache.save_record(username, record)
    return record
