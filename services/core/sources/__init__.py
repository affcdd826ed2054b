"""Repo sources: where repo listings and documents come from (GitHub, or a local folder)."""

from services.core.sources.base import (
    DOCUMENT_PATHS,
    RateLimited,
    RepoSource,
    SourceAuthError,
    SourceError,
    SourceUnavailable,
    UserNotFound,
)

__all__ = [
    "DOCUMENT_PATHS",
    "RateLimited",
    "RepoSource",
    "SourceAuthError",
    "SourceError",
    "SourceUnavailable",
    "UserNotFound",
]
