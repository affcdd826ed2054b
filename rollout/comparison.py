"""What a shadow comparison concludes: the verdict vocabulary and the repo-level diff.

The router runs both paths for a sampled request (:mod:`router.shadow`); this module owns the
rule that judges the two results, so the rollout gates and the dashboard read the same verdicts:

- ``match``: both bundles have the same fingerprint;
- ``mismatch``: they differ; the diff names the repos whose fingerprints changed and the repos
  present on one side only;
- ``timeout``, ``shadow_error``, ``primary_error``: no comparison was possible, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ShadowVerdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    TIMEOUT = "timeout"
    SHADOW_ERROR = "shadow_error"
    PRIMARY_ERROR = "primary_error"


def diff_fingerprints(primary: Mapping[str, str], shadow: Mapping[str, str]) -> dict[str, list[str]]:
    """Repos whose fingerprints differ, and repos present on one side only (``{repo: fingerprint}`` in)."""
    names = set(primary) | set(shadow)
    return {
        "changed": sorted(n for n in names if n in primary and n in shadow and primary[n] != shadow[n]),
        "only_primary": sorted(set(primary) - set(shadow)),
        "only_shadow": sorted(set(shadow) - set(primary)),
    }
