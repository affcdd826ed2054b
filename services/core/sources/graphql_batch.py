"""The GraphQL batch fetch's query and the reading of its answer, for :class:`GitHubSource`.

One query asks for a repo's four documents (``object(expression: "<branch>:<path>")`` as blobs) and
its languages (a connection ordered by size, which is the REST ``/languages`` answer: ``{name:
bytes}``, largest first). Reading the answer settles only what GitHub answered whole: a binary or
truncated blob, or more languages than :data:`GRAPHQL_LANGUAGES`, is left to REST, so a record built
from a batch equals one built over REST.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.records import RepoDocuments
from services.core.sources.base import DOCUMENT_PATHS

#: Languages a batch asks for (GitHub's page limit); a repo with more gets them over REST.
GRAPHQL_LANGUAGES = 100
#: The alias of each document in the query, and the RepoDocuments field it fills.
ALIASES = {f"f{i}": (field_name, path) for i, (field_name, path) in enumerate(DOCUMENT_PATHS.items())}


def batch_query(branch: str) -> str:
    """The query for one repo (``$owner`` and ``$name`` are its variables)."""
    selections = " ".join(
        f'{alias}: object(expression: "{branch}:{path}") {{ ... on Blob {{ text isBinary isTruncated }} }}'
        for alias, (_field, path) in ALIASES.items()
    )
    selections += (f" languages(first: {GRAPHQL_LANGUAGES}, orderBy: {{field: SIZE, direction: DESC}}) "
                   "{ totalCount edges { size node { name } } }")
    return f"query($owner: String!, $name: String!) {{ repository(owner: $owner, name: $name) {{ {selections} }} }}"


def settle(repository: Mapping[str, Any], docs: RepoDocuments) -> set[str]:
    """Fill ``docs`` from the answer's ``repository``; return the fields settled (documents by field
    name, and ``languages``)."""
    settled = set()
    for alias, (field_name, _path) in ALIASES.items():
        blob = repository.get(alias)
        if blob is None:
            settled.add(field_name)  # absent file
        elif isinstance(blob, dict) and not blob.get("isBinary") and not blob.get("isTruncated"):
            setattr(docs, field_name, blob.get("text"))
            settled.add(field_name)
    languages = languages_of(repository.get("languages"))
    if languages is not None:
        docs.languages = languages
        settled.add("languages")
    return settled


def languages_of(connection: Any) -> dict[str, int] | None:
    """``{name: bytes}`` from a language connection, or None when it is not whole (more languages
    than one page holds, or a shape GitHub does not send)."""
    if not isinstance(connection, dict) or not isinstance(connection.get("edges"), list):
        return None
    languages: dict[str, int] = {}
    for edge in connection["edges"]:
        node = edge.get("node") if isinstance(edge, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get("name"), str) or not isinstance(edge.get("size"), int):
            return None
        languages[node["name"]] = edge["size"]
    if connection.get("totalCount") != len(languages):
        return None
    return languages
