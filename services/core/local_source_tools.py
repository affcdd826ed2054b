"""Helpers that describe a repo folder as a GitHub repo object (used to build sample portfolios)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from services.core.records import parse_repo_context
from services.core.sources.local import languages_from_tree


def _description(context: dict[str, Any], readme: str) -> str | None:
    identity = context.get("project_identity")
    if isinstance(identity, dict) and isinstance(identity.get("description"), str):
        return identity["description"]
    if isinstance(context.get("contextDescription"), str):
        return context["contextDescription"]
    for line in readme.splitlines():
        text = line.strip().lstrip("#").strip()
        if text and not text.startswith(("!", "[", "<")):
            return text[:200]
    return None


def describe(folder: Path, owner: str, repo_id: int, date: str, entries: list[tuple[str, int]]) -> dict[str, Any]:
    """A GitHub-shaped repo object for ``folder`` with deterministic times derived from ``date``."""
    context_file = folder / ".repo-context.json"
    context, _error = parse_repo_context(context_file.read_text("utf-8") if context_file.is_file() else None)
    readme_file = folder / "README.md"
    readme = readme_file.read_text("utf-8") if readme_file.is_file() else ""
    languages = languages_from_tree(entries)
    minute = zlib.crc32(folder.name.encode()) % 60
    topics = context.get("topics") if isinstance(context.get("topics"), list) else []
    return {
        "id": repo_id,
        "name": folder.name,
        "full_name": f"{owner}/{folder.name}",
        "owner": {"login": owner, "url": f"https://api.github.com/users/{owner}"},
        "html_url": f"https://github.com/{owner}/{folder.name}",
        "description": _description(context, readme),
        "fork": False,
        "created_at": f"{date[:4]}-01-15T09:{minute:02d}:00Z",
        "updated_at": f"{date}T16:{minute:02d}:34Z",
        "pushed_at": f"{date}T16:{minute:02d}:31Z",
        "size": max(1, sum(size for _p, size in entries) // 1024),
        "language": next(iter(languages), None),
        "languages": languages,
        "license": None,
        "allow_forking": True,
        "topics": [t for t in topics if isinstance(t, str)],
        "visibility": "public",
        "default_branch": "main",
    }

