"""GitHubSource over real HTTP against the GitHub API test server."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from services.core.cache import BundleCache
from services.core.keys import CacheKeys
from services.core.records import build_record
from services.core.sources import RateLimited, SourceError, SourceUnavailable, UserNotFound
from services.core.sources.etags import StorageEtagCache
from services.core.sources.github import GitHubSource
from services.core.sources.graphql_batch import GRAPHQL_LANGUAGES
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage import StorageBackend
from services.legacy.pipeline import refresh_inline


class Sleeps(list):
    """Records requested sleeps instead of sleeping (rate-limit waits can be long)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def source(github: FakeGitHub, sleeps: Sleeps):
    client = GitHubSource(github.base_url, token="t0ken", backoff_base=0.01, max_rate_limit_wait=30, sleep=sleeps,
                          timeout=2)
    yield client
    client.close()


def repo_meta(github: FakeGitHub, user: str, name: str) -> dict:
    return dict(github.repo(user, name).meta)


def test_lists_every_page_following_link_headers(github: FakeGitHub, source: GitHubSource) -> None:
    repos = source.list_repos("bigfolio")
    assert len(repos) == 250
    assert len({r["name"] for r in repos}) == 250
    pages = github.requests_to(r"^/users/bigfolio/repos$")
    assert [parse_qs(r.query).get("page", ["1"])[0] for r in pages] == ["1", "2", "3"]


def test_token_is_sent_as_bearer(github: FakeGitHub, source: GitHubSource) -> None:
    source.list_repos("octocat")
    assert github.log[0].headers["authorization"] == "Bearer t0ken"
    assert github.log[0].headers["accept"] == "application/vnd.github+json"


def test_unknown_user_raises_user_not_found(source: GitHubSource) -> None:
    with pytest.raises(UserNotFound):
        source.list_repos("no-such-user")


def test_documents_match_the_local_source(github: FakeGitHub, source: GitHubSource) -> None:
    local = LocalSource(sample_portfolio_root())
    for meta in local.list_repos("yungryce")[:5]:
        remote_docs = source.fetch_documents("yungryce", repo_meta(github, "yungryce", meta["name"]))
        local_docs = local.fetch_documents("yungryce", meta)
        assert build_record(meta, remote_docs)["readme"] == build_record(meta, local_docs)["readme"]
        assert remote_docs.repo_context == local_docs.repo_context
        assert sorted(remote_docs.paths) == sorted(local_docs.paths)
        assert remote_docs.warnings == []


def test_second_fetch_of_an_unchanged_repo_sends_if_none_match_and_reuses_304(
    github: FakeGitHub, source: GitHubSource
) -> None:
    meta = repo_meta(github, "octocat", "Hello-World")
    first = source.fetch_documents("octocat", meta)
    github.log.clear()
    second = source.fetch_documents("octocat", meta)
    assert second == first
    conditional = [r for r in github.log if "if-none-match" in r.headers]
    assert conditional and all(r.status == 304 for r in conditional)
    assert len(conditional) == len(github.log), "every cached URL was asked conditionally"
    assert source.stats["not_modified"] >= 5


def test_a_second_forced_refresh_gets_304_through_shared_storage_etags(
    github: FakeGitHub, storage: StorageBackend
) -> None:
    cache = BundleCache(storage, CacheKeys())
    # two separate clients (as two worker processes) sharing ETags through storage
    for _round in range(2):
        github.log.clear()
        client = GitHubSource(github.base_url, etag_cache=StorageEtagCache(storage))
        result = refresh_inline(client, cache, "octocat", force=True)
        client.close()
        assert result.repos_count == 3 and not result.failed
    # files that exist come back 304; absent ones are 404 again (GitHub sends no ETag with a 404)
    statuses = {r.status for r in github.log if "/contents/" in r.path}
    assert statuses == {304, 404}
    assert {r.status for r in github.log if "/git/trees/" in r.path or r.path.endswith("/repos")} == {304}


def test_primary_rate_limit_waits_until_reset_then_succeeds(
    github: FakeGitHub, source: GitHubSource, sleeps: Sleeps
) -> None:
    github.inject(r"/users/octocat/repos", "primary_rate_limit", seconds=5, status=403)
    assert len(source.list_repos("octocat")) == 3
    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7
    assert source.stats["rate_limit_waits"] == 1


def test_primary_rate_limit_beyond_the_bound_raises_with_the_reset_time(
    github: FakeGitHub, source: GitHubSource, sleeps: Sleeps
) -> None:
    github.inject(r"/users/octocat/repos", "primary_rate_limit", seconds=3600, status=429)
    with pytest.raises(RateLimited) as caught:
        source.list_repos("octocat")
    assert caught.value.kind == "primary"
    assert 3500 < caught.value.retry_after_seconds <= 3602
    assert sleeps == []


