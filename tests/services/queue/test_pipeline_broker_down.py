"""With the broker down, a refresh is refused with 503 and nothing stays half-accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.queue.pipeline import BrokerUnavailable, build_pipeline
from tests.router.conftest import make_stack

DOWN = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens on port 1


def test_submit_fails_the_job_and_raises(tmp_path: Path) -> None:
    pipeline = build_pipeline(Settings.from_env({"CLOUDFOLIO_BROKER_URL": DOWN, "CLOUDFOLIO_DATA_DIR": str(tmp_path)}))
    with pytest.raises(BrokerUnavailable):
        pipeline.submit_refresh("octocat")
    [job_blob] = [i for i in pipeline.backends.storage.list("jobs/") if i.key.endswith("/job.json")]
    job = pipeline.backends.jobs.get(job_blob.key.split("/")[1])
    assert job.status == JobStatus.FAILED and "broker unavailable" in job.reasons[0]


def test_router_answers_503_with_retry_after(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, workers=False, CLOUDFOLIO_BROKER_URL=DOWN):
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        response = stack.client.post("/bundles/octocat/refresh")
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "broker" in response.json()["error"] and "Traceback" not in response.text
        ready = stack.client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"].startswith("unreachable")
