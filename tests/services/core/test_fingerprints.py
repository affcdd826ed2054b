"""The legacy fingerprint algorithms, checked against the worked examples of legacy-cloudfolio.md 4."""

from __future__ import annotations

import random

from services.core.fingerprints import (
    BundleFingerprint,
    bundle_fingerprint,
    bundle_fingerprint_of_records,
    content_fingerprint,
    metadata_fingerprint,
)

REPO_C = {"id": 1001, "updated_at": "2025-06-23T16:00:34Z", "pushed_at": "2025-06-23T16:00:31Z", "size": 120,
          "default_branch": "main", "language": "C"}
REPO_NULL_LANG = {"id": 1002, "updated_at": "2025-04-20T17:58:32Z", "pushed_at": "2025-04-20T17:58:30Z",
                  "size": 2048, "default_branch": "master", "language": None}


def test_metadata_fingerprint_matches_worked_examples() -> None:
    assert metadata_fingerprint(REPO_C) == "964d0870e001404c0d08837bcfda4dee"
    assert metadata_fingerprint(REPO_NULL_LANG) == "444e7b70cef71ff8a00bfe8d4719eccf"
    assert metadata_fingerprint({}) == "8e852be1513389025b50facde144f96d"


def test_metadata_fingerprint_ignores_fields_outside_the_six() -> None:
    noisy = {**REPO_C, "name": "other", "description": "changed", "topics": ["x"], "stargazers_count": 9}
    assert metadata_fingerprint(noisy) == "964d0870e001404c0d08837bcfda4dee"
    assert metadata_fingerprint({**REPO_C, "pushed_at": "2025-06-24T00:00:00Z"}) != metadata_fingerprint(REPO_C)


def test_bundle_fingerprint_matches_worked_examples() -> None:
    a, b = "444e7b70cef71ff8a00bfe8d4719eccf", "964d0870e001404c0d08837bcfda4dee"
    assert bundle_fingerprint([b, a]) == "62caaeb5ffc0b4dd9cfd7b7fda631d57"
    assert bundle_fingerprint([a, b]) == "62caaeb5ffc0b4dd9cfd7b7fda631d57"
    assert bundle_fingerprint([b]) == "6998a414c3caea48a0f8708a07fcaad0"
    assert bundle_fingerprint([]) == "d751713988987e9331980363e24189ce"


def test_bundle_fingerprint_of_records_uses_empty_string_for_missing_fingerprints() -> None:
    records = [{"fingerprint": "964d0870e001404c0d08837bcfda4dee"}, {"name": "no-fingerprint"}]
    assert bundle_fingerprint_of_records(records) == bundle_fingerprint(["964d0870e001404c0d08837bcfda4dee", ""])


def test_incremental_bundle_fingerprint_equals_the_batch_one() -> None:
    rng = random.Random(7)
    fingerprints = [f"{rng.getrandbits(128):032x}" for _ in range(1000)]
    digest = BundleFingerprint()
    for fingerprint in fingerprints:
        digest.add(fingerprint)
    assert len(digest) == 1000
    assert digest.hexdigest() == bundle_fingerprint(fingerprints)


def test_content_fingerprint_matches_worked_example() -> None:
    records = [
        {"name": "beta", "has_documentation": True, "readme": "# Beta\n", "skills_index": "", "architecture": ""},
        {"name": "alpha", "has_documentation": True, "readme": "# Alpha\n", "skills_index": "skills",
         "architecture": "arch"},
        {"name": "gamma", "has_documentation": False, "readme": "ignored"},
    ]
    assert content_fingerprint(records) == "45ced182fc1675b2581cc08cce0f474d"


def test_content_fingerprint_ignores_repo_context_and_undocumented_repos() -> None:
    base = [{"name": "a", "has_documentation": True, "readme": "r", "repoContext": {"x": 1}}]
    changed = [{"name": "a", "has_documentation": True, "readme": "r", "repoContext": {"x": 2}},
               {"name": "b", "has_documentation": False, "readme": "other"}]
    assert content_fingerprint(base) == content_fingerprint(changed)
    assert content_fingerprint(base) != content_fingerprint([{**base[0], "readme": "r2"}])
