"""The per-repo record ("repo bundle") exactly as the legacy built it (legacy-cloudfolio.md 3.1).

A record is a plain JSON object. Keys and their order match the legacy; two optional keys are ours:
``context_error`` (a malformed ``.repo-context.json`` is recorded, not fatal, unlike the legacy) and
``fetch_warnings`` (e.g. undecodable file content, a truncated tree). Neither enters any fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.core.filetypes import categorize_file_types, count_file_types
from services.core.fingerprints import metadata_fingerprint

#: Keys of the GitHub repo object kept in ``record["metadata"]`` (FH ``trim_processed_repo``).
TRIMMED_KEYS = (
    "id", "name", "html_url", "description", "fork", "created_at", "updated_at", "pushed_at", "size",
    "language", "license", "allow_forking", "topics", "visibility", "file_paths", "languages",
    "total_language_bytes", "language_percentages", "languages_sorted", "relevance_scores",
    "default_branch", "language_relevance_score", "matched_query_languages",
)


@dataclass
class RepoDocuments:
    """Everything fetched for one repo: the four root documents and the file listing."""

    repo_context: str | None = None
    readme: str | None = None
    skills_index: str | None = None
    architecture: str | None = None
    paths: list[str] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)
    tree_truncated: bool = False
    warnings: list[str] = field(default_factory=list)


def trim_repo(repo: Mapping[str, Any]) -> dict[str, Any]:
    """The GitHub repo object reduced to the legacy's kept keys, ``owner`` to ``{login, url}``."""
    trimmed = {key: repo[key] for key in TRIMMED_KEYS if key in repo}
    owner = repo.get("owner")
    if isinstance(owner, Mapping):
        trimmed["owner"] = {"login": owner.get("login"), "url": owner.get("url")}
    return trimmed


def parse_repo_context(text: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse ``.repo-context.json``: ``({}, None)`` when absent, ``({}, error)`` when malformed."""
    if not text or not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {}, f"malformed .repo-context.json: {exc}"
    if not isinstance(value, dict):
        return {}, f"malformed .repo-context.json: top level is {type(value).__name__}, not an object"
    return value, None


def build_record(repo: Mapping[str, Any], docs: RepoDocuments) -> dict[str, Any]:
    """Build the per-repo record from the GitHub repo object and its fetched documents."""
    metadata = trim_repo(repo)
    languages = dict(docs.languages or repo.get("languages") or {})
    if languages:
        metadata["languages"] = languages
    repo_context, context_error = parse_repo_context(docs.repo_context)
    file_types = count_file_types(docs.paths)
    readme = docs.readme or ""
    record: dict[str, Any] = {
        "name": repo.get("name"),
        "metadata": metadata,
        "repoContext": repo_context,
        "readme": readme,
        "skills_index": docs.skills_index or "",
        "architecture": docs.architecture or "",
        "file_types": file_types,
        "categorized_types": categorize_file_types(file_types),
        "fingerprint": metadata_fingerprint(repo),
        "languages": languages,
        "has_documentation": bool(repo_context) and bool(readme),
    }
    if context_error:
        record["context_error"] = context_error
    warnings = list(docs.warnings)
    if docs.tree_truncated:
        warnings.append("file tree truncated by GitHub: file_types cover part of the repo")
    if warnings:
        record["fetch_warnings"] = warnings
    return record


def record_name(record: Mapping[str, Any]) -> str | None:
    """The repo name a record is filed under (``metadata.name``, as the legacy merge keys it)."""
    metadata = record.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("name"):
        return str(metadata["name"])
    name = record.get("name")
    return str(name) if name else None
