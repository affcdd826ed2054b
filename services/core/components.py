"""Build the configured storage backend and repo source from :class:`Settings` (one place only)."""

from __future__ import annotations

from pathlib import Path

from services.core.errors import SettingsError
from services.core.observations import Observations
from services.core.settings import Settings
from services.core.sources import RepoSource
from services.core.sources.budget import LocalBudget, RequestBudget, budget_options
from services.core.sources.etags import StorageEtagCache
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage import StorageBackend


def make_storage(settings: Settings) -> StorageBackend:
    """The storage backend the settings name: a local folder under the data dir, or Azure Blob."""
    if settings.storage == "azure":
        from services.core.storage.azure_blob import AzureBlobBackend

        return AzureBlobBackend(
            settings.storage_container,
            connection_string=settings.storage_connection_string or None,
            account_url=settings.storage_account_url or None,
            api_version=settings.storage_api_version or None,
            timeout=settings.storage_timeout,
            retries=settings.storage_retries,
        )
    from services.core.storage.local import LocalBackend

    return LocalBackend(settings.data_path / "storage")


def make_source(settings: Settings, storage: StorageBackend | None = None, *, legacy: bool = False,
                observations: Observations | None = None, budget: RequestBudget | None = None) -> RepoSource:
    """The repo source the settings name; GitHub shares ETags through ``storage`` and its request
    permits through ``budget`` when given (else an in-process budget of the configured size).

    ``legacy`` builds the legacy replica's client: REST only, one request at a time per activity,
    as the legacy Function App fetched (its concurrency is its activity threads).
    """
    if settings.repo_source == "github":
        from services.core.sources.github import GitHubSource

        return GitHubSource(
            settings.github_api_url,
            token=settings.github_token or None,
            timeout=settings.github_timeout,
            max_retries=settings.github_max_retries,
            max_rate_limit_wait=settings.github_max_rate_limit_wait,
            graphql_batch=settings.graphql_batch and not legacy,
            max_concurrency=1 if legacy else settings.github_max_concurrency,
            etag_cache=StorageEtagCache(storage) if storage is not None else None,
            observations=observations,
            budget=budget if budget is not None else LocalBudget(**budget_options(settings)),
        )
    if settings.repo_source == "local":
        if not Path(settings.local_source_dir).expanduser().is_dir():
            raise SettingsError("CLOUDFOLIO_LOCAL_SOURCE_DIR", f"{settings.local_source_dir} is not a folder")
        return LocalSource(Path(settings.local_source_dir).expanduser())
    return LocalSource(sample_portfolio_root())
