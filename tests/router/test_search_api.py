"""Search over HTTP: GET /bundles/{username}/search and the legacy POST /api/ai."""

from __future__ import annotations

import pytest

from tests.router.conftest import RouterStack


@pytest.fixture
def refreshed(stack: RouterStack) -> RouterStack:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    stack.wait_job("yungryce", stack.client.post("/bundles/yungryce/refresh").json()["job_id"])
    return stack


def test_search_ranks_repos_with_scores_and_names_the_model(refreshed: RouterStack) -> None:
    answer = refreshed.client.get("/bundles/yungryce/search", params={"q": "Terraform and Ansible", "k": 3})
    assert answer.status_code == 200
    body = answer.json()
    assert body["path"] == "queue" and len(body["results"]) == 3
    assert body["results"][0]["repo"] == "azure_vmss_cluster"
    assert body["results"][0]["score"] >= body["results"][1]["score"] >= body["results"][2]["score"]
    assert body["model"]["fine_tuned"] is False and "base model" in body["model"]["note"]


def test_legacy_ai_route_answers_with_ranked_repos(refreshed: RouterStack) -> None:
    answer = refreshed.client.post("/api/ai", json={"query": "Which project uses Google reCAPTCHA?",
                                                    "username": "yungryce"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["repositories_used"][0]["name"] == "recaptcha_FA" and len(body["repositories_used"]) == 3
    assert body["response"].startswith("Projects most relevant to") and "recaptcha_FA" in body["response"]


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/bundles/yungryce/search", None, 400),
    ("GET", "/bundles/yungryce/search?q=", None, 400),
    ("GET", "/bundles/yungryce/search?q=x&k=0", None, 400),
    ("GET", "/bundles/yungryce/search?q=x&k=abc", None, 400),
    ("GET", "/bundles/yungryce/search?q=" + "x" * 501, None, 400),
    ("GET", "/bundles/octocat/search?q=flask", None, 404),
    ("GET", "/bundles/-x/search?q=flask", None, 400),
    ("POST", "/api/ai", b"{}", 422),
    ("POST", "/api/ai", b'{"query": 5}', 422),
    ("POST", "/api/ai", b'{"query": "   "}', 400),
    ("POST", "/api/ai", b"", 400),
])
def test_search_bad_input(refreshed: RouterStack, method: str, path: str, body: bytes | None, status: int) -> None:
    response = refreshed.client.request(method, path, content=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


def test_search_without_the_training_extra_is_a_clear_503(refreshed: RouterStack) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'torch'")

    refreshed.context.search["queue"].search = missing
    answer = refreshed.client.get("/bundles/yungryce/search", params={"q": "flask"})
    assert answer.status_code == 503 and "training extra" in answer.json()["error"]
