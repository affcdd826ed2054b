"""A router stack over real HTTP: the router app and the legacy replica each on a loopback server,
the queue pipeline in-process (StubBroker workers), flags in a file store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.flag_stores import FileFlagStore
from router.app import create_app
from router.context import RouterContext, build_context
from services.core.jobs import JobStore
from services.core.runtime import build_runtime
from services.core.settings import Settings
from services.legacy.app import create_legacy_app
from services.legacy.orchestrator import LegacyOrchestrator
from services.pipeline import Pipeline
from services.workers import InProcessWorkers
from tests.support.github_server import ServerThread

ADMIN_TOKEN = "test-admin-token"


@dataclass
class RouterStack:
    url: str
    context: RouterContext
    flags: FileFlagStore
    legacy: LegacyOrchestrator
    client: httpx.Client

    def set_flags(self, **values: str) -> None:
        self.flags.write(values, actor="test", reason="test")
        self.context.flags.invalidate()

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def wait_job(self, username: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            view = self.client.get(f"/bundles/{username}/status", params={"job_id": job_id}).json()
            if view["status"] in ("completed", "failed"):
                return view
            assert time.monotonic() < deadline, view
            time.sleep(0.05)

    def wait_comparisons(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            recent = self.client.get("/admin/shadow", headers=self.admin()).json()["recent"]
            if len(recent) >= count:
                return recent
            assert time.monotonic() < deadline, recent
            time.sleep(0.05)


def make_stack(tmp_path: Path, legacy_url: str | None = None, workers: bool = True,
               **env: str) -> Iterator[RouterStack]:
    values = {"CLOUDFOLIO_DATA_DIR": str(tmp_path), "CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN,
              "CLOUDFOLIO_LEGACY_RETRY_AFTER": "1", "CLOUDFOLIO_SHADOW_TIMEOUT": "30", **env}
    settings = Settings.from_env(values)
    runtime = build_runtime(settings)
    pipeline = Pipeline(runtime)
    running = InProcessWorkers(pipeline, threads=4).start() if workers else None
    orchestrator = LegacyOrchestrator(runtime.storage, runtime.source, JobStore(runtime.storage))
    legacy_server = ServerThread(create_legacy_app(orchestrator, retry_after=1)).start()
    flags = FileFlagStore(tmp_path / "flags.json", environ={})
    context = build_context(settings, pipeline, legacy_url or legacy_server.url, flag_store=flags)
    context.legacy.poll_interval = 0.1
    context.queue.poll_interval = 0.05
    router_server = ServerThread(create_app(context)).start()
    client = httpx.Client(base_url=router_server.url, timeout=30)
    try:
        yield RouterStack(router_server.url, context, flags, orchestrator, client)
    finally:
        client.close()
        router_server.stop()
        legacy_server.stop()
        if running is not None:
            running.stop()
        orchestrator.close()
        runtime.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RouterStack]:
    yield from make_stack(tmp_path)
