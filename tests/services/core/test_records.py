"""Per-repo records have the legacy shape; a malformed context is recorded, not fatal."""

from __future__ import annotations

import json

from services.core.fingerprints import metadata_fingerprint
from services.core.records import RepoDocuments, build_record, record_name, trim_repo

REPO = {"id": 1001, "name": "monty", "updated_at": "2025-06-23T16:00:34Z", "pushed_at": "2025-06-23T16:00:31Z",
        "size": 120, "default_branch": "main", "language": "C", "stargazers_count": 3,
        "owner": {"login": "yungryce", "url": "https://api.github.com/users/yungryce", "id": 9}}


def test_record_keys_and_order_match_the_legacy() -> None:
    docs = RepoDocuments(repo_context=json.dumps({"project_identity": {"name": "monty"}}), readme="# monty",
                         paths=["main.c", "README.md", ".gitignore"], languages={"C": 100})
    record = build_record(REPO, docs)
    assert list(record) == ["name", "metadata", "repoContext", "readme", "skills_index", "architecture",
                            "file_types", "categorized_types", "fingerprint", "languages", "has_documentation"]
    assert record["fingerprint"] == metadata_fingerprint(REPO) == "964d0870e001404c0d08837bcfda4dee"
    assert record["file_types"] == {".c": 1, ".md": 1}
    assert record["categorized_types"] == {"programming": 1, "data": 0, "markup": 0, "prose": 1, "nil": 0}
    assert record["has_documentation"] is True
    assert record["metadata"]["owner"] == {"login": "yungryce", "url": "https://api.github.com/users/yungryce"}
    assert "stargazers_count" not in record["metadata"]
    assert record["languages"] == {"C": 100}


def test_malformed_repo_context_is_recorded_and_the_repo_carries_on() -> None:
    record = build_record(REPO, RepoDocuments(repo_context="{not json", readme="# monty"))
    assert record["repoContext"] == {}
    assert record["context_error"].startswith("malformed .repo-context.json")
    assert record["has_documentation"] is False
    non_object = build_record(REPO, RepoDocuments(repo_context="[1, 2]", readme="x"))
    assert "not an object" in non_object["context_error"]


def test_absent_documents_become_empty_strings() -> None:
    record = build_record(REPO, RepoDocuments())
    assert (record["repoContext"], record["readme"], record["skills_index"], record["architecture"]) == ({}, "", "", "")
    assert "context_error" not in record and "fetch_warnings" not in record


def test_truncated_tree_and_warnings_are_reported() -> None:
    record = build_record(REPO, RepoDocuments(tree_truncated=True, warnings=["README.md: not base64"]))
    assert record["fetch_warnings"][0] == "README.md: not base64"
    assert "truncated" in record["fetch_warnings"][1]


def test_record_name_prefers_metadata_name() -> None:
    assert record_name({"name": "a", "metadata": {"name": "b"}}) == "b"
    assert record_name({"name": "a"}) == "a"
    assert record_name({}) is None
    assert trim_repo({"name": "x", "owner": "not-a-mapping"}) == {"name": "x"}
