"""What a shadow comparison concludes: the verdict vocabulary, and the rule that tells noise from divergence.

The router runs both paths for a sampled request (:mod:`router.shadow`); this module owns the
rule that judges the two results, so the rollout gates and the dashboard read the same verdicts.
Each path's records say which source revision it read of every repo (:func:`revision_of`: the
repo's ``pushed_at`` and ``updated_at`` as that path fetched them):

- ``match``: both bundles have the same fingerprint;
- ``source_changed``: they differ, but every repo that differs was read at two different revisions
  (a push landed between the two fetches), or exists on one side only (created or deleted
  between the two listings). Noise: listed, not counted against a rollout;
- ``divergence``: at least one repo has different fingerprints at the *same* revision: the two
  paths computed different records from the same source. Only this counts against a gate;
- ``timeout``, ``shadow_error``, ``primary_error``: no comparison was possible, and why.

For a divergent repo, :func:`field_differences` names the metadata fields the two records disagree
on and both values: the repo diff an operator reads on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from services.core.fingerprints import METADATA_FIELDS

#: Repos and characters per value kept in a comparison's field diff (comparisons are stored and served).
MAX_DIFF_REPOS, MAX_VALUE_CHARS = 20, 200


class ShadowVerdict(StrEnum):
    MATCH = "match"
    SOURCE_CHANGED = "source_changed"
    DIVERGENCE = "divergence"
    TIMEOUT = "timeout"
    SHADOW_ERROR = "shadow_error"
    PRIMARY_ERROR = "primary_error"


#: The verdicts a rollout gate counts against the queue path.
COUNTED = frozenset({ShadowVerdict.DIVERGENCE})


def revision_of(record: Mapping[str, Any]) -> str:
    """The source revision a record was built from: ``<pushed_at>|<updated_at>`` of its metadata."""
    metadata = record.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return f"{metadata.get('pushed_at') or ''}|{metadata.get('updated_at') or ''}"


def metadata_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprinted metadata fields of a record (absent ones as None)."""
    metadata = record.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return {name: metadata.get(name) for name in METADATA_FIELDS}


def _shown(value: Any) -> Any:
    return value if isinstance(value, int | float | bool) or value is None else str(value)[:MAX_VALUE_CHARS]


def field_differences(repos: list[str], primary: Mapping[str, Mapping[str, Any]],
                      shadow: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """``{repo: {field: [primary value, shadow value]}}`` for the first :data:`MAX_DIFF_REPOS` of ``repos``."""
    found: dict[str, dict[str, list[Any]]] = {}
    for repo in repos[:MAX_DIFF_REPOS]:
        left, right = primary.get(repo, {}), shadow.get(repo, {})
        found[repo] = {name: [_shown(left.get(name)), _shown(right.get(name))] for name in METADATA_FIELDS
                       if left.get(name) != right.get(name)}
    return found


def diff_fingerprints(primary: Mapping[str, str], shadow: Mapping[str, str]) -> dict[str, list[str]]:
    """Repos whose fingerprints differ, and repos present on one side only (``{repo: fingerprint}`` in)."""
    names = set(primary) | set(shadow)
    return {
        "changed": sorted(n for n in names if n in primary and n in shadow and primary[n] != shadow[n]),
        "only_primary": sorted(set(primary) - set(shadow)),
        "only_shadow": sorted(set(shadow) - set(primary)),
    }


def judge(primary: Mapping[str, str], shadow: Mapping[str, str], primary_revisions: Mapping[str, str],
          shadow_revisions: Mapping[str, str]) -> tuple[ShadowVerdict, dict[str, list[str]]]:
    """The verdict on two differing runs, and the diff: ``changed`` split into ``source_changed``
    (different revisions) and ``divergent`` (same revision, different fingerprint)."""
    diff = diff_fingerprints(primary, shadow)
    divergent = [n for n in diff["changed"] if primary_revisions.get(n) == shadow_revisions.get(n)]
    diff["divergent"] = divergent
    diff["source_changed"] = [n for n in diff["changed"] if n not in divergent]
    return (ShadowVerdict.DIVERGENCE if divergent else ShadowVerdict.SOURCE_CHANGED), diff
