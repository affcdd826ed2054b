"""A router stack over real HTTP: the router app and the legacy replica each on a loopback server,
the queue pipeline in-process (StubBroker workers), flags in a file store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.threaded import ServerThread
from cloudfolio.devserver.waiting import wait_until
from rollout.stores import FileFlagStore, FlagStore
from router.app import ROUTES, create_app
from router.context import RouterContext, build_context
from services.core.jobs import JobStore
from services.core.settings import Settings
from services.legacy.app import create_legacy_app
from services.legacy.orchestrator import LegacyOrchestrator
from services.queue.pipeline import build_pipeline
from services.queue.workers import InProcessWorkers
from tests.support.conformance import conformance_hook

ADMIN_TOKEN = "test-admin-token"


@dataclass
class RouterStack:
    url: str
    context: RouterContext
    flags: FlagStore
    legacy: LegacyOrchestrator
    client: httpx.Client

    def set_flags(self, **values: str) -> None:
        self.flags.write(values, actor="test", reason="test")
        self.context.flags.invalidate()

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def wait_job(self, username: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
        views: list[dict[str, Any]] = []

        def finished() -> bool:
            views.append(self.client.get(f"/bundles/{username}/status", params={"job_id": job_id}).json())
            return views[-1]["status"] in ("completed", "failed")

        wait_until(finished, timeout, lambda: str(views[-1]))
        return views[-1]

    def wait_comparisons(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            recent = self.client.get("/admin/shadow", headers=self.admin()).json()["recent"]
            return recent if len(recent) >= count else None

        return wait_until(enough, timeout, lambda: f"fewer than {count} comparisons after {timeout:g}s")


def make_stack(tmp_path: Path, legacy_url: str | None = None, workers: bool = True,
               flag_store: FlagStore | None = None, legacy_key: str = "", **env: str) -> Iterator[RouterStack]:
    values = {"CLOUDFOLIO_DATA_DIR": str(tmp_path), "CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN,
              "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "CLOUDFOLIO_SHADOW_TIMEOUT": "30",
              "CLOUDFOLIO_LEGACY_FUNCTION_KEY": legacy_key, **env}
    settings = Settings.from_env(values)
    pipeline = build_pipeline(settings)
    backends = pipeline.backends
    running = InProcessWorkers(pipeline, threads=4).start() if workers else None
    orchestrator = LegacyOrchestrator(backends.storage, backends.source, JobStore(backends.storage))
    legacy_server = ServerThread(create_legacy_app(orchestrator, function_key=legacy_key, retry_after=1)).start()
    flags = flag_store or FileFlagStore(tmp_path / "flags.json")
    context = build_context(settings, pipeline, legacy_url or legacy_server.url, flags)
    context.legacy.poll_interval = 0.1
    context.queue.poll_interval = 0.05
    router_server = ServerThread(create_app(context)).start()
    client = httpx.Client(base_url=router_server.url, timeout=30,
                          event_hooks={"response": [conformance_hook(ROUTES)]})
    try:
        yield RouterStack(router_server.url, context, flags, orchestrator, client)
    finally:
        client.close()
        router_server.stop()
        legacy_server.stop()
        if running is not None:
            running.stop()
        orchestrator.close()
        pipeline.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RouterStack]:
    yield from make_stack(tmp_path)
