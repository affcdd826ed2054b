"""Training pairs (query, text) from a bundle, after the legacy recipe (legacy-cloudfolio.md 8).

Per documented repo, the legacy's eleven pairs (identity, tech stack, skills, outcomes, README,
SKILLS-INDEX, ARCHITECTURE), each only when its source is present, improved where the legacy was
weak:

- every query names the project ("Which technologies are used in monty?"): the legacy's identical
  template queries put false negatives into every in-batch-negatives batch;
- more of ``.repo-context.json`` counts: topics, key libraries, development tools, type and scope,
  and the older context shape (``contextDescription``, ``mainLanguage``...); non-string list items
  are tolerated instead of failing the repo;
- long texts are cut into chunks of the model's sequence length (at token boundaries) instead of
  being truncated, at most :data:`MAX_CHUNKS_PER_TEXT` per document.

When there are more than ``max_pairs`` pairs, a fixed-seed sample is kept, so a run is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Chunks kept per long document (README, SKILLS-INDEX, ARCHITECTURE).
MAX_CHUNKS_PER_TEXT = 4

Chunker = Callable[[str], list[str]]


@dataclass(frozen=True)
class Pair:
    query: str
    text: str
    repo: str


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        out = []
        for item in value:
            if isinstance(item, str | int | float) and str(item).strip():
                out.append(str(item))
            elif isinstance(item, Mapping):  # e.g. {"category": ..., "skills": [...]}
                out.extend(_items(item.get("skills")))
        return out
    return []


def _joined(value: Any) -> str:
    return ", ".join(_items(value))


def project_name(record: Mapping[str, Any]) -> str:
    context = record.get("repoContext") or {}
    identity = context.get("project_identity") if isinstance(context, Mapping) else None
    if isinstance(identity, Mapping) and isinstance(identity.get("name"), str) and identity["name"].strip():
        return identity["name"]
    return str(record.get("name") or "")


def profile_text(record: Mapping[str, Any]) -> str:
    """A repo's summary text (the legacy's "training flatten" lines, plus topics and skills)."""
    context = record.get("repoContext") if isinstance(record.get("repoContext"), Mapping) else {}
    identity = context.get("project_identity") if isinstance(context.get("project_identity"), Mapping) else {}
    stack = context.get("tech_stack") if isinstance(context.get("tech_stack"), Mapping) else {}
    skills = context.get("skill_manifest") if isinstance(context.get("skill_manifest"), Mapping) else {}
    metadata = record.get("metadata") if isinstance(record.get("metadata"), Mapping) else {}
    lines = [
        ("Project Name", project_name(record)),
        ("Description",
         identity.get("description") or context.get("contextDescription") or metadata.get("description")),
        ("Type", identity.get("type")),
        ("Scope", identity.get("scope")),
        ("Primary technologies include", _joined(stack.get("primary") or context.get("mainLanguage"))),
        ("Secondary tools include", _joined(stack.get("secondary") or context.get("supportLanguages"))),
        ("Key libraries", _joined(stack.get("key_libraries"))),
        ("Topics", _joined(context.get("topics") or metadata.get("topics"))),
        ("Technical skills", _joined(skills.get("technical"))),
        ("Domain", _joined(skills.get("domain"))),
    ]
    return "\n".join(f"{label}: {value}." for label, value in lines if isinstance(value, str) and value.strip())


def pairs_for_record(record: Mapping[str, Any], chunk: Chunker) -> list[Pair]:
    if not record.get("has_documentation"):
        return []
    name = project_name(record)
    repo = str(record.get("name") or name)
    context = record.get("repoContext") if isinstance(record.get("repoContext"), Mapping) else {}
    identity = context.get("project_identity") if isinstance(context.get("project_identity"), Mapping) else {}
    stack = context.get("tech_stack") if isinstance(context.get("tech_stack"), Mapping) else {}
    skills = context.get("skill_manifest") if isinstance(context.get("skill_manifest"), Mapping) else {}
    outcomes = context.get("outcomes") if isinstance(context.get("outcomes"), Mapping) else {}
    description = identity.get("description") or context.get("contextDescription") or ""
    short = [
        (f"What is {name}?", description),
        (f"Summarize the {name} project.", description),
        (f"Which technologies are used in {name}?", _joined(stack.get("primary") or context.get("mainLanguage"))),
        (f"What supporting tools does {name} use?", _joined(stack.get("secondary"))),
        (f"Which libraries does {name} rely on?", _joined(stack.get("key_libraries"))),
        (f"Which development tools were used for {name}?", _joined(stack.get("development_tools"))),
        (f"What technical skills does {name} demonstrate?", _joined(skills.get("technical"))),
        (f"What domain knowledge does {name} cover?", _joined(skills.get("domain"))),
        (f"What are the deliverables of {name}?", _joined(outcomes.get("deliverables"))),
        (f"What skills were acquired in {name}?", _joined(outcomes.get("skills_acquired"))),
        (f"What topics does {name} touch?", _joined(context.get("topics"))),
        (f"What kind of project is {name}?", " ".join(str(identity.get(k, "")) for k in ("type", "scope")).strip()),
    ]
    pairs = [Pair(query, text, repo) for query, text in short if isinstance(text, str) and text.strip()]
    for query, text in ((f"Summarize the README of {name}.", record.get("readme")),
                        (f"List the core skills demonstrated in {name}.", record.get("skills_index")),
                        (f"Describe the architecture of {name}.", record.get("architecture"))):
        if isinstance(text, str) and text.strip():
            pairs.extend(Pair(query, part, repo) for part in chunk(text)[:MAX_CHUNKS_PER_TEXT])
    return pairs


def build_pairs(records: Iterable[Mapping[str, Any]], chunk: Chunker, *, max_pairs: int, seed: int) -> list[Pair]:
    """All pairs of the documented records, or a ``seed``-fixed sample of ``max_pairs`` of them."""
    pairs = [pair for record in records for pair in pairs_for_record(record, chunk)]
    if len(pairs) > max_pairs:
        pairs = random.Random(seed).sample(pairs, max_pairs)
    return pairs


def token_chunker(tokenizer: Any, max_tokens: int) -> Chunker:
    """Cut text into pieces of at most ``max_tokens`` tokens, at token boundaries (character offsets)."""

    def chunk(text: str) -> list[str]:
        # the whole text is tokenized on purpose (to cut it); the length warning does not apply
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                            verbose=False)
        offsets = encoded["offset_mapping"]
        if not offsets:
            return [text] if text.strip() else []
        pieces = []
        for start in range(0, len(offsets), max_tokens):
            window = offsets[start:start + max_tokens]
            piece = text[window[0][0]:window[-1][1]].strip()
            if piece:
                pieces.append(piece)
        return pieces

    return chunk
