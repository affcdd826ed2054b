"""The repo-source interface and its errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.core.errors import CloudfolioError, DependencyUnavailable, NotFound
from services.core.records import RepoDocuments

#: Root documents fetched for every repo: record field -> path in the repo.
DOCUMENT_PATHS = {
    "repo_context": ".repo-context.json",
    "readme": "README.md",
    "skills_index": "SKILLS-INDEX.md",
    "architecture": "ARCHITECTURE.md",
}


class SourceError(CloudfolioError):
    """The source answered with something we cannot use (not retried)."""


class UserNotFound(SourceError, NotFound):
    """The user (or organisation) does not exist at the source."""


class SourceAuthError(SourceError):
    """The source refused our credentials (401, or 403 without a rate limit)."""


class SourceUnavailable(SourceError, DependencyUnavailable):
    """The source kept failing (5xx, timeouts) after every retry; worth trying again later."""

    service = "GitHub"


class RateLimited(SourceUnavailable):
    """GitHub's rate limit is exhausted for longer than we are willing to wait.

    Parameters:
      reset_at(datetime): when the limit resets (from ``X-RateLimit-Reset`` or ``Retry-After``).
      kind(str): ``primary`` or ``secondary``.
    """

    def __init__(self, reset_at: datetime, kind: str = "primary") -> None:
        self.reset_at = reset_at
        self.kind = kind
        wait = max(0.0, (reset_at - datetime.now(UTC)).total_seconds())
        super().__init__(f"GitHub {kind} rate limit exhausted; resets at {reset_at.isoformat()} (in {wait:.0f}s)")

    @property
    def retry_after_seconds(self) -> float:
        return max(0.0, (self.reset_at - datetime.now(UTC)).total_seconds())


class RepoSource(ABC):
    """Lists a user's public repos and fetches one repo's documents."""

    #: Short name for logs and ``/ready``.
    name = "source"
    #: True when listing and fetching are local file work with no network wait (the worker then runs
    #: few syncs at once: ``services.queue.run_slots``). Sources that wait on a network keep False.
    inline_io = False

    @abstractmethod
    def list_repos(self, username: str) -> list[dict[str, Any]]:
        """Every public repo of ``username`` as GitHub repo objects (all pages)."""

    @abstractmethod
    def fetch_documents(self, username: str, repo: Mapping[str, Any]) -> RepoDocuments:
        """The four root documents, the file listing and the languages of one repo."""

    def close(self) -> None:
        """Release connections; the default has none."""

    def take_spent(self) -> dict[str, int]:
        """Requests to the source's API per user since the last call (sources without an API spend none)."""
        return {}
