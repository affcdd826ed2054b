"""The ``refresh`` task of single-task mode: rebuild one user's bundle in this process, no broker.

:func:`run_refresh_task` builds the pipeline on the configured storage and GitHub source with the
embedded broker (whatever ``CLOUDFOLIO_BROKER_URL`` says: a container rebuilding one bundle needs
no queue), runs its plan, sync and merge workers in-process, submits the refresh and waits for the
job. It answers what the job produced, or raises :class:`RefreshFailed` with the job's reasons.
Without ``force`` the plan syncs only the repos that changed since the stored bundle (none, when
it is current), as every refresh does. Training is its own
task: the ``train_model`` message the merge sends stays in this process's memory and is dropped.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from services.core.errors import CloudfolioError
from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.core.tasks import TaskEnvelope
from services.queue.pipeline import build_pipeline
from services.queue.workers import InProcessWorkers

POLL_SECONDS = 0.2


class RefreshFailed(CloudfolioError):
    """The refresh job ended failed; the message holds its reasons."""


def run_refresh_task(settings: Settings, task: TaskEnvelope) -> dict[str, Any]:
    """Refresh ``task.username`` in ``task.namespace``; blocking until the job ends (run it under a deadline)."""
    pipeline = build_pipeline(dataclasses.replace(settings, broker_url=""))
    try:
        with InProcessWorkers(pipeline, roles=("all",)):
            job = pipeline.submit_refresh(task.username, force=task.force, mode=task.namespace)
            while not job.terminal:
                time.sleep(POLL_SECONDS)  # the job's document is the only signal a finished job leaves
                job = pipeline.backends.jobs.get(job.job_id)
        if job.status != JobStatus.COMPLETED:
            raise RefreshFailed("; ".join(job.reasons) or f"the refresh job {job.job_id} failed")
        return {"status": "refreshed", "job_id": job.job_id, "bundle_fingerprint": job.bundle_fingerprint,
                "repos_count": job.repos_count, "failed_repos": job.failed_repos}
    finally:
        pipeline.close()
