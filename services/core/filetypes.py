"""File-type counts and Linguist categories of a repo's files (legacy-cloudfolio.md section 7).

``file_types`` counts extensions exactly as ``os.path.splitext`` sees them (``.gitignore`` and
``Makefile`` have none). Categories come from GitHub Linguist's ``languages.yml`` shipped as package
data, with the legacy rule that the *first* language listing an extension wins (so ``.txt`` is
``data`` and ``.md`` is ``prose``). The legacy matched with an unescaped regex; we compare
extensions literally, which agrees on every extension made of letters and digits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources

import yaml

CATEGORIES = ("programming", "data", "markup", "prose", "nil")
_WEIGHTS = {"programming": 3.0, "data": 2.0, "markup": 1.5, "prose": 1.0, "nil": 0.0}


@lru_cache(maxsize=1)
def _linguist_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Return (extension -> type, extension -> language name), first match in file order."""
    text = resources.files("services.core").joinpath("data/languages.yml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    languages = yaml.load(text, Loader=loader)
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, spec in languages.items():
        for extension in (spec or {}).get("extensions", []) or []:
            key = extension.lower()
            if key not in types:
                types[key] = spec.get("type") or "nil"
                names[key] = name
    return types, names


def extension_of(path: str) -> str:
    """Lower-cased extension of the final path component, ``""`` when there is none."""
    return os.path.splitext(path)[1].lower()


def count_file_types(paths: Iterable[str]) -> dict[str, int]:
    """``{".ext": count}`` over file paths; paths without an extension are skipped."""
    counts: dict[str, int] = {}
    for path in paths:
        ext = extension_of(path)
        if ext:
            counts[ext] = counts.get(ext, 0) + 1
    return counts


def categorize_extension(ext: str) -> str:
    """Linguist type of an extension such as ``.py``; ``nil`` when no language lists it."""
    want = ext if ext.startswith(".") else "." + ext
    return _linguist_tables()[0].get(want.lower(), "nil")


def language_of_extension(ext: str) -> str | None:
    """Name of the first Linguist language listing ``ext``, or None."""
    want = ext if ext.startswith(".") else "." + ext
    return _linguist_tables()[1].get(want.lower())


def categorize_file_types(file_types: Mapping[str, int]) -> dict[str, int]:
    """``categorized_types`` of a record: counts per Linguist type, all five keys present."""
    categorized = dict.fromkeys(CATEGORIES, 0)
    for ext, count in file_types.items():
        categorized[categorize_extension(ext)] += count
    return categorized


def type_score(file_types: Mapping[str, int]) -> float:
    """Legacy type score in [0, 1]: weighted category counts over three times the file count."""
    total = sum(file_types.values())
    if total == 0:
        return 0.0
    weighted = sum(n * _WEIGHTS[categorize_extension(ext)] for ext, n in file_types.items())
    return min(weighted / (total * 3), 1.0)
