"""The noise floor: a difference at two source revisions is noise, at one revision a divergence."""

from __future__ import annotations

from rollout.comparison import (
    COUNTED,
    MAX_DIFF_REPOS,
    MAX_VALUE_CHARS,
    ShadowVerdict,
    field_differences,
    judge,
    metadata_of,
    revision_of,
)


def record(pushed_at: str, updated_at: str | None = None) -> dict:
    return {"name": "r", "metadata": {"pushed_at": pushed_at, "updated_at": updated_at or pushed_at}}


def test_the_revision_is_what_the_path_read_of_pushed_at_and_updated_at() -> None:
    assert revision_of(record("2025-01-01T00:00:00Z")) == "2025-01-01T00:00:00Z|2025-01-01T00:00:00Z"
    assert revision_of(record("a", "b")) != revision_of(record("a", "c")), "an edit without a push is a revision"
    assert revision_of({"name": "r"}) == "|" and revision_of({"metadata": "junk"}) == "|"


def test_differences_at_different_revisions_are_source_changes_and_never_counted() -> None:
    verdict, diff = judge({"a": "1", "b": "2", "gone": "3"}, {"a": "1", "b": "9", "new": "4"},
                          {"a": "x", "b": "rev1", "gone": "x"}, {"a": "x", "b": "rev2", "new": "y"})
    assert verdict is ShadowVerdict.SOURCE_CHANGED and verdict not in COUNTED
    assert diff == {"changed": ["b"], "only_primary": ["gone"], "only_shadow": ["new"], "divergent": [],
                    "source_changed": ["b"]}


def test_one_repo_different_at_the_same_revision_makes_the_comparison_a_divergence() -> None:
    verdict, diff = judge({"a": "1", "b": "2"}, {"a": "7", "b": "9"}, {"a": "same", "b": "rev1"},
                          {"a": "same", "b": "rev2"})
    assert verdict is ShadowVerdict.DIVERGENCE and verdict in COUNTED
    assert diff["divergent"] == ["a"] and diff["source_changed"] == ["b"]


def test_the_repo_diff_names_each_field_that_differs_with_both_values() -> None:
    def meta(**fields: object) -> dict:
        return {"id": 1, "updated_at": "u", "pushed_at": "p", "size": 10, "default_branch": "main",
                "language": "Go", **fields}

    long_branch = "b" * 500
    found = field_differences(["r", "gone"], {"r": meta(size=10), "gone": meta()},
                              {"r": meta(size=9999, default_branch=long_branch)})
    assert found["r"] == {"size": [10, 9999], "default_branch": ["main", "b" * MAX_VALUE_CHARS]}
    assert set(found["gone"]) == {"id", "updated_at", "pushed_at", "size", "default_branch", "language"}
    assert metadata_of({"name": "r", "metadata": {"size": 3, "private": True}})["size"] == 3
    assert "private" not in metadata_of({"metadata": {"private": True}}), "only fingerprinted fields"
    assert len(field_differences([f"r{i}" for i in range(50)], {}, {})) == MAX_DIFF_REPOS
