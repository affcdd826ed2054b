"""Everything the router app needs, built once per process (:func:`build_context`).

The app keeps it on ``app.state.context``; endpoints read it from there (Starlette's habit), so
no endpoint is a closure and every endpoint module can be read on its own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from rollout.factory import build_progression
from rollout.progression import Progression
from rollout.provider import FlagProvider
from rollout.stores import FlagStore
from router.legacy_client import LegacyClient
from router.metric_history import MetricHistory
from router.metrics import RouterMetrics
from router.paths import LegacyPath, QueuePath
from router.paths.bodies import BodyCache
from router.rate_limits import RefreshLimits
from router.shadow import ShadowMirror
from services.core.keys import Namespace
from services.core.serving import ServingPath
from services.core.settings import Settings
from services.core.usage_meter import RefreshCounts
from services.queue.broker_probe import BrokerProbe
from services.queue.pipeline import Pipeline
from services.train.search import SearchService
from services.train.store import ModelStore

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
    limits: RefreshLimits
    history: MetricHistory
    refresh_counts: RefreshCounts
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _progression: Progression | None = None

    def progression(self) -> Progression:
        """The rollout plan's run the dashboard shows and controls, built once (with its metric provider's
        clients); raises :class:`~rollout.plan.InvalidPlan` each time while the plan is invalid."""
        if self._progression is None:
            self._progression = build_progression(self.settings, self.flags.store)
        return self._progression

    @property
    def paths(self) -> dict[str, QueuePath | LegacyPath]:
        return {ServingPath.QUEUE: self.queue, ServingPath.LEGACY: self.legacy}

    def start(self) -> None:
        """Start the background work of a served router (in its lifespan): the dashboard's metric samples and
        the refresh counts' flushes."""
        self._tasks.append(asyncio.get_running_loop().create_task(self.history.run()))
        self.refresh_counts.start()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.mirror.drain()
        await asyncio.to_thread(self.refresh_counts.stop)  # the last counts reach the users' usage
        await self.legacy.client.close()
        self.sender.shutdown(wait=False)


def build_context(settings: Settings, pipeline: Pipeline, legacy_url: str, flag_store: FlagStore) -> RouterContext:
    registry = pipeline.registry
    backends = pipeline.backends
    metrics = RouterMetrics(registry)
    sender = ThreadPoolExecutor(max_workers=SENDER_THREADS, thread_name_prefix="broker-sender")
    queue = QueuePath(pipeline, settings.freshness_seconds, sender, bodies=BodyCache(settings.bundle_cache_mb * 2**20))
    legacy = LegacyPath(LegacyClient(legacy_url, settings.legacy_function_key), backends.jobs)
    mirror = ShadowMirror({ServingPath.QUEUE: queue, ServingPath.LEGACY: legacy}, backends.storage, metrics,
                          max_concurrency=settings.shadow_max_concurrency, timeout=settings.shadow_timeout)
    flags = FlagProvider(flag_store, registry, ttl=settings.flag_ttl)
    legacy_models = ModelStore(backends.storage, settings.data_path / "model-cache", Namespace.LEGACY,
                               backends.observations)
    search = {ServingPath.QUEUE: SearchService(pipeline.models, settings.search_model_cache),
              ServingPath.LEGACY: SearchService(legacy_models, settings.search_model_cache)}
    limits = RefreshLimits(settings.refresh_limit_per_client, settings.refresh_limit_per_user)
    return RouterContext(settings, pipeline, flags, queue, legacy, mirror, metrics, registry,
                         BrokerProbe(settings.broker_url), sender, search, limits,
                         MetricHistory(registry, step=settings.dashboard_sample_seconds),
                         RefreshCounts(pipeline.backends.usage))
