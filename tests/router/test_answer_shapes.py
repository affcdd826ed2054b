"""One answer shape on both paths: the same fields for cached, processing, status, bundle and errors.

Every answer is also validated against its OpenAPI schema by the stack client's conformance hook.
"""

from __future__ import annotations

import jsonschema

from router.schemas import SCHEMAS
from services.core.keys import Namespace
from services.legacy.durable import STATUS_PATH
from tests.router.conftest import RouterStack


def answers_on(stack: RouterStack, percentage: str) -> dict[str, dict]:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": percentage})
    started = stack.client.post("/bundles/octocat/refresh", json={"force": True})
    assert started.status_code == 202
    status = stack.wait_job("octocat", started.json()["job_id"])
    cached = stack.client.post("/bundles/octocat/refresh")
    assert cached.status_code == 200, cached.text
    return {"Accepted": started.json(), "JobStatus": status, "Cached": cached.json(),
            "Bundle": stack.client.get("/bundles/octocat").json(),
            "Record": stack.client.get("/bundles/octocat/octo-cli").json(),
            "Error": stack.client.get("/bundles/octocat/no-such-repo").json()}


def test_both_paths_answer_with_the_same_fields(stack: RouterStack) -> None:
    legacy, queue = answers_on(stack, "0"), answers_on(stack, "100")
    for name in legacy:
        jsonschema.validate(legacy[name], SCHEMAS[name])
        jsonschema.validate(queue[name], SCHEMAS[name])
        assert set(legacy[name]) == set(queue[name]), name
    assert (legacy["Cached"]["path"], queue["Cached"]["path"]) == ("legacy", "queue")
    assert legacy["Cached"]["bundle_fingerprint"] == queue["Cached"]["bundle_fingerprint"]
    assert legacy["Cached"]["repos_count"] == queue["Cached"]["repos_count"] == 3
    assert legacy["JobStatus"]["total_repos"] == legacy["JobStatus"]["completed_repos"] == 3
    assert legacy["JobStatus"]["legacy"]["runtime_status"] == "Completed" and queue["JobStatus"]["legacy"] is None


def test_a_running_legacy_job_reports_what_the_legacy_app_knows(stack: RouterStack) -> None:
    # an orchestration the legacy app reports as Running (created, never finished), and the router's job for it
    instance = stack.legacy.jobs.create("octocat", mode=Namespace.LEGACY)
    stack.legacy.jobs.set_total(instance.job_id, 0)
    status_url = f"{stack.context.legacy.client.base_url}{STATUS_PATH}{instance.job_id}"
    job = stack.context.pipeline.backends.jobs.create("octocat", mode=Namespace.LEGACY, extra={
        "path": "legacy", "instance_id": instance.job_id, "status_url": status_url})
    view = stack.client.get("/bundles/octocat/status", params={"job_id": job.job_id}).json()
    assert view["status"] == "processing" and view["path"] == "legacy"
    assert view["total_repos"] is None and view["completed_repos"] is None, "unknown, not 0"
    assert view["legacy"] == {"runtime_status": "Running", "custom_status": None}
