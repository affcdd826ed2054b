"""Sync one repo: fetch its documents from the source, build the record, save it atomically."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.cache import BundleCache
from services.core.records import build_record
from services.core.sources import RepoSource


def sync_repo_record(source: RepoSource, cache: BundleCache, username: str, repo: Mapping[str, Any]) -> dict[str, Any]:
    """Fetch, build and save the record of ``repo``; return the record. Safe to repeat."""
    documents = source.fetch_documents(username, repo)
    record = build_record(repo, documents)
    cache.save_record(username, record)
    return record
