"""Names are validated before any key is built; crafted names never reach another tenant's data."""

from __future__ import annotations

import pytest

from services.core.errors import InvalidName
from services.core.keys import CacheKeys, Namespace, job_key, job_repo_key, validate_job_id
from services.core.names import validate_repo_name, validate_username
from services.core.storage import InvalidKey, validate_key

CRAFTED = ["../x", "a/b", "%2e%2e", "..", ".", "a\x00b", "x" * 1_000_000, "", " ", "a b", "a\\b", "-a", "a-",
           "a--b", "ü", "a\nb", "..%2f..", "/etc/passwd", "a:b"]


@pytest.mark.parametrize("name", ["yungryce", "octocat", "a", "a-b-c", "A1", "x" * 39])
def test_valid_logins_pass(name: str) -> None:
    assert validate_username(name) == name


@pytest.mark.parametrize("name", CRAFTED + ["x" * 40])
def test_crafted_logins_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_username(name)


@pytest.mark.parametrize("name", ["monty", "AirBnB_clone_v2", ".github", "a.b", "alx-backend", "x" * 100, "..a"])
def test_valid_repo_names_pass(name: str) -> None:
    assert validate_repo_name(name) == name


@pytest.mark.parametrize("name", [n for n in CRAFTED if n not in {"-a", "a-", "a--b"}] + ["x" * 101])
def test_crafted_repo_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_repo_name(name)


@pytest.mark.parametrize("value", [None, 7, ["a"], b"abc"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidName):
        validate_username(value)
    with pytest.raises(InvalidName):
        validate_repo_name(value)


def test_keys_use_legacy_names_and_namespaces() -> None:
    assert CacheKeys().bundle("yungryce") == "repos_bundle_context_yungryce"
    assert CacheKeys().record("yungryce", "monty") == "repo_level_bundle_yungryce_monty"
    assert CacheKeys(Namespace.SHADOW).bundle("yungryce") == "shadow/repos_bundle_context_yungryce"
    assert CacheKeys(Namespace.LEGACY).record("u", "r") == "legacy/repo_level_bundle_u_r"


def test_one_users_record_prefix_never_matches_another_user() -> None:
    keys = CacheKeys()
    prefix = keys.records_prefix("a")
    assert keys.record("a", "x").startswith(prefix)
    for other in ("a-b", "ab", "a1"):
        assert not keys.record(other, "x").startswith(prefix)


@pytest.mark.parametrize("name", CRAFTED)
def test_every_key_builder_refuses_crafted_names(name: str) -> None:
    keys = CacheKeys()
    with pytest.raises(InvalidName):
        keys.bundle(name)
    with pytest.raises(InvalidName):
        keys.record("yungryce", name) if name not in {"-a", "a-", "a--b"} else keys.record(name, "r")


@pytest.mark.parametrize("key", ["../x", "a/../b", "/abs", "a//b", "a/./b", "a\\b", "a\x00b", "", "a/", "x" * 1025])
def test_storage_refuses_unsafe_keys(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


def test_job_ids_are_strict_hex() -> None:
    job_id = "0" * 32
    assert job_key(job_id) == f"jobs/{job_id}/job.json"
    for bad in ["../" + "0" * 29, "0" * 31, "G" * 32, "0" * 32 + "/x"]:
        with pytest.raises(ValueError):
            validate_job_id(bad)
    with pytest.raises(InvalidName):
        job_repo_key(job_id, "../x")
