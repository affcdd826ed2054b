"""Training pairs: the legacy recipe, project-named queries, chunking, a reproducible sample."""

from __future__ import annotations

from services.train.pairs import build_pairs, pairs_for_record, profile_text

RECORD = {
    "name": "monty", "has_documentation": True, "readme": "word " * 50, "skills_index": "", "architecture": "arch",
    "repoContext": {"project_identity": {"name": "Monty", "description": "A bytecode interpreter", "type": "project",
                                         "scope": "systems"},
                    "tech_stack": {"primary": ["C", 7, {"skills": ["gcc"]}], "key_libraries": ["stdio"]},
                    "skill_manifest": {"technical": ["stacks"], "domain": []}, "topics": ["c", "interpreter"]},
}


def words(limit: int):  # a chunker that cuts every `limit` words
    return lambda text: [" ".join(text.split()[i:i + limit]) for i in range(0, len(text.split()), limit)]


def test_queries_name_the_project_and_follow_the_legacy_fields() -> None:
    pairs = pairs_for_record(RECORD, words(1000))
    queries = {p.query: p.text for p in pairs}
    assert queries["What is Monty?"] == "A bytecode interpreter"
    assert queries["Which technologies are used in Monty?"] == "C, 7, gcc", "non-string items are tolerated"
    assert queries["Which libraries does Monty rely on?"] == "stdio"
    assert queries["What topics does Monty touch?"] == "c, interpreter"
    assert queries["Describe the architecture of Monty."] == "arch"
    assert "What domain knowledge does Monty cover?" not in queries, "empty fields give no pair"
    assert "List the core skills demonstrated in Monty." not in queries
    assert all(p.repo == "monty" for p in pairs)


def test_long_texts_are_chunked_not_truncated() -> None:
    readme = [p.text for p in pairs_for_record(RECORD, words(20)) if p.query.startswith("Summarize the README")]
    assert len(readme) == 3 and sum(len(t.split()) for t in readme) == 50


def test_undocumented_repos_give_no_pairs() -> None:
    assert pairs_for_record({**RECORD, "has_documentation": False}, words(10)) == []


def test_sampling_is_capped_and_reproducible() -> None:
    records = [{**RECORD, "name": f"r{i}"} for i in range(20)]
    first = build_pairs(records, words(20), max_pairs=30, seed=42)
    assert len(first) == 30 and first == build_pairs(records, words(20), max_pairs=30, seed=42)
    assert first != build_pairs(records, words(20), max_pairs=30, seed=7)


def test_profile_text_has_the_flatten_lines() -> None:
    text = profile_text(RECORD)
    assert text.startswith("Project Name: Monty.\nDescription: A bytecode interpreter.")
    assert "Topics: c, interpreter." in text


def test_token_chunker_cuts_at_token_boundaries() -> None:
    from transformers import AutoTokenizer

    from services.train.model import base_model_path
    from services.train.pairs import token_chunker

    tokenizer = AutoTokenizer.from_pretrained(base_model_path())
    text = "Flask routes and SQLAlchemy models. " * 60
    pieces = token_chunker(tokenizer, 64)(text)
    assert len(pieces) > 1
    assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= 64 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "").strip()
