"""The GitHub REST (and optional GraphQL) repo source, over httpx.

What it does that the legacy client did not:

- follows ``Link: rel="next"`` so users with more than 100 repos are complete;
- sends ``If-None-Match`` with stored ETags and reuses the cached body on 304;
- waits out a primary rate limit (403/429 with ``X-RateLimit-Remaining: 0``) until
  ``X-RateLimit-Reset`` and a secondary one for ``Retry-After``, when the wait is within
  ``max_rate_limit_wait``; otherwise raises :class:`RateLimited` carrying the reset time;
- retries 5xx answers, timeouts and connection errors with exponential backoff and full jitter;
- treats 404 as "absent" and never retries it;
- reads the whole file tree in one call (``git/trees/<branch>?recursive=1``) and reports GitHub's
  ``truncated`` flag;
- sends a repo's independent requests (documents, tree, languages) at once, through one bounded
  pool per source (``max_concurrency``, below GitHub's 100 concurrent requests per token), so a
  repo costs about one round trip instead of six; ``max_concurrency=1`` fetches one by one, as the
  legacy did;
- decodes base64 content with embedded newlines; undecodable content is a warning, not a failure;
- optionally fetches the four documents and the languages of a repo in one GraphQL query
  (``ENABLE_GRAPHQL_BATCH_FETCH``), so a repo costs two calls (that query and the tree) instead of
  six; it falls back to REST when GraphQL reports errors (which it does with HTTP 200 and an
  ``errors`` array), and for the languages of a repo with more than one page of them
  (``services.core.sources.graphql_batch``).

The API root is configurable, so GitHub Enterprise (``https://host/api/v3``) and the loopback test
server work with the same code. The token is only ever sent to the API root's origin.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from services.core.names import validate_repo_name, validate_username
from services.core.observations import Observations, token_id
from services.core.records import RepoDocuments
from services.core.sources.base import (
    DOCUMENT_PATHS,
    RateLimited,
    RepoSource,
    SourceAuthError,
    SourceError,
    SourceUnavailable,
    UserNotFound,
)
from services.core.sources.budget import LocalBudget, RequestBudget, rate_limit_wait
from services.core.sources.contents import decode_content
from services.core.sources.etags import EtagCache, MemoryEtagCache
from services.core.sources.graphql_batch import batch_query, settle

log = logging.getLogger("cloudfolio.github")

#: Default API root; set CLOUDFOLIO_GITHUB_API_URL for GitHub Enterprise or a test server.
DEFAULT_API_URL = "https://api.github.com"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_NOT_FOUND = object()
#: Requests one source sends at once (GitHub allows 100 concurrent requests per token).
DEFAULT_MAX_CONCURRENCY = 32


class GitHubSource(RepoSource):
    """Repos from the GitHub API.

    Parameters:
      api_url(str): API root. Defaults to ``https://api.github.com``.
      token(str | None): a token sent as ``Authorization: Bearer``; anonymous when None.
      timeout(float): seconds per request. Defaults to 30.
      max_retries(int): retries of 5xx/timeouts/connection errors. Defaults to 3.
      backoff_base(float): first backoff ceiling in seconds, doubled per retry. Defaults to 0.5.
      backoff_cap(float): largest backoff ceiling in seconds. Defaults to 8.
      max_rate_limit_wait(float): longest rate-limit wait in seconds before raising
        :class:`RateLimited`. Defaults to 60.
      graphql_batch(bool): fetch the four documents and the languages with one GraphQL query. Defaults to False.
      max_concurrency(int): requests of repo fetches in flight at once, over every thread using
        this source. Defaults to 32; 1 fetches a repo's parts one after another.
      etag_cache(EtagCache | None): where ETags live. Defaults to an in-memory cache.
      budget(RequestBudget | None): the permits every request takes (``sources.budget``), shared with
        other sources, processes or replicas of the same token. Defaults to an in-process budget.
      observations(Observations | None): where the quota left and ETag hits are reported.
      sleep(callable): the sleep function (tests pass a recorder). Defaults to ``time.sleep``.
      transport(httpx.BaseTransport | None): an httpx transport, for tests.
    """

    name = "github"

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_rate_limit_wait: float = 60.0,
        graphql_batch: bool = False,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        etag_cache: EtagCache | None = None,
        budget: RequestBudget | None = None,
        observations: Observations | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._origin = urlsplit(self.api_url)[:2]
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "cloudfolio-gateway",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # one connection per request in flight (the callers' own listing requests included)
        limits = httpx.Limits(max_connections=max_concurrency + 16, max_keepalive_connections=max_concurrency + 16)
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport, limits=limits)
        self.max_concurrency = max(1, int(max_concurrency))
        self._pool = (ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="github-fetch")
                      if self.max_concurrency > 1 else None)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_wait = max_rate_limit_wait
        self.graphql_batch = graphql_batch
        self.etags = etag_cache if etag_cache is not None else MemoryEtagCache()
        self.budget = budget if budget is not None else LocalBudget(sleep=sleep)
        self.observations = observations if observations is not None else Observations()
        self._token_id = token_id(token)
        self._sleep = sleep
        #: Requests sent, by outcome, for logs and benchmarks.
        self.stats = {"requests": 0, "not_modified": 0, "retries": 0, "rate_limit_waits": 0}
        self._stats_lock = threading.Lock()
        self._spent: Counter[str] = Counter()  # requests per user, taken by the usage meter

    def __repr__(self) -> str:
        return f"GitHubSource({self.api_url!r})"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _count(self, stat: str) -> None:
        with self._stats_lock:
            self.stats[stat] += 1

    @property
    def graphql_url(self) -> str:
        # GitHub Enterprise serves REST at /api/v3 and GraphQL at /api/graphql
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return self.api_url + "/graphql"

    # -- HTTP with retries -------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    def _check_url(self, url: str) -> str:
        if urlsplit(url)[:2] != self._origin:
            raise SourceError(f"refusing to follow {url!r}: not on the API origin {self.api_url}")
        return url

    def take_spent(self) -> dict[str, int]:
        """GitHub requests sent per user since the last call (304s excluded: GitHub does not charge
        conditional requests that it answers "not modified"), for the usage meter."""
        with self._stats_lock:
            spent, self._spent = self._spent, Counter()
        return dict(spent)

    def _send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
              json_body: Any = None, owner: str | None = None) -> httpx.Response:
        attempt = 0
        waits = 0
        while True:
            self._count("requests")
            try:
                with self.budget.permit(waited_out=waits > 0):
                    response = self._client.request(method, self._check_url(url), headers=headers, json=json_body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= self.max_retries:
                    raise SourceUnavailable(f"GitHub unreachable after {attempt + 1} tries: {exc!r}") from exc
                self._retry(attempt, f"{type(exc).__name__} on {url}")
                attempt += 1
                continue
            if owner is not None and response.status_code != 304:
                with self._stats_lock:
                    self._spent[owner] += 1
            remaining, reset = response.headers.get("x-ratelimit-remaining"), response.headers.get("x-ratelimit-reset")
            self.observations.github_rate_limit(self._token_id, remaining, reset)
            self.budget.observe(remaining, reset, response.headers.get("x-ratelimit-limit"))
            limit = rate_limit_wait(response)
            if limit is not None:
                wait, kind = limit
                if wait > self.max_rate_limit_wait or waits >= 3:
                    raise RateLimited(datetime.now(UTC) + timedelta(seconds=wait), kind)
                log.warning("GitHub %s rate limit on %s; waiting %.1fs", kind, url, wait)
                self._count("rate_limit_waits")
                waits += 1
                self._sleep(wait)
                continue
            if response.status_code >= 500:
                if attempt >= self.max_retries:
                    raise SourceUnavailable(
                        f"GitHub answered {response.status_code} for {url} after {attempt + 1} tries"
                    )
                self._retry(attempt, f"HTTP {response.status_code} on {url}")
                attempt += 1
                continue
            return response

    def _retry(self, attempt: int, why: str) -> None:
        delay = self._backoff(attempt)
        log.warning("retrying GitHub request in %.2fs (%s)", delay, why)
        self._count("retries")
        self._sleep(delay)

    def _get_json(self, username: str, url: str) -> tuple[Any, httpx.Headers | None]:
        """GET with ETag reuse. Returns (body, headers) or (_NOT_FOUND, None) on 404."""
        cached = self.etags.get(username, url)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = self._send("GET", url, headers=headers, owner=username)
        if response.status_code == 304 and cached:
            self._count("not_modified")
            self.observations.cache("github_etag", True, username)
            return cached[1], response.headers
        self.observations.cache("github_etag", False, username)
        if response.status_code == 404:
            return _NOT_FOUND, None
        self._raise_for_status(response, url)
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceError(f"GitHub sent a body that is not JSON for {url}") from exc
        if response.headers.get("etag"):
            self.etags.put(username, url, response.headers["etag"], body)
        return body, response.headers

    @staticmethod
    def _raise_for_status(response: httpx.Response, url: str) -> None:
        if response.status_code == 401:
            raise SourceAuthError(f"GitHub refused the token (401) for {url}")
        if response.status_code == 403:
            raise SourceAuthError(f"GitHub refused access (403) to {url}")
        if response.status_code >= 400:
            raise SourceError(f"GitHub answered {response.status_code} for {url}")

    # -- listing -----------------------------------------------------------------------------
    def list_repos(self, username: str) -> list[dict[str, Any]]:
        user = quote(validate_username(username))
        url: str | None = f"{self.api_url}/users/{user}/repos?per_page=100&type=owner&sort=full_name"
        repos: list[dict[str, Any]] = []
        pages = 0
        while url:
            body, headers = self._get_json(username, url)
            if body is _NOT_FOUND:
                raise UserNotFound(f"unknown GitHub user {username!r}")
            if not isinstance(body, list):
                raise SourceError(f"GitHub repo listing for {username!r} is not a list")
            repos.extend(repo for repo in body if isinstance(repo, dict) and repo.get("name"))
            pages += 1
            match = _LINK_NEXT.search(headers.get("link", "")) if headers is not None else None
            url = match.group(1) if match else None
            if pages > 1000:
                raise SourceError("more than 1000 pages of repos; refusing to continue")
        return repos

    # -- documents ---------------------------------------------------------------------------
    def _repo_url(self, username: str, repo: str) -> str:
        return f"{self.api_url}/repos/{quote(validate_username(username))}/{quote(validate_repo_name(repo))}"

    def _file(self, username: str, repo: str, path: str, docs: RepoDocuments) -> str | None:
        body, _headers = self._get_json(username, f"{self._repo_url(username, repo)}/contents/{quote(path)}")
        if body is _NOT_FOUND or not isinstance(body, dict) or body.get("type") != "file":
            return None
        content = body.get("content")
        if not content:
            if body.get("size"):
                docs.warnings.append(f"{path}: content not inlined by GitHub (file over 1 MB); skipped")
            return None
        return decode_content(content, path, docs)

    def _tree(self, username: str, repo: str, branch: str, docs: RepoDocuments) -> None:
        url = f"{self._repo_url(username, repo)}/git/trees/{quote(branch, safe='')}?recursive=1"
        body, _headers = self._get_json(username, url)
        if body is _NOT_FOUND or not isinstance(body, dict):
            return  # an empty repository has no tree
        docs.paths = [e["path"] for e in body.get("tree", []) if e.get("type") == "blob" and e.get("path")]
        docs.tree_truncated = bool(body.get("truncated"))

    def _languages(self, username: str, repo: str) -> dict[str, int]:
        body, _headers = self._get_json(username, f"{self._repo_url(username, repo)}/languages")
        return body if isinstance(body, dict) else {}

    def fetch_documents(self, username: str, repo: Mapping[str, Any]) -> RepoDocuments:
        name = validate_repo_name(repo["name"])
        branch = repo.get("default_branch") or "HEAD"
        docs = RepoDocuments()
        # each part fills its own RepoDocuments, merged in a fixed order: warnings never depend on timing
        parts: list[Callable[[RepoDocuments], None]] = []
        if self.graphql_batch:  # documents and languages in one query
            parts.append(lambda part: self._documents_by_graphql(username, name, repo, part))
        else:
            parts.extend(self._document_part(username, name, field_name, path)
                         for field_name, path in DOCUMENT_PATHS.items())
            parts.append(lambda part: setattr(part, "languages", self._languages(username, name)))
        parts.append(lambda part: self._tree(username, name, branch, part))
        for part in self._run_parts(parts):
            for field_name in DOCUMENT_PATHS:
                if getattr(part, field_name) is not None:
                    setattr(docs, field_name, getattr(part, field_name))
            docs.languages = part.languages or docs.languages
            docs.paths = part.paths or docs.paths
            docs.tree_truncated = docs.tree_truncated or part.tree_truncated
            docs.warnings.extend(part.warnings)
        return docs

    def _run_parts(self, parts: list[Callable[[RepoDocuments], None]]) -> list[RepoDocuments]:
        """Run every part (at once when pooled); raise the first part's error once all have ended."""
        results = [RepoDocuments() for _ in parts]
        if self._pool is None:
            for part, result in zip(parts, results, strict=True):
                part(result)
            return results
        # each part runs in the caller's context, so its GitHub calls are spans of the caller's fetch
        futures: list[Future[None]] = [self._pool.submit(contextvars.copy_context().run, part, result)
                                       for part, result in zip(parts, results, strict=True)]
        errors = [future.exception() for future in futures]
        for error in errors:
            if error is not None:
                raise error
        return results

    def _document_part(self, username: str, name: str, field_name: str, path: str) -> Callable[[RepoDocuments], None]:
        return lambda part: setattr(part, field_name, self._file(username, name, path, part))

    def _documents_by_graphql(self, username: str, name: str, repo: Mapping[str, Any], docs: RepoDocuments) -> None:
        fetched = self._graphql_documents(username, name, repo, docs)
        for field_name, path in DOCUMENT_PATHS.items():
            if field_name not in fetched:  # REST for what GraphQL did not settle (rare: one by one)
                setattr(docs, field_name, self._file(username, name, path, docs))
        if "languages" not in fetched:
            docs.languages = self._languages(username, name)

    def _graphql_documents(
        self, username: str, name: str, repo: Mapping[str, Any], docs: RepoDocuments
    ) -> set[str]:
        """Fetch the documents and languages in one query; return the fields it settled (the rest go
        over REST)."""
        query = batch_query(repo.get("default_branch") or "HEAD")
        response = self._send("POST", self.graphql_url, owner=username, json_body={
            "query": query, "variables": {"owner": username, "name": name},
        })
        if response.status_code != 200:
            docs.warnings.append(f"GraphQL batch fetch answered {response.status_code}; used REST")
            return set()
        try:
            payload = response.json()
        except ValueError:
            docs.warnings.append("GraphQL batch fetch sent invalid JSON; used REST")
            return set()
        repository = ((payload.get("data") or {}).get("repository")) if isinstance(payload, dict) else None
        if payload.get("errors") or not isinstance(repository, dict):
            messages = "; ".join(str(e.get("message", e)) for e in payload.get("errors") or [])[:300]
            log.warning("GraphQL batch fetch for %s/%s failed (%s); falling back to REST", username, name, messages)
            docs.warnings.append(f"GraphQL errors ({messages or 'no repository'}); used REST")
            return set()
        return settle(repository, docs)
