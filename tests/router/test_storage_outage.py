"""Blob storage out for 30 s: every request answers 503 within the configured bound, and afterwards
the router serves complete bundles only.

The router stack runs on Azure Blob storage (a dedicated Azurite, frozen with SIGSTOP so that
connections hang rather than fail fast: the harder case), with ``CLOUDFOLIO_STORAGE_TIMEOUT=1`` and
one retry, so an answer is due within 1 x 2 + 0.5 s. The client gives up after 6 s: a request that
waited for the SDK's own policy (87 s seen) would fail the test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.waiting import wait_until
from services.core.fingerprints import bundle_fingerprint_of_records
from tests.router.conftest import RouterStack, make_stack
from tests.support.services import Azurite, azurite

pytestmark = pytest.mark.integration
OUTAGE_SECONDS = 30
CLIENT_TIMEOUT = 6.0


@pytest.fixture
def blob_stack(tmp_path: Path) -> Iterator[tuple[RouterStack, Azurite]]:
    with azurite() as service:
        yield from ((stack, service) for stack in make_stack(
            tmp_path, CLOUDFOLIO_STORAGE="azure", CLOUDFOLIO_STORAGE_CONNECTION_STRING=service.connection_string,
            CLOUDFOLIO_STORAGE_CONTAINER=f"outage-{uuid.uuid4().hex[:8]}", CLOUDFOLIO_STORAGE_TIMEOUT="1",
            CLOUDFOLIO_STORAGE_RETRIES="1"))


def test_a_storage_outage_is_503_within_the_bound_and_nothing_half_written_is_served(
    blob_stack: tuple[RouterStack, Azurite]
) -> None:
    stack, service = blob_stack
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    job = stack.client.post("/bundles/octocat/refresh", json={"force": True}).json()["job_id"]
    assert stack.wait_job("octocat", job)["status"] == "completed"
    service.pause()
    answers: list[httpx.Response] = []
    try:
        ends = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < ends:
            for method, url in (("GET", "/bundles/octocat"), ("POST", "/bundles/yungryce/refresh"),
                                ("GET", "/ready")):
                answers.append(stack.client.request(method, url, timeout=CLIENT_TIMEOUT))
    finally:
        service.resume()
    assert answers and all(a.status_code == 503 for a in answers), sorted({a.status_code for a in answers})
    slowest = max(a.elapsed.total_seconds() for a in answers)
    print(f"storage outage: {len(answers)} answers, all 503, slowest {slowest:.2f} s")  # the figure, with -s
    outage = [a for a in answers if a.request.url.path != "/ready"]
    assert all(a.json()["error"] == "storage is unavailable; try again shortly" for a in outage)
    assert all(a.headers["retry-after"] for a in outage)
    ready = next(a for a in answers if a.request.url.path == "/ready").json()
    assert ready["status"] == "not ready" and ready["checks"]["storage"].startswith("unavailable")

    bundle = wait_until(lambda: (r := stack.client.get("/bundles/octocat")).status_code == 200 and r, 30)
    body = bundle.json()
    assert len(body["data"]) == 3 and body["fingerprint"] == bundle_fingerprint_of_records(body["data"])
    again = stack.client.post("/bundles/octocat/refresh", json={"force": True}).json()["job_id"]
    assert stack.wait_job("octocat", again, timeout=60)["status"] == "completed"
