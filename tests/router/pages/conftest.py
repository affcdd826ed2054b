"""Fixtures of the browser tests: Debian's Chromium driven headless by Playwright (never a browser
download), and routers as real ``cloudfolio serve`` processes on the embedded default."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, stop_all
from cloudfolio.devserver.threaded import free_port
from tests.support.services import unavailable

CHROMIUM = "/usr/bin/chromium"
ADMIN_TOKEN = "pages-admin-token"
#: Screenshots of every browser test land here (kept by CI as the run's artifacts).
ARTIFACTS = Path(__file__).resolve().parents[3] / "out" / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open,
    and later tests call ``asyncio.run``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (scripts/test.sh installs it)")
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (scripts/test.sh installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def shoot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


@pytest.fixture(scope="module")
def routers(github_server: tuple[FakeGitHub, Any]) -> Iterator[dict[str, str]]:
    """Two embedded routers over the session's GitHub double: every user on the queue path, and every
    user on the legacy path."""
    state, server = github_server
    folder = Path(tempfile.mkdtemp(prefix="cf-pages-"))
    started: list[ServiceProcess] = []
    try:
        for path, percentage in (("queue", "100"), ("legacy", "0")):
            env = QueueEnv(folder / path, server.url, extra={
                "QUEUE_TRAFFIC_PCT": percentage, "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false",
                "CLOUDFOLIO_LOG_LEVEL": "warning"})
            started.append(ServiceProcess(env, "serve", port=free_port(), ready_path="/health"))
        yield {"queue": started[0].url, "legacy": started[1].url}
    finally:
        stop_all(started)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def shadow_router(github_server: tuple[FakeGitHub, Any]) -> Iterator[str]:
    """An embedded router with every user on the legacy path and the queue path in shadow, the admin token
    set, and the dashboard's charts sampling every second."""
    _state, server = github_server
    folder = Path(tempfile.mkdtemp(prefix="cf-dashboard-"))
    env = QueueEnv(folder, server.url, extra={
        "QUEUE_TRAFFIC_PCT": "0", "ENABLE_QUEUE_SHADOW": "true", "CLOUDFOLIO_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLOUDFOLIO_DASHBOARD_SAMPLE_SECONDS": "1", "CLOUDFOLIO_FLAG_TTL": "1",
        "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false", "CLOUDFOLIO_LOG_LEVEL": "warning"})
    process = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
    try:
        yield process.url
    finally:
        process.stop()
        shutil.rmtree(folder, ignore_errors=True)
