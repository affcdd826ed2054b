"""Stale detection: which repos of a listing need a fresh sync (legacy-cloudfolio.md section 2.3).

A repo is fresh when its current metadata fingerprint equals the fingerprint stored with its record
(blob metadata) and that record exists. Everything else is stale; ``force`` makes all repos stale.
Only blob metadata is read (one listing), never the records themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.core.cache import BundleCache
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint


@dataclass(frozen=True)
class StalePlan:
    """The outcome of stale detection for one listing."""

    repos: list[dict[str, Any]]  # the whole listing, in GitHub order
    stale: list[dict[str, Any]]
    current_fingerprints: dict[str, str]  # repo name -> metadata fingerprint now

    @property
    def bundle_fingerprint(self) -> str:
        """What the bundle fingerprint will be once every repo is fresh."""
        return bundle_fingerprint(self.current_fingerprints.values())

    @property
    def names(self) -> list[str]:
        return [repo["name"] for repo in self.repos]


def find_stale(
    repos: Sequence[Mapping[str, Any]], cache: BundleCache, username: str, *, force: bool = False
) -> StalePlan:
    listing = [dict(repo) for repo in repos if repo.get("name")]
    current = {repo["name"]: metadata_fingerprint(repo) for repo in listing}
    stored = {} if force else cache.record_fingerprints(username)
    stale = [repo for repo in listing if force or stored.get(repo["name"]) != current[repo["name"]]]
    return StalePlan(repos=listing, stale=stale, current_fingerprints=current)
