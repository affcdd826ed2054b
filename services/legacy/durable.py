"""Durable Functions' HTTP API shapes, in one place: status payloads, runtime statuses, URLs.

The legacy replica answers with these shapes, and the router answers with them for queue-path jobs
started through the legacy routes, so both speak exactly the extension's format:

- the status route ``/runtime/webhooks/durabletask/instances/{id}``: 202 with ``Location`` and
  ``Retry-After`` while Pending or Running, 200 once Completed, Failed or Terminated (500 for
  Failed when ``returnInternalServerErrorOnFailure=true``), as the extension's HttpApiHandler;
- the management payload a start answers with (``id``, ``statusQueryGetUri``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from services.core.jobs import Job, JobStatus

STATUS_PATH = "/runtime/webhooks/durabletask/instances/"
ORCHESTRATOR_NAME = "repo_context_orchestrator"
PENDING, RUNNING, COMPLETED, FAILED, TERMINATED = "Pending", "Running", "Completed", "Failed", "Terminated"
RUNTIME_STATUS = {JobStatus.PENDING: PENDING, JobStatus.PROCESSING: RUNNING, JobStatus.COMPLETED: COMPLETED,
                  JobStatus.FAILED: FAILED}
IN_PROGRESS = frozenset({PENDING, RUNNING})

#: Management operations, in the extension's order, with the path and query each adds.
MANAGEMENT_URLS = {
    "statusQueryGetUri": ("", ""),
    "sendEventPostUri": ("/raiseEvent/{eventName}", ""),
    "terminatePostUri": ("/terminate", "reason={text}"),
    "rewindPostUri": ("/rewind", "reason={text}"),
    "purgeHistoryDeleteUri": ("", ""),
    "restartPostUri": ("/restart", ""),
    "suspendPostUri": ("/suspend", "reason={text}"),
    "resumePostUri": ("/resume", "reason={text}"),
}


def _utc(text: str) -> str:
    return text.replace("+00:00", "Z")


def runtime_status(job: Job) -> str:
    """Durable's runtime status of a job (a terminated legacy run reads ``Terminated``)."""
    if job.extra.get("terminated"):
        return TERMINATED
    return RUNTIME_STATUS[JobStatus(job.status)]


def status_payload(job: Job, output: Any) -> dict[str, Any]:
    """The status body of the extension for ``job`` with the given ``output``."""
    return {
        "name": ORCHESTRATOR_NAME,
        "instanceId": job.job_id,
        "runtimeStatus": runtime_status(job),
        "input": job.username,
        "customStatus": None,
        "output": output,
        "createdTime": _utc(job.created_at),
        "lastUpdatedTime": _utc(job.finished_at or datetime.now(UTC).isoformat()),
    }


def status_code(runtime: str, *, fail_with_500: bool = False) -> int:
    """202 while in progress, 500 for Failed when asked to, else 200."""
    if runtime in IN_PROGRESS:
        return 202
    return 500 if runtime == FAILED and fail_with_500 else 200


def management_payload(base: str, instance_id: str, query: str = "",
                       operations: Iterable[str] = tuple(MANAGEMENT_URLS)) -> dict[str, str]:
    """``{"id", <operation>Uri...}`` for an instance whose status URL is ``base + STATUS_PATH + id``."""
    root = base.rstrip("/") + STATUS_PATH + instance_id
    payload = {"id": instance_id}
    for name in operations:
        suffix, own_query = MANAGEMENT_URLS[name]
        joined = "&".join(part for part in (own_query, query) if part)
        payload[name] = f"{root}{suffix}" + (f"?{joined}" if joined else "")
    return payload
