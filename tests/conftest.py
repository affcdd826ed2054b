"""Shared fixtures: real servers started once per session, fresh state per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfolio.devserver.github import FakeGitHub, start_github_server
from cloudfolio.devserver.threaded import ServerThread
from services.core.sources.local import sample_portfolio_root
from services.core.storage.local import LocalBackend
from tests.support.services import RedisServer, azurite, redis_server


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    with azurite() as service:
        yield service.connection_string


@pytest.fixture
def azure_storage(azurite_connection_string: str):
    from services.core.storage.azure_blob import AzureBlobBackend

    backend = AzureBlobBackend(f"test-{uuid.uuid4().hex[:12]}", connection_string=azurite_connection_string)
    yield backend
    backend.close()


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "storage")


@pytest.fixture(params=["local", "azure"])
def storage(request: pytest.FixtureRequest):
    """Every storage test runs against both backends."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture(scope="session")
def github_server() -> Iterator[tuple[FakeGitHub, ServerThread]]:
    state, server = start_github_server()
    state.load_local(sample_portfolio_root())
    state.add_generated_user("bigfolio", 250)
    yield state, server
    server.stop()


@pytest.fixture
def github(github_server: tuple[FakeGitHub, ServerThread]) -> Iterator[FakeGitHub]:
    """The session's GitHub test server with faults and request log cleared for this test."""
    state, _server = github_server
    state.clear()
    yield state
    state.clear()


@pytest.fixture
def user(github: FakeGitHub) -> str:
    """A fresh user with 20 generated, documented repos on the GitHub test server."""
    username = f"u{uuid.uuid4().hex[:10]}"
    github.add_generated_user(username, 20)
    return username


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    from tests.support.queue_harness import require_rabbitmq

    return require_rabbitmq()


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisServer]:
    """A real redis-server for the session (the shared GitHub budget's store)."""
    with redis_server() as service:
        yield service
