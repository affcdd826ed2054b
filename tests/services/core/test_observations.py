"""Operational metrics: bounded labels, nothing recorded until bound, GitHub's quota and ETag hits per token."""

from __future__ import annotations

import hashlib

from prometheus_client import CollectorRegistry

from cloudfolio.devserver.github import FakeGitHub
from services.core.observations import USER_BUCKETS, Observations, token_id, user_bucket
from services.core.sources.github import GitHubSource


def test_user_buckets_are_stable_bounded_and_case_blind() -> None:
    buckets = {user_bucket(f"user{i}") for i in range(2000)}
    assert buckets == {f"{i:02d}" for i in range(USER_BUCKETS)}
    assert user_bucket("Octocat") == user_bucket("octocat")
    digest = hashlib.sha256(b"octocat").hexdigest()
    assert user_bucket("octocat") == f"{int(digest[:8], 16) % 32:02d}", "the documented formula"


def test_a_token_is_never_its_own_label() -> None:
    assert token_id(None) == token_id("") == "anonymous"
    label = token_id("ghp_secret123")
    assert label.startswith("sha256:") and len(label) == 15 and "secret" not in label
    assert token_id("ghp_secret123") == label != token_id("ghp_other")


def test_nothing_is_recorded_before_bind_and_everything_after() -> None:
    registry = CollectorRegistry()
    observations = Observations()
    observations.cache("bundle", True, "octocat")
    observations.bind(registry)
    observations.cache("bundle", True, "octocat")
    observations.cache("repo", False, "octocat", count=3)
    observations.training("trained", 12.5)
    observations.job_finished("queue", "completed", 2.0)
    bucket = user_bucket("octocat")
    assert registry.get_sample_value("cloudfolio_cache_lookups_total",
                                     {"cache": "bundle", "outcome": "hit", "user_bucket": bucket}) == 1
    assert registry.get_sample_value("cloudfolio_cache_lookups_total",
                                     {"cache": "repo", "outcome": "miss", "user_bucket": bucket}) == 3
    assert registry.get_sample_value("training_runs_total", {"outcome": "trained"}) == 1
    assert registry.get_sample_value("training_duration_seconds_sum", {"outcome": "trained"}) == 12.5
    assert registry.get_sample_value("job_duration_seconds_count", {"path": "queue", "outcome": "completed"}) == 1


def test_github_quota_and_etag_hits_are_reported_per_token(github: FakeGitHub) -> None:
    registry = CollectorRegistry()
    observations = Observations()
    observations.bind(registry)
    github.rate_limit_remaining = 4321
    source = GitHubSource(github.base_url, token="ghp_secret123", observations=observations, timeout=5)
    try:
        meta = dict(github.repo("octocat", "Hello-World").meta)
        source.fetch_documents("octocat", meta)
        source.fetch_documents("octocat", meta)
    finally:
        source.close()
        github.rate_limit_remaining = 5000
    label = {"token": token_id("ghp_secret123")}
    assert registry.get_sample_value("github_rate_limit_remaining", label) == 4321
    assert registry.get_sample_value("github_rate_limit_reset_timestamp_seconds", label) > 1_700_000_000
    bucket = user_bucket("octocat")
    hits = registry.get_sample_value("cloudfolio_cache_lookups_total",
                                     {"cache": "github_etag", "outcome": "hit", "user_bucket": bucket})
    misses = registry.get_sample_value("cloudfolio_cache_lookups_total",
                                       {"cache": "github_etag", "outcome": "miss", "user_bucket": bucket})
    assert hits == misses == source.stats["not_modified"] > 0, "the second fetch is all 304s"
