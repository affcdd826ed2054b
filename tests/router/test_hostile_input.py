"""What abuse found, kept closed: no legacy credential reaches a client, no 500 from a hostile body,
no body read past its limit, no status URL from the Host header, JSON on every error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_until
from router.middleware.body_limit import BodyLimit
from tests.router.conftest import RouterStack, make_stack

KEY = "legacy-function-key-1234"
DEEP = b'{"force": ' + b"[" * 2000 + b"]" * 2000 + b"}"


def test_the_legacy_function_key_never_reaches_a_client(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, legacy_key=KEY, CLOUDFOLIO_PUBLIC_URL="https://portfolio.example"):
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})  # every user on the legacy path
        started = stack.client.post("/api/orchestrator_start", json={"username": "octocat", "force_refresh": True},
                                    headers={"Host": "evil.example"})
        assert started.status_code == 202
        assert KEY not in started.text and "code=" not in started.text and KEY not in started.headers["location"]
        status_url = started.json()["statusQueryGetUri"]
        assert status_url.startswith("https://portfolio.example/runtime/webhooks/durabletask/instances/")
        assert "evil.example" not in started.text + started.headers["location"], "no Host header in URLs"
        path = status_url.removeprefix("https://portfolio.example")

        def finished(client=stack.client, path=path):
            answer = client.get(path)
            assert KEY not in answer.text
            return answer if answer.status_code == 200 else None

        done = wait_until(finished, 30)
        assert done.json()["runtimeStatus"] == "Completed" and len(done.json()["output"]) == 3
        webhook = {"repository": {"name": "octo-cli", "owner": {"login": "octocat"}}}
        assert KEY not in stack.client.post("/api/orchestrator_start", json=webhook).text


@pytest.mark.parametrize("route", ["/bundles/octocat/refresh", "/api/orchestrator_start", "/api/ai"])
def test_a_body_nested_2000_levels_deep_is_a_400_not_a_500(stack: RouterStack, route: str) -> None:
    answer = stack.client.post(route, content=DEEP, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "nested deeper" in answer.json()["error"]


@pytest.mark.parametrize("owner", ['"x"', '["x"]', '{"login": 5}', "null"])
def test_a_webhook_body_with_an_owner_of_the_wrong_shape_is_a_400(stack: RouterStack, owner: str) -> None:
    body = f'{{"repository": {{"name": "r", "owner": {owner}}}}}'.encode()
    answer = stack.client.post("/api/orchestrator_start", content=body)
    assert answer.status_code == 400 and "Invalid GitHub webhook payload" in answer.json()["error"]


def test_unknown_routes_and_methods_answer_json(stack: RouterStack) -> None:
    for method, path, status in (("GET", "/no/such/route", 404), ("DELETE", "/bundles/octocat", 405)):
        answer = stack.client.request(method, path)
        assert answer.status_code == status and set(answer.json()) == {"error"}


def test_security_headers_on_pages_and_answers(stack: RouterStack) -> None:
    page = stack.client.get("/docs")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    answer = stack.client.get("/health")
    assert answer.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in answer.headers
    assert "server" not in answer.headers, "no server banner"


def test_the_body_limit_stops_reading_a_chunked_body_at_the_limit() -> None:
    asyncio.run(_stops_reading())


async def _stops_reading() -> None:
    consumed: list[int] = []

    async def receive():
        consumed.append(1)
        return {"type": "http.request", "body": b"x" * 4096, "more_body": True}  # an endless upload

    async def app(scope, receive_, send):
        while True:
            await receive_()

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    with pytest.raises(Exception, match="413"):
        await BodyLimit(app, max_bytes=16 * 1024)({"type": "http", "headers": []}, receive, send)
    assert len(consumed) == 5, "stopped at the chunk that crossed 16 KB"
    await BodyLimit(app, max_bytes=16 * 1024)({"type": "http", "headers": [(b"content-length", b"200000000")]},
                                              receive, send)
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["error"] == "request body over 16384 bytes"
    assert len(consumed) == 5, "a declared length over the limit is refused before reading anything"


def test_a_large_chunked_upload_is_refused_with_413(stack: RouterStack) -> None:
    def chunks():
        for _ in range(64):  # 4 MB, sent without a Content-Length
            yield b"{" * 65536

    answer = stack.client.post("/api/orchestrator_start", content=chunks())
    assert answer.status_code == 413 and "over" in answer.json()["error"]
