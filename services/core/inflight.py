"""Refresh coalescing: at most one running job and one queued follow-up per user and namespace.

``inflight/<namespace>/<user>.json`` names the user's ``current`` job and the ``next`` one (a forced
refresh that arrived while ``current`` ran). It changes only by compare-and-swap, so any number of
router replicas agree on it:

- a refresh while a job is in flight returns that job (the follow-up when one is queued);
- a forced refresh while a job runs and none is queued creates the one follow-up, which waits for
  ``current`` to end before it plans (``after`` in its ``extra``);
- otherwise a new job becomes ``current``.

A job is in flight until it is terminal or expired, so a job whose worker died is still returned
until the sweeper fails it at the deadline; a lost document costs at most one extra job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from services.core.jobs import Job, JobNotFound, JobStore
from services.core.keys import Namespace, inflight_key, tenant_metadata
from services.core.storage import AlreadyExists, BlobNotFound, PreconditionFailed

#: Compare-and-swap attempts before a refresh gives up coalescing and just runs.
MAX_ATTEMPTS = 20
#: ``extra`` key of a follow-up job: the id of the job it waits for.
AFTER = "after"


@dataclass(frozen=True)
class Admission:
    """What a refresh got: the job to follow, and whether it was created by this call."""

    job: Job
    created: bool


class InflightJobs:
    """The in-flight register of refresh jobs.

    Parameters:
      jobs(JobStore): the jobs (and their storage) the register points at.
    """

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.storage = jobs.storage

    def _running(self, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        try:
            job = self.jobs.get(job_id)
        except JobNotFound:
            return None
        return None if job.terminal else job

    def admit(self, username: str, namespace: Namespace, force: bool, create: Callable[[str | None], Job],
              discard: Callable[[Job], None]) -> Admission:
        """The job a refresh follows; ``create(after)`` makes a new one (``after``: the job it waits
        for), ``discard`` removes one this call created but lost the race with."""
        key = inflight_key(namespace, username)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                blob = self.storage.get(key)
                doc, etag = json.loads(blob.data), blob.info.etag
            except (BlobNotFound, ValueError):
                doc, etag = {}, None
            current, following = self._running(doc.get("current")), self._running(doc.get("next"))
            if following is not None:
                return Admission(following, False)
            if current is not None and not force:
                return Admission(current, False)
            job = create(current.job_id if current is not None else None)
            new_doc = {"current": current.job_id, "next": job.job_id} if current else {"current": job.job_id,
                                                                                         "next": None}
            body = json.dumps(new_doc).encode()
            try:
                if etag is None:
                    self.storage.put(key, body, metadata=tenant_metadata(username), create_only=True)
                else:
                    self.storage.put(key, body, metadata=tenant_metadata(username), if_match=etag)
            except (AlreadyExists, PreconditionFailed):
                discard(job)  # another refresh changed the register first: follow what it chose
                continue
            return Admission(job, True)
        return Admission(create(None), True)

    def promote(self, username: str, namespace: Namespace, job_id: str) -> None:
        """A follow-up starts planning: it becomes ``current``, so the next forced refresh queues after it."""
        key = inflight_key(namespace, username)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                blob = self.storage.get(key)
                doc = json.loads(blob.data)
            except (BlobNotFound, ValueError):
                return
            if doc.get("next") != job_id:
                return
            body = json.dumps({"current": job_id, "next": None}).encode()
            try:
                self.storage.put(key, body, metadata=tenant_metadata(username), if_match=blob.info.etag)
                return
            except PreconditionFailed:
                continue


def waits_for(job: Job) -> str | None:
    """The id of the job a follow-up waits for, or None."""
    after = job.extra.get(AFTER)
    return after if isinstance(after, str) else None
