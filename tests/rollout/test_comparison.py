"""The comparison rule: which repos differ between the primary and the shadow bundle."""

from __future__ import annotations

from rollout.comparison import diff_fingerprints


def test_diff_names_changed_and_one_sided_repos() -> None:
    primary = {"a": "1", "b": "2", "c": "3"}
    shadow = {"a": "1", "b": "9", "d": "4"}
    assert diff_fingerprints(primary, shadow) == {"changed": ["b"], "only_primary": ["c"], "only_shadow": ["d"]}
    assert diff_fingerprints(primary, primary) == {"changed": [], "only_primary": [], "only_shadow": []}
