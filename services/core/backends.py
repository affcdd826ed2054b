"""The domain objects one process shares: settings, storage, the repo source and the job store.

Built once per process (:func:`build_backends`) by whoever composes the process: the queue
pipeline, the legacy replica, the router. Nothing here knows about brokers or HTTP.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from services.core.cache import BundleCache
from services.core.components import make_source, make_storage
from services.core.jobs import JobStore
from services.core.keys import CacheKeys, Namespace
from services.core.observations import Observations
from services.core.quotas import Quotas
from services.core.settings import Settings
from services.core.sources import RepoSource
from services.core.sources.budget import RequestBudget
from services.core.storage import StorageBackend
from services.core.usage import UsageStore


@dataclass
class Backends:
    """Storage, source and jobs of one process, with a bundle cache per namespace and the process's
    operational observations (bound to its metrics registry by the queue pipeline)."""

    settings: Settings
    storage: StorageBackend
    source: RepoSource
    jobs: JobStore
    observations: Observations = field(default_factory=Observations)
    _caches: dict[Namespace, BundleCache] = field(default_factory=dict)

    def cache(self, mode: Namespace | str) -> BundleCache:
        namespace = Namespace(mode)
        if namespace not in self._caches:
            self._caches[namespace] = BundleCache(self.storage, CacheKeys(namespace))
        return self._caches[namespace]

    @functools.cached_property
    def usage(self) -> UsageStore:
        """Per-user usage in this storage (``services.core.usage``)."""
        return UsageStore(self.storage)

    @functools.cached_property
    def quotas(self) -> Quotas:
        return Quotas.from_settings(self.settings)

    def close(self) -> None:
        self.source.close()
        self.storage.close()


def build_backends(settings: Settings, *, storage: StorageBackend | None = None,
                   source: RepoSource | None = None, budget: RequestBudget | None = None) -> Backends:
    """The configured backends; ``storage`` and ``source`` replace the configured ones (tests), and
    ``budget`` is the GitHub request budget the source shares (the queue machinery builds it)."""
    storage = storage if storage is not None else make_storage(settings)
    observations = Observations()
    source = source if source is not None else make_source(settings, storage, observations=observations,
                                                           budget=budget)
    return Backends(settings=settings, storage=storage, source=source,
                    jobs=JobStore(storage, ttl_seconds=settings.job_ttl), observations=observations)
