"""The objects one process shares: settings, storage, repo source, jobs and the broker."""

from __future__ import annotations

from dataclasses import dataclass, field

import dramatiq
from prometheus_client import CollectorRegistry

from services.core.broker import BrokerBundle, build_broker
from services.core.cache import BundleCache
from services.core.components import make_source, make_storage
from services.core.jobs import JobStore
from services.core.keys import CacheKeys, Namespace
from services.core.settings import Settings
from services.core.sources import RepoSource
from services.core.storage import StorageBackend


@dataclass
class Runtime:
    """Everything an actor or a request handler needs, built once per process."""

    settings: Settings
    storage: StorageBackend
    source: RepoSource
    jobs: JobStore
    broker_bundle: BrokerBundle
    _caches: dict[Namespace, BundleCache] = field(default_factory=dict)

    @property
    def broker(self) -> dramatiq.Broker:
        return self.broker_bundle.broker

    @property
    def registry(self) -> CollectorRegistry:
        return self.broker_bundle.registry

    def cache(self, mode: Namespace | str) -> BundleCache:
        namespace = Namespace(mode)
        if namespace not in self._caches:
            self._caches[namespace] = BundleCache(self.storage, CacheKeys(namespace))
        return self._caches[namespace]

    def close(self) -> None:
        self.source.close()
        self.broker.close()
        self.storage.close()


def build_runtime(
    settings: Settings,
    *,
    storage: StorageBackend | None = None,
    source: RepoSource | None = None,
    registry: CollectorRegistry | None = None,
) -> Runtime:
    storage = storage if storage is not None else make_storage(settings)
    source = source if source is not None else make_source(settings, storage)
    return Runtime(
        settings=settings,
        storage=storage,
        source=source,
        jobs=JobStore(storage, ttl_seconds=settings.job_ttl),
        broker_bundle=build_broker(settings, registry),
    )
