"""Everything the router app needs, built once from settings (:func:`build_context`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from rollout.flag_stores import EnvFlagStore, FileFlagStore, FlagStore
from router.flags import FlagProvider
from router.legacy_client import LegacyClient
from router.metrics import RouterMetrics
from router.paths import LegacyPath, QueuePath
from router.shadow import ShadowMirror
from services.core.keys import Namespace
from services.core.settings import Settings
from services.pipeline import Pipeline
from services.train.search import SearchService
from services.train.store import ModelStore
from services.workers import BrokerProbe

#: Threads that send to the broker: few, so RabbitMQ sees few connections (Dramatiq #520).
SENDER_THREADS = 2


@dataclass
class RouterContext:
    settings: Settings
    pipeline: Pipeline
    flags: FlagProvider
    queue: QueuePath
    legacy: LegacyPath
    mirror: ShadowMirror
    metrics: RouterMetrics
    registry: CollectorRegistry
    broker_probe: BrokerProbe
    sender: ThreadPoolExecutor
    search: dict[str, SearchService]

    @property
    def paths(self) -> dict[str, QueuePath | LegacyPath]:
        return {"queue": self.queue, "legacy": self.legacy}

    async def close(self) -> None:
        await self.mirror.drain()
        await self.legacy.client.close()
        self.sender.shutdown(wait=False)


def make_flag_store(settings: Settings) -> FlagStore:
    """The flag store the settings name (file, env or Key Vault)."""
    if settings.flag_store == "env":
        return EnvFlagStore()
    if settings.flag_store == "keyvault":
        from rollout.keyvault_store import KeyVaultFlagStore, StaticTokenCredential

        credential = StaticTokenCredential(settings.keyvault_static_token) if settings.keyvault_static_token else None
        options = {"connection_verify": settings.keyvault_ca_bundle} if settings.keyvault_ca_bundle else {}
        return KeyVaultFlagStore(settings.keyvault_url, credential,
                                 verify_challenge_resource=settings.keyvault_verify_challenge, **options)
    return FileFlagStore(settings.data_path / "flags.json")


def build_context(settings: Settings, pipeline: Pipeline, legacy_url: str,
                  flag_store: FlagStore | None = None) -> RouterContext:
    registry = pipeline.runtime.registry
    metrics = RouterMetrics(registry)
    sender = ThreadPoolExecutor(max_workers=SENDER_THREADS, thread_name_prefix="broker-sender")
    queue = QueuePath(pipeline, settings.freshness_seconds, sender)
    legacy = LegacyPath(LegacyClient(legacy_url, settings.legacy_function_key), pipeline.runtime.jobs)
    mirror = ShadowMirror({"queue": queue, "legacy": legacy}, pipeline.runtime.storage, metrics,
                          max_concurrency=settings.shadow_max_concurrency, timeout=settings.shadow_timeout)
    flags = FlagProvider(flag_store or make_flag_store(settings), registry, ttl=settings.flag_ttl)
    legacy_models = ModelStore(pipeline.runtime.storage, settings.data_path / "model-cache", Namespace.LEGACY)
    search = {"queue": SearchService(pipeline.models, settings.search_model_cache),
              "legacy": SearchService(legacy_models, settings.search_model_cache)}
    return RouterContext(settings, pipeline, flags, queue, legacy, mirror, metrics, registry,
                         BrokerProbe(settings.broker_url), sender, search)
