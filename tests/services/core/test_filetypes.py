"""File types and Linguist categories (legacy-cloudfolio.md 7), first match wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.filetypes import categorize_extension, categorize_file_types, count_file_types, type_score
from services.core.sources.local import read_tree

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "legacy-samples" / "repos"
SAMPLE = Path(__file__).resolve().parents[3] / "services" / "core" / "sample_portfolio" / "yungryce"

EXPECTED = {
    "programming": [".py", ".js", ".jsx", ".c", ".cpp", ".go", ".java", ".sh", ".bat", ".ps1", ".rb", ".lua",
                    ".bicep", ".tf", ".dockerfile", ".h", ".ts", ".tsx", ".sql", ".pp", ".m", ".rs", ".php"],
    "prose": [".md", ".po", ".pot"],
    "data": [".txt", ".json", ".yml", ".yaml", ".cfg", ".xml", ".svg", ".csv", ".toml", ".ini", ".env",
             ".gitignore", ".pub", ".service"],
    "markup": [".html", ".css", ".scss", ".ipynb", ".j2"],
    "nil": [".png", ".jpg", ".jpeg", ".ico", ".webp", ".pdf", ".lock", ".log", ".conf", ".pyc"],
}


@pytest.mark.parametrize(("category", "ext"), [(c, e) for c, exts in EXPECTED.items() for e in exts])
def test_categories_match_the_legacy_table(category: str, ext: str) -> None:
    assert categorize_extension(ext) == category
    assert categorize_extension(ext.upper()) == category


def test_extensions_follow_splitext() -> None:
    paths = [".gitignore", "Makefile", "Dockerfile", "a/.repo-context.json", "x.tar.gz", "A.PY", "b.py", "dir.v1/c"]
    assert count_file_types(paths) == {".json": 1, ".gz": 1, ".py": 2}


@pytest.mark.parametrize(("repo", "categorized", "score"), [
    ("monty", {"programming": 15, "data": 3, "markup": 0, "prose": 3, "nil": 0}, 0.8571),
    ("Email_FA", {"programming": 2, "data": 6, "markup": 0, "prose": 4, "nil": 0}, 0.6111),
    ("alx-system_engineering-devops", {"programming": 27, "data": 29, "markup": 0, "prose": 55, "nil": 2}, 0.5723),
    ("collabHub", {"programming": 96, "data": 15, "markup": 34, "prose": 10, "nil": 30}, 0.6829),
])
def test_fixture_trees_give_the_documented_categories(repo: str, categorized: dict, score: float) -> None:
    tree = FIXTURES / repo / "_tree.tsv"
    if not tree.exists():
        tree = SAMPLE / repo / "_tree.tsv"
    file_types = count_file_types(path for path, _size in read_tree(tree))
    assert categorize_file_types(file_types) == categorized
    assert round(type_score(file_types), 4) == score


def test_type_score_of_nothing_is_zero() -> None:
    assert type_score({}) == 0.0
