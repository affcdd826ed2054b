"""``POST /webhooks/github`` over HTTP against the router stack and the GitHub test server: a signed
push refreshes exactly the pushed repo; unsigned, wrongly signed, oversized and redelivered
deliveries change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from services.core.job_listing import job_ids
from tests.router.conftest import RouterStack, make_stack

SECRET = "github-webhook-secret"


@pytest.fixture
def hooked(tmp_path: Path, github: FakeGitHub) -> Iterator[RouterStack]:
    yield from make_stack(tmp_path, CLOUDFOLIO_GITHUB_WEBHOOK_SECRET=SECRET, CLOUDFOLIO_REPO_SOURCE="github",
                          CLOUDFOLIO_GITHUB_API_URL=github.base_url, CLOUDFOLIO_GITHUB_WEBHOOK_MAX_BYTES="4096")


def deliver(stack: RouterStack, event: str, payload: Any, *, secret: str | None = SECRET,
            delivery: str | None = None, raw: bytes | None = None) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
               "Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return stack.client.post("/webhooks/github", content=body, headers=headers)


def push(user: str, repo: str, private: bool = False) -> dict[str, Any]:
    """The parts of GitHub's documented push payload the router reads (the owner is named, not logged in)."""
    return {"ref": "refs/heads/main", "before": "0" * 40, "after": "1" * 40,
            "repository": {"name": repo, "full_name": f"{user}/{repo}", "private": private,
                           "owner": {"name": user, "email": None}}, "pusher": {"name": user}}


def test_a_signed_push_refreshes_only_the_pushed_repo_and_a_redelivery_is_ignored(
        hooked: RouterStack, github: FakeGitHub) -> None:
    user = f"wh{uuid.uuid4().hex[:8]}"
    github.add_generated_user(user, 6, documented=False)
    hooked.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    first = hooked.client.post(f"/bundles/{user}/refresh", json={})
    assert first.status_code == 202 and hooked.wait_job(user, first.json()["job_id"])["status"] == "completed"
    github.touch(user, "repo-0003", "2026-12-03T10:00:00Z")
    delivery = str(uuid.uuid4())
    answer = deliver(hooked, "push", push(user, "repo-0003"), delivery=delivery)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "refreshing" and answer.json()["path"] == "queue"
    job_id = answer.json()["job_id"]
    done = hooked.wait_job(user, job_id)
    assert done["status"] == "completed" and done["total_repos"] == 1, "one sync: the pushed repo"
    assert done["bundle_fingerprint"] != hooked.wait_job(user, first.json()["job_id"])["bundle_fingerprint"]
    jobs_before = len(job_ids(hooked.context.pipeline.backends.storage))
    again = deliver(hooked, "push", push(user, "repo-0003"), delivery=delivery)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(job_ids(hooked.context.pipeline.backends.storage)) == jobs_before, "nothing done again"
    hooked.context.refresh_counts.flush()
    assert hooked.context.pipeline.backends.usage.get(user).refreshes == 2, "the push counts in the user's usage"


def test_unsigned_or_wrongly_signed_deliveries_get_401_and_change_nothing(hooked: RouterStack) -> None:
    storage = hooked.context.pipeline.backends.storage
    for secret in (None, "not-the-secret"):
        refused = deliver(hooked, "push", push("octocat", "x"), secret=secret)
        assert refused.status_code == 401 and "X-Hub-Signature-256" in refused.json()["error"]
    body = json.dumps(push("octocat", "y")).encode()
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
    changed = hooked.client.post("/webhooks/github", content=body + b" ", headers=headers)
    assert changed.status_code == 401, "one byte more and the signature no longer matches"
    assert list(storage.list("webhooks/")) == [] and job_ids(storage) == [], "nothing stored, nothing queued"
    assert hooked.client.post("/webhooks/github", content=body, headers=headers).status_code == 202, \
        "the same bytes as signed: accepted"


def test_ping_private_pushes_repository_events_and_limits(hooked: RouterStack) -> None:
    assert deliver(hooked, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}).json()["status"] == "pong"
    private = deliver(hooked, "push", push("octocat", "secret-repo", private=True))
    assert private.status_code == 202 and private.json()["status"] == "ignored"
    deleted = deliver(hooked, "repository", {"action": "deleted", "repository": {
        "name": "gone", "private": False, "owner": {"login": "octocat", "type": "User"}}})
    assert deleted.status_code == 202 and deleted.json()["status"] == "refreshing"
    starred = deliver(hooked, "star", {"action": "created"})
    assert starred.status_code == 202 and starred.json()["status"] == "ignored"
    assert deliver(hooked, "push", {"repository": {"owner": {"name": "../etc"}}}).status_code == 400
    assert deliver(hooked, "push", push("octocat", "x"), delivery="not a guid!").status_code == 400
    too_big = deliver(hooked, "push", {**push("octocat", "x"), "commits": ["c" * 5000]})
    assert too_big.status_code == 413


def test_without_a_secret_the_route_is_off(stack: RouterStack) -> None:
    answer = deliver(stack, "ping", {})
    assert answer.status_code == 403 and "CLOUDFOLIO_GITHUB_WEBHOOK_SECRET" in answer.json()["error"]
