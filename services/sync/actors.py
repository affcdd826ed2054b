"""Sync actors: ``plan_refresh`` fans a refresh out, ``sync_repo`` syncs one repo.

Both are idempotent under redelivery: the plan is stored once and reused, records are overwritten
with the same content, and per-repo completion is counted once (:mod:`services.core.jobs`). The
process that records a job's last repo wins the create-only merge claim and sends ``merge_bundle``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq

from services.core.attempts import on_final_failure
from services.core.errors import InvalidName
from services.core.jobs import REPO_FAILED, JobNotFound, RepoRecorded
from services.core.keys import Namespace
from services.core.names import validate_repo_name
from services.core.plans import StoredPlan, load_plan, save_plan
from services.core.sources import SourceAuthError, UserNotFound
from services.core.staleness import find_stale
from services.sync.repo_sync import sync_repo_record

if TYPE_CHECKING:
    from services.pipeline import Pipeline

log = logging.getLogger("cloudfolio.sync")

#: Retries of a failed sync or plan before it is recorded as failed and dead-lettered.
SYNC_MAX_RETRIES = 3
#: Time limits in milliseconds, below RabbitMQ's 30-minute consumer timeout.
PLAN_TIME_LIMIT_MS = 10 * 60 * 1000
SYNC_TIME_LIMIT_MS = 5 * 60 * 1000
#: Errors that no retry can fix: fail at once.
PERMANENT_ERRORS = (UserNotFound, SourceAuthError, InvalidName)


@dataclass
class SyncActors:
    plan_refresh: dramatiq.Actor
    sync_repo: dramatiq.Actor


def register(pipeline: Pipeline) -> SyncActors:
    runtime = pipeline.runtime
    jobs = runtime.jobs

    def plan_failed(error: str, job_id: str, username: str, force: bool, mode: str) -> None:
        jobs.fail(job_id, f"planning failed: {error}")

    @on_final_failure(SYNC_MAX_RETRIES, PERMANENT_ERRORS, plan_failed)
    def plan_refresh(job_id: str, username: str, force: bool, mode: str) -> None:
        try:
            job = jobs.get(job_id)
        except JobNotFound:
            log.warning("plan for unknown or expired job %s dropped", job_id)
            return
        if job.terminal:
            return
        cache = runtime.cache(mode)
        plan = load_plan(runtime.storage, job_id)
        if plan is None:
            listing = runtime.source.list_repos(username)
            stale = find_stale(listing, cache, username, force=force)
            plan = save_plan(runtime.storage, job_id, username, StoredPlan.from_stale_plan(stale))
        if not plan.stale:
            jobs.set_total(job_id, 0)
            if not force and cache.bundle_fingerprint(username) == plan.expected_fingerprint:
                jobs.complete(job_id, bundle_fingerprint=plan.expected_fingerprint, repos_count=len(plan.names))
                cache.mark_verified(username, plan.expected_fingerprint)
                log.info("nothing stale; bundle is current")
                return
            # nothing to sync, yet the bundle differs (a repo vanished, or no bundle yet): merge
            if jobs.claim_merge(job_id):
                pipeline.send_merge(job_id, username, mode)
            return
        jobs.set_total(job_id, len(plan.stale))
        for repo in plan.stale:
            pipeline.send(sync_repo_actor.message(job_id, username, repo, mode))
        log.info("planned %d of %d repos", len(plan.stale), len(plan.names))

    def after_recorded(job_id: str, username: str, mode: str, name: str, recorded: RepoRecorded) -> None:
        if not recorded.all_done:
            return
        claim = f"replay-{name}" if recorded.upgraded else "0"
        if jobs.claim_merge(job_id, claim):
            pipeline.send_merge(job_id, username, mode)

    def sync_failed(error: str, job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        name = validate_repo_name(repo.get("name"))
        log.error("repo %s failed for good: %s", name, error)
        recorded = jobs.record_repo(job_id, name, outcome=REPO_FAILED, error=error)
        after_recorded(job_id, username, mode, name, recorded)

    @on_final_failure(SYNC_MAX_RETRIES, PERMANENT_ERRORS, sync_failed)
    def sync_repo(job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        name = validate_repo_name(repo.get("name"))
        try:
            jobs.get(job_id)
        except JobNotFound:
            log.warning("sync of %s for unknown or expired job %s dropped", name, job_id)
            return
        sync_repo_record(runtime.source, runtime.cache(mode), username, repo)
        after_recorded(job_id, username, mode, name, jobs.record_repo(job_id, name))

    settings = runtime.settings
    plan_actor = dramatiq.Actor(
        plan_refresh, broker=runtime.broker, actor_name="plan_refresh", queue_name=settings.sync_queue,
        priority=0, options={"max_retries": SYNC_MAX_RETRIES, "time_limit": PLAN_TIME_LIMIT_MS,
                             "throws": PERMANENT_ERRORS},
    )
    sync_repo_actor = dramatiq.Actor(
        sync_repo, broker=runtime.broker, actor_name="sync_repo", queue_name=settings.sync_queue,
        priority=0, options={"max_retries": SYNC_MAX_RETRIES, "time_limit": SYNC_TIME_LIMIT_MS,
                             "throws": PERMANENT_ERRORS},
    )
    return SyncActors(plan_refresh=plan_actor, sync_repo=sync_repo_actor)


def namespace_of(mode: str) -> Namespace:
    namespace = Namespace(mode)
    if namespace is Namespace.LEGACY:
        raise ValueError("the queue path runs in live or shadow mode only")
    return namespace