def test_secondary_rate_limit_honours_retry_after(github: FakeGitHub, source: GitHubSource, sleeps: Sleeps) -> None:
    github.inject(r"/contents/README.md", "secondary_rate_limit", seconds=2, status=403)
    docs = source.fetch_documents("octocat", repo_meta(github, "octocat", "Spoon-Knife"))
    assert docs.readme and docs.readme.startswith("# Spoon-Knife")
    assert sleeps == [2.0]
    github.inject(r"/contents/README.md", "secondary_rate_limit", seconds=120, status=429)
    with pytest.raises(RateLimited) as caught:
        source.fetch_documents("octocat", repo_meta(github, "octocat", "octo-cli"))
    assert caught.value.kind == "secondary"


def test_5xx_is_retried_with_backoff(github: FakeGitHub, source: GitHubSource, sleeps: Sleeps) -> None:
    github.inject(r"/users/octocat/repos", "status", status=502, times=2)
    assert len(source.list_repos("octocat")) == 3
    assert source.stats["retries"] == 2 and len(sleeps) == 2
    assert all(0 <= s <= 0.02 for s in sleeps), "full jitter stays under the exponential ceiling"


def test_persistent_5xx_gives_up_after_max_retries(github: FakeGitHub, source: GitHubSource) -> None:
    github.inject(r"/users/octocat/repos", "status", status=503, times=None)
    with pytest.raises(SourceUnavailable):
        source.list_repos("octocat")
    assert len(github.requests_to(r"/users/octocat/repos")) == 4  # 1 try + 3 retries


def test_timeout_is_retried(github: FakeGitHub, sleeps: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    client = GitHubSource(github.base_url, timeout=0.3, backoff_base=0.01, sleep=sleeps)
    github.inject(r"/users/octocat/repos", "hang", seconds=5.0, times=1)
    with caplog.at_level("WARNING", logger="cloudfolio.github"):
        assert len(client.list_repos("octocat")) == 3
    assert client.stats["retries"] == 1
    assert any("ReadTimeout" in r.getMessage() for r in caplog.records), "the retry was caused by the timeout"
    client.close()


def test_404_means_absent_and_is_not_retried(github: FakeGitHub, source: GitHubSource) -> None:
    docs = source.fetch_documents("octocat", repo_meta(github, "octocat", "Spoon-Knife"))
    assert docs.architecture is None and docs.skills_index is None
    assert len(github.requests_to(r"/Spoon-Knife/contents/ARCHITECTURE.md")) == 1
    assert source.stats["retries"] == 0


def test_truncated_tree_is_reported(github: FakeGitHub, source: GitHubSource) -> None:
    repo = github.repo("yungryce", "collabHub")
    repo.truncate_tree_at = 50
    try:
        docs = source.fetch_documents("yungryce", dict(repo.meta))
    finally:
        repo.truncate_tree_at = None
    assert docs.tree_truncated is True and len(docs.paths) == 50
    assert "truncated" in build_record(dict(repo.meta), docs)["fetch_warnings"][0]


def test_malformed_base64_is_a_warning_not_a_failure(github: FakeGitHub, source: GitHubSource) -> None:
    github.inject(r"/Hello-World/contents/README.md", "bad_base64")
    docs = source.fetch_documents("octocat", repo_meta(github, "octocat", "Hello-World"))
    assert docs.readme is None
    assert docs.warnings == ["README.md: content is not valid base64; skipped"]
    assert docs.repo_context is not None


def test_graphql_batch_fetches_four_documents_in_one_query(github: FakeGitHub, sleeps: Sleeps) -> None:
    client = GitHubSource(github.base_url, graphql_batch=True, sleep=sleeps)
    meta = repo_meta(github, "octocat", "Hello-World")
    docs = client.fetch_documents("octocat", meta)
    rest = GitHubSource(github.base_url).fetch_documents("octocat", meta)
    assert (docs.readme, docs.repo_context, docs.skills_index, docs.architecture) == (
        rest.readme, rest.repo_context, rest.skills_index, rest.architecture)
    assert len(github.requests_to(r"^/graphql$", "POST")) == 1
    assert github.requests_to(r"/Hello-World/contents/") and all(
        r.path.count("/contents/") for r in github.requests_to(r"/Hello-World/contents/"))
    client.close()


def test_graphql_batch_uses_no_rest_contents_calls(github: FakeGitHub, sleeps: Sleeps) -> None:
    client = GitHubSource(github.base_url, graphql_batch=True, sleep=sleeps)
    client.fetch_documents("octocat", repo_meta(github, "octocat", "octo-cli"))
    assert github.requests_to(r"/octo-cli/contents/") == []
    assert len(github.requests_to(r"/octo-cli/git/trees/")) == 1
    client.close()


def test_graphql_batch_brings_the_languages_rest_would(github: FakeGitHub, sleeps: Sleeps) -> None:
    meta = repo_meta(github, "yungryce", "collabHub")
    rest = GitHubSource(github.base_url, sleep=sleeps).fetch_documents("yungryce", meta)
    client = GitHubSource(github.base_url, graphql_batch=True, sleep=sleeps)
    github.clear()
    docs = client.fetch_documents("yungryce", meta)
    assert docs.languages and docs.languages == rest.languages
    assert list(docs.languages.values()) == sorted(docs.languages.values(), reverse=True), "largest first"
    assert github.requests_to(r"/languages$") == [], "no REST call for what the query brought"
    client.close()


def test_more_languages_than_one_graphql_page_come_over_rest(github: FakeGitHub, sleeps: Sleeps) -> None:
    many = {f"Lang{i}": 1000 - i for i in range(GRAPHQL_LANGUAGES + 1)}
    owner = f"u{uuid.uuid4().hex[:10]}"  # the server is the session's: other tests count octocat's repos
    github.add_repo(owner, {"name": "polyglot", "languages": many}, files={"README.md": "# polyglot"})
    client = GitHubSource(github.base_url, graphql_batch=True, sleep=sleeps)
    github.clear()
    docs = client.fetch_documents(owner, repo_meta(github, owner, "polyglot"))
    assert docs.languages == many
    assert docs.readme == "# polyglot"
    assert len(github.requests_to(r"/polyglot/languages$")) == 1
    client.close()


def test_graphql_errors_with_http_200_fall_back_to_rest(github: FakeGitHub, sleeps: Sleeps) -> None:
    client = GitHubSource(github.base_url, graphql_batch=True, sleep=sleeps)
    github.inject(r"^/graphql$", "graphql_error")
    docs = client.fetch_documents("octocat", repo_meta(github, "octocat", "Spoon-Knife"))
    assert docs.readme and docs.readme.startswith("# Spoon-Knife")
    assert any("GraphQL errors" in w for w in docs.warnings)
    assert len(github.requests_to(r"/Spoon-Knife/contents/")) == 4
    assert len(github.requests_to(r"/Spoon-Knife/languages$")) == 1
    client.close()


def test_graphql_url_for_github_enterprise() -> None:
    assert GitHubSource("https://ghe.example/api/v3").graphql_url == "https://ghe.example/api/graphql"
    assert GitHubSource("https://api.github.com").graphql_url == "https://api.github.com/graphql"


def test_links_to_another_origin_are_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"name": "a"}],
                              headers={"Link": '<https://evil.example/users/u/repos?page=2>; rel="next"'})

    client = GitHubSource("https://api.github.com", token="secret", transport=httpx.MockTransport(handler))
    with pytest.raises(SourceError, match="not on the API origin"):
        client.list_repos("octocat")


