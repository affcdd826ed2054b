"""The merge step: merge a job's records, complete the job, ask for training.

A plain function over the domain; the queue machinery registers it as the ``merge_bundle`` actor
and calls :meth:`MergeSteps.merge_failed` when the message fails for good. Re-running it for the
same job finds the same records and leaves the bundle as it is (idempotent).
"""

from __future__ import annotations

import logging

from services.core.backends import Backends
from services.core.crashpoints import crash_point
from services.core.dispatch import Dispatcher
from services.core.jobs import JobNotFound
from services.core.keys import Namespace
from services.core.plans import load_plan
from services.core.usage import measure_cache_bytes
from services.merge.merger import merge_bundle

log = logging.getLogger("cloudfolio.merge")


class MergeSteps:
    """The merge of a refresh job.

    Parameters:
      backends(Backends): storage and jobs.
      dispatcher(Dispatcher): where training requests go.
    """

    def __init__(self, backends: Backends, dispatcher: Dispatcher) -> None:
        self.backends = backends
        self.jobs = backends.jobs
        self.dispatcher = dispatcher

    def merge_job(self, job_id: str, username: str, mode: str) -> None:
        try:
            self.jobs.get(job_id)
        except JobNotFound:
            log.warning("merge for unknown or expired job %s dropped", job_id)
            return
        plan = load_plan(self.backends.storage, job_id)
        if plan is None:
            self.jobs.fail(job_id, "merge found no plan for this job")
            return
        progress = self.jobs.progress(job_id)
        cache = self.backends.cache(mode)
        result = merge_bundle(cache, username, plan.names)
        if plan.names and result.repos_count == 0:
            self.jobs.fail(job_id, "nothing could be merged: no repo has a record", failed_repos=progress.failed_repos)
            return
        self.jobs.complete(job_id, bundle_fingerprint=result.bundle_fingerprint, repos_count=result.repos_count,
                           failed_repos=progress.failed_repos)
        if not progress.failed_repos:
            cache.mark_verified(username, result.bundle_fingerprint, result.repos_count)
        crash_point("after_job_completed")
        log.info("merged %d repos into %s%s", result.repos_count, result.bundle_fingerprint,
                 "" if result.written else " (unchanged: the stored bundle kept)")
        self._record_cache_bytes(username, Namespace(mode))
        if Namespace(mode) is Namespace.LIVE:
            self.dispatcher.request_training(job_id, username, result.content_fingerprint, result.bundle_fingerprint,
                                             result.documented)

    def _record_cache_bytes(self, username: str, namespace: Namespace) -> None:
        """The user's cache bytes in this namespace, for the cache quota; never fails the merge."""
        try:
            size = measure_cache_bytes(self.backends.storage, username, namespace)
            self.backends.usage.record_cache_bytes(username, namespace, size)
        except Exception as exc:  # usage is a report: a storage hiccup here must not redo the merge
            log.warning("cache bytes of %s not recorded: %s", username, type(exc).__name__)

    def merge_failed(self, error: str, job_id: str, username: str, mode: str) -> None:
        self.jobs.fail(job_id, f"merge failed: {error}")
