"""The legacy fingerprint algorithms, bit for bit (legacy-cloudfolio.md section 4).

All three hash the UTF-8 bytes of Python's default ``json.dumps`` output (separators ``", "`` and
``": "``, ASCII escaping) with MD5 and return 32 lowercase hex digits. Keep them byte-identical:
the queue path, the legacy replica and a real legacy deployment must agree on every digest.

``BundleFingerprint`` computes the bundle digest incrementally so a merge can stream records
without holding them all; it gives exactly :func:`bundle_fingerprint` of the same list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

#: The six GitHub repo fields the per-repo fingerprint covers, nothing else.
METADATA_FIELDS = ("id", "updated_at", "pushed_at", "size", "default_branch", "language")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def metadata_fingerprint(repo: Mapping[str, Any]) -> str:
    """Per-repo fingerprint over the six metadata fields of a GitHub repo object (section 4.1)."""
    return _md5(json.dumps({field: repo.get(field) for field in METADATA_FIELDS}, sort_keys=True))


def bundle_fingerprint(repo_fingerprints: Iterable[str]) -> str:
    """Bundle fingerprint: MD5 over the sorted per-repo fingerprints, duplicates kept (section 4.2)."""
    return _md5(json.dumps(sorted(repo_fingerprints)))


def bundle_fingerprint_of_records(records: Iterable[Mapping[str, Any]]) -> str:
    """Bundle fingerprint of merged records, as the legacy merge computes it (``""`` when absent)."""
    return bundle_fingerprint(record.get("fingerprint", "") for record in records)


class BundleFingerprint:
    """Accumulates record fingerprints one at a time; ``hexdigest()`` equals :func:`bundle_fingerprint`.

    Only the 32-character digests are kept (about 80 bytes each), never the records, so a merge of
    thousands of repos stays small.
    """

    def __init__(self) -> None:
        self._fingerprints: list[str] = []

    def add(self, fingerprint: str) -> None:
        self._fingerprints.append(fingerprint)

    def __len__(self) -> int:
        return len(self._fingerprints)

    def hexdigest(self) -> str:
        return bundle_fingerprint(self._fingerprints)


def _short_md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:16]


def _content_item(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        "name": record.get("name", ""),
        "last_modified": record.get("last_updated", ""),
        "readme_hash": _short_md5(record.get("readme", "")),
        "skills_hash": _short_md5(record.get("skills_index", "")),
        "arch_hash": _short_md5(record.get("architecture", "")),
    }


def content_fingerprint(records: Iterable[Mapping[str, Any]]) -> str:
    """Content fingerprint that keys the trained model (section 4.3).

    Only documented records count, and only their names and README / SKILLS-INDEX / ARCHITECTURE
    text. ``last_modified`` reads ``last_updated``, which records never carry, so it is always ``""``:
    a legacy quirk kept for parity.
    """
    digest = ContentFingerprint()
    for record in records:
        digest.add(record)
    return digest.hexdigest()


class ContentFingerprint:
    """Incremental :func:`content_fingerprint`: keeps five short strings per documented record."""

    def __init__(self) -> None:
        self._items: list[dict[str, str]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        if record.get("has_documentation", False):
            self._items.append(_content_item(record))

    @property
    def documented(self) -> int:
        return len(self._items)

    def hexdigest(self) -> str:
        return _md5(json.dumps(sorted(self._items, key=lambda item: item["name"]), sort_keys=True))