@pytest.mark.parametrize(("concurrency", "graphql", "peak"), [(32, False, 6), (32, True, 2), (1, False, 1)])
def test_a_repos_parts_are_fetched_at_once_within_the_bound(
    github: FakeGitHub, sleeps: Sleeps, concurrency: int, graphql: bool, peak: int
) -> None:
    # every request waits at the server, so the requests a client sends together are in flight together
    meta = repo_meta(github, "yungryce", "collabHub")
    sequential = GitHubSource(github.base_url, token="t0ken", max_concurrency=1, sleep=sleeps)
    expected = sequential.fetch_documents("yungryce", meta)
    sequential.close()
    client = GitHubSource(github.base_url, token="t0ken", max_concurrency=concurrency, graphql_batch=graphql,
                          sleep=sleeps)
    github.clear()
    # long enough that a loaded machine cannot stagger requests sent together past it (0.2 s once let
    # a sixth arrive after the first had been answered, in a full suite on 2 busy cores)
    github.latency = 1.0 if concurrency > 1 else 0.2
    try:
        docs = client.fetch_documents("yungryce", meta)
    finally:
        client.close()
    assert github.peak_in_flight == peak
    assert len(github.log) == (2 if graphql else 6)
    assert build_record(meta, docs) == build_record(meta, expected), "the same record however it was fetched"


def test_the_bound_holds_over_every_thread_sharing_a_source(github: FakeGitHub, sleeps: Sleeps) -> None:
    client = GitHubSource(github.base_url, token="t0ken", max_concurrency=4, sleep=sleeps)
    repos = [repo_meta(github, "yungryce", name) for name in list(github.users["yungryce"])[:6]]
    github.clear()
    github.latency = 0.05
    try:
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda meta: client.fetch_documents("yungryce", meta), repos))
    finally:
        client.close()
    assert len(results) == 6 and len(github.log) == 36
    assert github.peak_in_flight == 4


def test_a_failing_part_fails_the_fetch_once_every_part_has_ended(github: FakeGitHub, sleeps: Sleeps) -> None:
    client = GitHubSource(github.base_url, token="t0ken", max_retries=0, sleep=sleeps)
    github.inject(r"/repos/yungryce/collabHub/languages", "status", status=502)
    try:
        with pytest.raises(SourceUnavailable, match="502"):
            client.fetch_documents("yungryce", repo_meta(github, "yungryce", "collabHub"))
    finally:
        client.close()
    assert github.in_flight == 0 and len(github.requests_to(r"/repos/yungryce/collabHub/")) == 6
