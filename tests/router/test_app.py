"""The router app's first routes: health and the bundle views, with JSON errors."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from router.app import create_app
from services.core.cache import BundleCache
from services.core.keys import CacheKeys
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage.local import LocalBackend
from services.sync.inline import refresh_inline


@pytest.fixture
def client(local_storage: LocalBackend) -> TestClient:
    refresh_inline(LocalSource(sample_portfolio_root()), BundleCache(local_storage, CacheKeys()), "octocat")
    return TestClient(create_app(local_storage), raise_server_exceptions=False)


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "healthy"


def test_bundle_and_repo_views(client: TestClient) -> None:
    bundle = client.get("/bundles/octocat").json()
    assert bundle["username"] == "octocat" and len(bundle["data"]) == 3 and len(bundle["fingerprint"]) == 32
    repo = client.get("/bundles/octocat/Hello-World").json()
    assert repo["repo"] == "Hello-World" and repo["data"]["has_documentation"] is True


@pytest.mark.parametrize(("path", "status"), [
    ("/bundles/yungryce", 404),
    ("/bundles/octocat/nope", 404),
    ("/bundles/-bad-", 400),
    ("/bundles/%2e%2e", 400),
    ("/bundles/octocat/%2e%2e", 400),
    ("/bundles/" + "a" * 5000, 400),
    ("/nowhere", 404),
])
def test_bad_input_gets_a_json_error(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert "Traceback" not in response.text
