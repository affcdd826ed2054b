"""The ``merge_bundle`` actor: merge a job's records, complete the job, hand off training."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import dramatiq

from services.core.attempts import on_final_failure
from services.core.jobs import JobNotFound
from services.core.keys import Namespace
from services.core.plans import load_plan
from services.merge.merger import merge_bundle

if TYPE_CHECKING:
    from services.pipeline import Pipeline

log = logging.getLogger("cloudfolio.merge")

MERGE_MAX_RETRIES = 3
MERGE_TIME_LIMIT_MS = 10 * 60 * 1000
#: The legacy trained only with at least this many documented repos; fewer gives a useless model.
MIN_DOCUMENTED_FOR_TRAINING = 3


def register(pipeline: Pipeline) -> dramatiq.Actor:
    runtime = pipeline.runtime
    jobs = runtime.jobs

    def merge_failed(error: str, job_id: str, username: str, mode: str) -> None:
        jobs.fail(job_id, f"merge failed: {error}")

    @on_final_failure(MERGE_MAX_RETRIES, (), merge_failed)
    def merge_job(job_id: str, username: str, mode: str) -> None:
        try:
            jobs.get(job_id)
        except JobNotFound:
            log.warning("merge for unknown or expired job %s dropped", job_id)
            return
        plan = load_plan(runtime.storage, job_id)
        if plan is None:
            jobs.fail(job_id, "merge found no plan for this job")
            return
        progress = jobs.progress(job_id)
        result = merge_bundle(runtime.cache(mode), username, plan.names)
        if plan.names and result.repos_count == 0:
            jobs.fail(job_id, "nothing could be merged: no repo has a record", failed_repos=progress.failed_repos)
            return
        jobs.complete(job_id, bundle_fingerprint=result.bundle_fingerprint, repos_count=result.repos_count,
                      failed_repos=progress.failed_repos)
        if not progress.failed_repos:
            runtime.cache(mode).mark_verified(username, result.bundle_fingerprint)
        log.info("merged %d repos into %s", result.repos_count, result.bundle_fingerprint)
        if Namespace(mode) is Namespace.LIVE and result.documented >= MIN_DOCUMENTED_FOR_TRAINING:
            pipeline.request_training(job_id, username, result.content_fingerprint, result.bundle_fingerprint)

    return dramatiq.Actor(
        merge_job, broker=runtime.broker, actor_name="merge_bundle", queue_name=runtime.settings.merge_queue,
        priority=0, options={"max_retries": MERGE_MAX_RETRIES, "time_limit": MERGE_TIME_LIMIT_MS},
    )
