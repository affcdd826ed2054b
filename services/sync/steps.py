"""Sync steps: ``plan_refresh`` fans a refresh out, ``sync_repo`` syncs one repo.

Plain functions over the domain (:class:`~services.core.backends.Backends`); the queue machinery
registers them as actors and calls the ``*_failed`` hooks when a message fails for good. Both are
idempotent under redelivery: the plan is stored once and reused, records are overwritten with the
same content, and per-repo completion is counted once (:mod:`services.core.jobs`). The process
that records a job's last repo wins the create-only merge claim and sends ``merge_bundle``.
A follow-up job (a forced refresh that arrived while another job of the user ran) plans only once
that job has ended: until then its plan message is sent again every :data:`FOLLOW_UP_POLL` seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from services.core.backends import Backends
from services.core.crashpoints import crash_point
from services.core.dispatch import Dispatcher
from services.core.errors import InvalidName
from services.core.inflight import InflightJobs, waits_for
from services.core.jobs import JobNotFound, RepoOutcome, RepoRecorded
from services.core.keys import Namespace
from services.core.names import validate_repo_name
from services.core.plans import StoredPlan, load_plan, save_plan
from services.core.sources import SourceAuthError, UserNotFound
from services.core.staleness import find_stale
from services.sync.repo_sync import sync_repo_record

log = logging.getLogger("cloudfolio.sync")

#: Errors that no retry can fix: the message fails at once.
PERMANENT_ERRORS = (UserNotFound, SourceAuthError, InvalidName)
#: Seconds between a waiting follow-up's looks at the job before it.
FOLLOW_UP_POLL = 1.0


def queue_namespace(mode: str) -> Namespace:
    """The namespace a queue-path run writes to: live or shadow (never legacy)."""
    namespace = Namespace(mode)
    if namespace is Namespace.LEGACY:
        raise ValueError("the queue path runs in live or shadow mode only")
    return namespace


class SyncSteps:
    """The planning and per-repo steps of a refresh job.

    Parameters:
      backends(Backends): storage, source and jobs.
      dispatcher(Dispatcher): sends the syncs and the merge.
    """

    def __init__(self, backends: Backends, dispatcher: Dispatcher) -> None:
        self.backends = backends
        self.jobs = backends.jobs
        self.dispatcher = dispatcher
        self.inflight = InflightJobs(backends.jobs)

    def _running(self, job_id: str) -> bool:
        try:
            return not self.jobs.get(job_id).terminal
        except JobNotFound:
            return False

    def plan_refresh(self, job_id: str, username: str, force: bool, mode: str) -> None:
        try:
            job = self.jobs.get(job_id)
        except JobNotFound:
            log.warning("plan for unknown or expired job %s dropped", job_id)
            return
        if job.terminal:
            return
        cache = self.backends.cache(mode)
        plan = load_plan(self.backends.storage, job_id)
        after = waits_for(job)
        if plan is None and after is not None:
            if self._running(after):
                self.dispatcher.send_plan_later(job_id, username, force, mode, FOLLOW_UP_POLL)
                return
            self.inflight.promote(username, Namespace(mode), job_id)
        if plan is None:
            listing = self.backends.source.list_repos(username)
            stale = find_stale(listing, cache, username, force=force)
            plan = save_plan(self.backends.storage, job_id, username, StoredPlan.from_stale_plan(stale))
            # counted once, when the plan is made (a redelivered plan reuses it)
            observations = self.backends.observations
            observations.cache("repo", True, username, len(plan.names) - len(plan.stale))
            observations.cache("repo", False, username, len(plan.stale))
        if not plan.stale:
            self.jobs.set_total(job_id, 0)
            if not force and cache.bundle_fingerprint(username) == plan.expected_fingerprint:
                self.jobs.complete(job_id, bundle_fingerprint=plan.expected_fingerprint, repos_count=len(plan.names))
                cache.mark_verified(username, plan.expected_fingerprint, len(plan.names))
                log.info("nothing stale; bundle is current")
                return
            # nothing to sync, yet the bundle differs (a repo vanished, or no bundle yet): merge
            if self.jobs.claim_merge(job_id, owner=self.dispatcher.delivery_id()):
                crash_point("after_merge_claim")
                self.dispatcher.send_merge(job_id, username, mode)
            return
        self.jobs.set_total(job_id, len(plan.stale))
        crash_point("after_plan_stored")
        for repo in plan.stale:
            self.dispatcher.send_sync(job_id, username, repo, mode)
        log.info("planned %d of %d repos", len(plan.stale), len(plan.names))

    def plan_failed(self, error: str, job_id: str, username: str, force: bool, mode: str) -> None:
        self.jobs.fail(job_id, f"planning failed: {error}")

    def sync_repo(self, job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        name = validate_repo_name(repo.get("name"))
        # the job is read once, when the repo is recorded: a message of an expired job costs one sync
        sync_repo_record(self.backends.source, self.backends.cache(mode), username, repo)
        try:
            recorded = self.jobs.record_repo(job_id, name)
        except JobNotFound:
            log.warning("sync of %s for unknown or expired job %s dropped", name, job_id)
            return
        self._after_recorded(job_id, username, mode, name, recorded)

    def sync_failed(self, error: str, job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        name = validate_repo_name(repo.get("name"))
        log.error("repo %s failed for good: %s", name, error)
        recorded = self.jobs.record_repo(job_id, name, outcome=RepoOutcome.FAILED, error=error)
        self._after_recorded(job_id, username, mode, name, recorded)

    def _after_recorded(self, job_id: str, username: str, mode: str, name: str, recorded: RepoRecorded) -> None:
        # at least once: the delivery that wins the claim sends the merge, and sends it again when it is
        # redelivered (it died, or the broker refused the send, between the claim and the send)
        if not recorded.all_done:
            return
        claim = f"replay-{name}" if recorded.upgraded else "0"
        if self.jobs.claim_merge(job_id, claim, owner=self.dispatcher.delivery_id()):
            crash_point("after_merge_claim")
            self.dispatcher.send_merge(job_id, username, mode)
