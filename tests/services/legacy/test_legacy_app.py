"""The legacy replica's Durable-style API, driven by the router's real LegacyClient over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.threaded import ServerThread
from router.legacy_client import LegacyClient, LegacyProtocolError
from services.core.fingerprints import bundle_fingerprint, bundle_fingerprint_of_records, metadata_fingerprint
from services.core.jobs import JobStatus, JobStore
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage.local import LocalBackend
from services.legacy.app import create_legacy_app
from services.legacy.orchestrator import LegacyOrchestrator

KEY = "fn-key-123"


@pytest.fixture
def legacy(tmp_path: Path) -> Iterator[tuple[str, LegacyOrchestrator]]:
    storage = LocalBackend(tmp_path)
    orchestrator = LegacyOrchestrator(storage, LocalSource(sample_portfolio_root()), JobStore(storage))
    server = ServerThread(create_legacy_app(orchestrator, function_key=KEY, retry_after=1)).start()
    yield server.url, orchestrator
    server.stop()
    orchestrator.close()


async def _poll(client: LegacyClient, url: str):
    for _ in range(200):
        status = await client.status(url)
        if not status.in_progress:
            return status
        assert status.retry_after == 1.0
        await asyncio.sleep(0.05)
    raise AssertionError("orchestration did not finish")


def test_start_poll_complete_then_cached(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, _orchestrator = legacy

    async def scenario() -> None:
        client = LegacyClient(url, function_key=KEY)
        started = await client.start("yungryce")
        assert started.cached is None and started.instance_id and "taskHub=DurableFunctionsHub" in started.status_url
        status = await _poll(client, started.status_url)
        assert status.completed and isinstance(status.output, list) and len(status.output) == 16
        expected = bundle_fingerprint(metadata_fingerprint(r) for r in LocalSource(sample_portfolio_root())
                                      .list_repos("yungryce"))
        assert bundle_fingerprint_of_records(status.output) == expected
        assert status.seconds is not None and status.seconds < 60
        again = await client.start("yungryce")
        assert again.cached is not None and again.cached["status"] == "cached"
        assert again.cached["bundle_fingerprint"] == expected and again.cached["repos_count"] == 16
        code, body = await client.get_bundle("yungryce")
        assert code == 200 and body["fingerprint"] == expected
        await client.close()

    asyncio.run(scenario())


def test_management_payload_and_status_codes(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, _orchestrator = legacy
    headers = {"x-functions-key": KEY}
    started = httpx.post(f"{url}/api/orchestrator_start", json={"username": "octocat", "force_refresh": True},
                         headers=headers)
    assert started.status_code == 202 and started.headers["location"] == started.json()["statusQueryGetUri"]
    assert set(started.json()) >= {"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
                                   "rewindPostUri", "purgeHistoryDeleteUri", "restartPostUri"}
    assert httpx.get(f"{url}/runtime/webhooks/durabletask/instances/{'0' * 32}", headers=headers).status_code == 404
    assert httpx.get(f"{url}/runtime/webhooks/durabletask/instances/nonsense", headers=headers).status_code == 404


def test_function_key_is_required_as_code_or_header(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, _orchestrator = legacy
    assert httpx.post(f"{url}/api/orchestrator_start", json={"username": "octocat"}).status_code == 401
    assert httpx.post(f"{url}/api/orchestrator_start?code={KEY}", json={"username": "octocat"}).status_code in (200,
                                                                                                            202)


def test_failed_orchestration_reads_failed_with_200_or_500_on_request(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, orchestrator = legacy

    async def scenario() -> None:
        client = LegacyClient(url, function_key=KEY)
        job = orchestrator.start("nobody-here")  # the source has no such user: the orchestration fails
        status_url = f"{url}/runtime/webhooks/durabletask/instances/{job.job_id}?taskHub=DurableFunctionsHub"
        status = await _poll(client, status_url)
        assert status.failed and "UserNotFound" in status.output
        strict = httpx.get(status_url + "&returnInternalServerErrorOnFailure=true", headers={"x-functions-key": KEY})
        assert strict.status_code == 500
        await client.close()

    asyncio.run(scenario())


def test_terminate(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, orchestrator = legacy
    job = orchestrator.jobs.create("octocat", mode="legacy")  # an instance that never runs
    terminate = httpx.post(f"{url}/runtime/webhooks/durabletask/instances/{job.job_id}/terminate?reason=test",
                           headers={"x-functions-key": KEY})
    assert terminate.status_code == 202
    status = httpx.get(f"{url}/runtime/webhooks/durabletask/instances/{job.job_id}", headers={"x-functions-key": KEY})
    assert status.status_code == 200 and status.json()["runtimeStatus"] == "Terminated"


def test_a_termination_is_forgotten_once_seen_or_when_there_is_nothing_to_stop(
        legacy: tuple[str, LegacyOrchestrator]) -> None:
    _url, orchestrator = legacy
    finished = orchestrator.jobs.create("octocat", mode="legacy")
    orchestrator.jobs.complete(finished.job_id, bundle_fingerprint="f" * 32, repos_count=3)
    assert orchestrator.terminate(finished.job_id, "late").status == JobStatus.COMPLETED
    waiting = orchestrator.jobs.create("octocat", mode="legacy")
    orchestrator.terminate(waiting.job_id, "test")
    assert orchestrator._terminated == {waiting.job_id}  # the orchestration has not looked yet
    orchestrator._run(waiting.job_id, "octocat", False)  # it runs, sees the termination, keeps the job failed
    assert orchestrator.jobs.get(waiting.job_id).extra["terminated"] is True
    assert orchestrator._terminated == set()  # nothing kept for ever, however many terminations


@pytest.mark.parametrize(("body", "status"), [
    (b"", 400), (b"not json", 400), (b"[1]", 400), (b'{"username": "../x"}', 400),
    (b'{"username": "octocat", "force_refresh": "yes"}', 400), (b'{"repository": {"name": "x"}}', 400),
])
def test_bad_start_bodies_are_400_not_500(legacy: tuple[str, LegacyOrchestrator], body: bytes, status: int) -> None:
    url, _orchestrator = legacy
    response = httpx.post(f"{url}/api/orchestrator_start", content=body, headers={"x-functions-key": KEY})
    assert response.status_code == status and "error" in response.json()


def test_a_github_push_webhook_refreshes_the_owner(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, _orchestrator = legacy
    hook = {"ref": "refs/heads/main", "repository": {"name": "monty", "owner": {"login": "yungryce"}},
            "pusher": {"name": "x"}}
    response = httpx.post(f"{url}/api/orchestrator_start", json=hook, headers={"x-functions-key": KEY})
    assert response.status_code == 202, "a webhook always forces a refresh"


def test_status_urls_on_another_origin_are_refused(legacy: tuple[str, LegacyOrchestrator]) -> None:
    url, _orchestrator = legacy

    async def scenario() -> None:
        client = LegacyClient(url, function_key=KEY)
        with pytest.raises(LegacyProtocolError):
            await client.status("https://evil.example/runtime/webhooks/durabletask/instances/x")
        await client.close()

    asyncio.run(scenario())
