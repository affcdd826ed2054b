"""Refresh jobs on the storage backend: creation, per-repo progress, merge claim, terminal states.

No database: everything is blobs with conditional writes, so any number of worker processes can
share a job safely.

- ``jobs/<id>/job.json`` holds the job document. Changes go through compare-and-swap on its etag
  (:meth:`JobStore.update`), retried on conflict.
- ``jobs/<id>/repos/<repo>`` is created (create-only) when a repo finishes, with its outcome in the
  blob metadata. A repo recorded twice (at-least-once delivery) is counted once; a crash after the
  marker is written loses nothing, because the markers *are* the count. A later success replaces a
  failure (a message replayed from the dead-letter queue); a success is never downgraded.
- ``recorded`` in ``job.json`` counts markers without listing them: each new marker adds one by
  compare-and-swap, and a duplicate (which may be the redelivery of a worker that died between its
  marker and its count) raises it to the listed count. It may run ahead of the markers, never
  behind once every delivery has finished, so the markers are listed only when it says the last
  repo may be done: per repo one marker write and one job update, whatever the job's size.
- ``failures`` in ``job.json`` copies the failed markers' repos and errors (in the same update as
  the count; a replayed success removes its repo), so a status poll reads one blob
  (:meth:`JobStore.progress_of`) instead of listing the markers; decisions (the merge, the
  sweeper) still count the markers (:meth:`JobStore.progress`).
- ``jobs/<id>/merge-claim-<n>`` is created by whoever sees the last repo finish: exactly one process
  wins it and enqueues the merge.
- A job past its TTL, or one never created, reads as not found.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.core.errors import CloudfolioError, NotFound
from services.core.group_commit import GroupCommit
from services.core.keys import (
    Namespace,
    job_key,
    job_merge_claim_key,
    job_prefix,
    job_repo_key,
    job_repos_prefix,
    new_job_id,
    tenant_metadata,
)
from services.core.names import validate_username
from services.core.storage import AlreadyExists, BlobNotFound, PreconditionFailed, StorageBackend

#: Default time a job stays readable after creation, in seconds.
DEFAULT_JOB_TTL = 3600
#: How often a compare-and-swap update is retried before giving up.
MAX_CAS_ATTEMPTS = 50
#: Characters of a failed repo's error kept in ``job.json`` (the marker keeps 2,000).
FAILURE_TEXT = 500



class JobStatus(StrEnum):
    """Where a job is: ``pending`` until planned, ``processing``, then ``completed`` or ``failed``."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class RepoOutcome(StrEnum):
    """How one repo of a job ended."""

    COMPLETED = "completed"
    FAILED = "failed"


class JobNotFound(NotFound, KeyError):
    """No job with that id, or it expired."""


class JobConflict(CloudfolioError):
    """A job document kept changing under us; compare-and-swap gave up."""


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    """A refresh job as stored in ``job.json``."""

    job_id: str
    username: str
    mode: str
    force: bool
    created_at: str
    expires_at: str
    status: str = JobStatus.PENDING.value
    total: int | None = None
    bundle_fingerprint: str | None = None
    repos_count: int | None = None
    reasons: list[str] = field(default_factory=list)
    failed_repos: list[dict[str, str]] = field(default_factory=list)
    finished_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    recorded: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # repo -> error, beside the failed markers

    def expired(self, now: datetime) -> bool:
        return datetime.fromisoformat(self.expires_at) <= now

    @property
    def terminal(self) -> bool:
        return JobStatus(self.status).terminal


@dataclass(frozen=True)
class Progress:
    """Counts of a job's repos; ``done`` is completed plus failed."""

    total: int | None
    completed: int
    failed: int
    failed_repos: dict[str, str]

    @property
    def done(self) -> int:
        return self.completed + self.failed

    @property
    def all_done(self) -> bool:
        return self.total is not None and self.done >= self.total


@dataclass(frozen=True)
class RepoRecorded:
    """What :meth:`JobStore.record_repo` did: whether this call counted, and how many repos are done."""

    counted: bool
    done: int
    total: int | None
    upgraded: bool = False  # a failure replaced by a success (a replayed message)

    @property
    def all_done(self) -> bool:
        return self.total is not None and self.done >= self.total


class JobStore:
    """Jobs on a storage backend.

    Parameters:
      storage(StorageBackend): where job blobs live.
      ttl_seconds(int): how long a job stays readable after creation. Defaults to 3600.
      clock(Clock): the current UTC time; tests pass their own instead of sleeping.
    """

    def __init__(self, storage: StorageBackend, ttl_seconds: int = DEFAULT_JOB_TTL, *,
                 clock: Clock = utc_now) -> None:
        self.storage = storage
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        # one process's concurrent updates of a job share one compare-and-swap, which then only races
        # other processes (32 threads counting one job's repos spent half their time waiting for it)
        self._group = GroupCommit[Job](self._update)

    # -- create and read ---------------------------------------------------------------------
    def create(
        self, username: str, *, mode: Namespace | str = Namespace.LIVE, force: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Job:
        now = self.clock()
        job = Job(
            job_id=new_job_id(now),
            username=validate_username(username),
            mode=Namespace(mode).value,
            force=bool(force),
            created_at=now.isoformat(),
            expires_at=(now + timedelta(seconds=self.ttl_seconds)).isoformat(),
            extra=dict(extra or {}),
        )
        self.storage.put(
            job_key(job.job_id), self._encode(job), metadata=tenant_metadata(job.username), create_only=True
        )
        return job

    def get(self, job_id: str) -> Job:
        job, _etag = self._read(job_id)
        return job

    def _read(self, job_id: str) -> tuple[Job, str]:
        try:
            blob = self.storage.get(job_key(job_id))
        except (BlobNotFound, ValueError):
            raise JobNotFound(job_id) from None
        job = Job(**json.loads(blob.data))
        if job.expired(self.clock()):
            raise JobNotFound(job_id)
        return job, blob.info.etag

    @staticmethod
    def _encode(job: Job) -> bytes:
        # its fields as they are (JSON values all): asdict's deep copy cost a third of a job update
        return json.dumps(vars(job), separators=(",", ":")).encode()

    def update(self, job_id: str, change: Callable[[Job], bool | None]) -> Job:
        """Apply ``change`` to the job with compare-and-swap; ``change`` returns False to skip writing.

        Changes of this process that arrive together are written together (:mod:`group_commit`): the
        job returned is the one written, which may already hold another caller's change.
        """
        return self._group.update(job_id, change)

    def _update(self, job_id: str, change: Callable[[Job], bool | None]) -> Job:
        for attempt in range(MAX_CAS_ATTEMPTS):
            job, etag = self._read(job_id)
            if change(job) is False:
                return job
            try:
                self.storage.put(
                    job_key(job_id), self._encode(job), metadata=tenant_metadata(job.username), if_match=etag
                )
                return job
            except PreconditionFailed:
                # jittered: writers that collided must not collide again in lockstep
                time.sleep(random.uniform(0, min(0.001 * 2**attempt, 0.05)))
        raise JobConflict(f"job {job_id} changed {MAX_CAS_ATTEMPTS} times while we tried to update it")

    # -- progress ----------------------------------------------------------------------------
    def set_total(self, job_id: str, total: int) -> Job:
        def change(job: Job) -> bool | None:
            if job.terminal:
                return False
            job.total, job.status = int(total), JobStatus.PROCESSING.value
            return None

        return self.update(job_id, change)

    def record_repo(self, job_id: str, repo: str, *, outcome: str = RepoOutcome.COMPLETED,
                    error: str = "") -> RepoRecorded:
        """Mark one repo as finished; idempotent, safe from any number of processes.

        Raises :class:`JobNotFound` (and leaves no marker) when the job is unknown or expired.
        """
        outcome = RepoOutcome(outcome)
        key = job_repo_key(job_id, repo)
        body = json.dumps({"outcome": outcome, "error": error[:2000], "at": self.clock().isoformat()}).encode()
        metadata = {"outcome": outcome.value}
        failure = (repo, error[:FAILURE_TEXT]) if outcome is RepoOutcome.FAILED else None
        try:
            self.storage.put(key, body, metadata=metadata, create_only=True)
        except AlreadyExists:
            upgraded = outcome is RepoOutcome.COMPLETED and self._upgrade_to_completed(key, body, metadata)
            listed = self.storage.count(job_repos_prefix(job_id))
            # a redelivered failure re-records it (its worker may have died before the job update)
            job = self._count(job_id, lambda recorded: max(recorded, listed), failure=failure,
                              cleared=repo if upgraded else None)
            return RepoRecorded(counted=upgraded, done=listed, total=job.total, upgraded=upgraded)
        try:
            job = self._count(job_id, lambda recorded: recorded + 1, failure=failure)
        except JobNotFound:
            self.storage.delete(key)
            raise
        done = job.recorded
        if job.total is not None and done >= job.total:  # the last repo may be done: the markers decide
            done = self.storage.count(job_repos_prefix(job_id))
        return RepoRecorded(counted=True, done=done, total=job.total)

    def _count(self, job_id: str, new_count: Callable[[int], int], *, failure: tuple[str, str] | None = None,
               cleared: str | None = None) -> Job:
        def change(job: Job) -> bool | None:
            value = new_count(job.recorded)
            known = failure is None or job.failures.get(failure[0]) == failure[1]
            if value == job.recorded and known and (cleared is None or cleared not in job.failures):
                return False
            job.recorded = value
            if failure is not None:
                job.failures[failure[0]] = failure[1]
            if cleared is not None:
                job.failures.pop(cleared, None)
            return None

        return self.update(job_id, change)

    def _upgrade_to_completed(self, key: str, body: bytes, metadata: dict[str, str]) -> bool:
        for _attempt in range(MAX_CAS_ATTEMPTS):
            try:
                info = self.storage.head(key)
            except BlobNotFound:
                return False
            if info.metadata.get("outcome") == RepoOutcome.COMPLETED:
                return False
            try:
                self.storage.put(key, body, metadata=metadata, if_match=info.etag)
                return True
            except PreconditionFailed:
                continue
        return False

    @staticmethod
    def progress_of(job: Job) -> Progress:
        """The job's progress from its own document, no listing: what a status poll shows. It may
        trail the markers by the repos whose worker died before counting them (their redelivery
        counts them)."""
        done = job.recorded if job.total is None else min(job.recorded, job.total)
        failed = dict(job.failures)
        return Progress(job.total, max(0, done - len(failed)), len(failed), failed)

    def progress(self, job_id: str) -> Progress:
        """The job's progress counted from its repo markers (exact; lists them)."""
        job = self.get(job_id)
        completed, failed_repos = 0, {}
        prefix = job_repos_prefix(job_id)
        for info in self.storage.list(prefix):
            if info.metadata.get("outcome") == RepoOutcome.FAILED:
                failed_repos[info.key[len(prefix):]] = ""
            else:
                completed += 1
        for name in failed_repos:
            try:
                failed_repos[name] = json.loads(self.storage.get(prefix + name).data).get("error", "")
            except BlobNotFound:
                continue
        return Progress(job.total, completed, len(failed_repos), failed_repos)

    def claim_merge(self, job_id: str, claim: str = "0", owner: str | None = None) -> bool:
        """True for the caller that must send the merge: whoever creates the claim, and that same
        owner again (a redelivery of the message that won it, after a crash or a refused send).

        Claim ``"0"`` is the first merge; ``"replay-<repo>"`` is the re-merge after a replayed
        message turned that repo's failure into a success. ``owner`` names the delivery (a message
        id, stable across redeliveries); duplicates of the message have other ids and send nothing.
        """
        key = job_merge_claim_key(job_id, claim)
        try:
            self.storage.put(key, json.dumps({"at": self.clock().isoformat(), "owner": owner}).encode(),
                             create_only=True)
        except AlreadyExists:
            if owner is None:
                return False
            try:
                return json.loads(self.storage.get(key).data).get("owner") == owner
            except BlobNotFound:
                return False
        return True

    def merge_claimed_at(self, job_id: str, claim: str = "0") -> datetime | None:
        """When the job's merge was claimed (sent), or None."""
        try:
            return datetime.fromisoformat(json.loads(self.storage.get(job_merge_claim_key(job_id, claim)).data)["at"])
        except (BlobNotFound, KeyError, ValueError):
            return None

    # -- terminal states ---------------------------------------------------------------------
    def complete(
        self, job_id: str, *, bundle_fingerprint: str, repos_count: int,
        failed_repos: dict[str, str] | None = None,
    ) -> Job:
        def change(job: Job) -> None:
            job.status = JobStatus.COMPLETED.value
            job.bundle_fingerprint = bundle_fingerprint
            job.repos_count = repos_count
            job.failed_repos = [{"repo": r, "error": e} for r, e in sorted((failed_repos or {}).items())]
            job.finished_at = self.clock().isoformat()

        return self.update(job_id, change)

    def fail(self, job_id: str, reason: str, *, failed_repos: dict[str, str] | None = None) -> Job:
        def change(job: Job) -> bool | None:
            if job.status == JobStatus.COMPLETED:
                return False  # a completed job keeps its result
            job.status = JobStatus.FAILED.value
            job.reasons.append(reason)
            if failed_repos:
                job.failed_repos = [{"repo": r, "error": e} for r, e in sorted(failed_repos.items())]
            job.finished_at = self.clock().isoformat()
            return None

        return self.update(job_id, change)

    def delete(self, job_id: str) -> None:
        """Delete the job's blobs, its document last: a delete cut short leaves the (expired) document,
        so the next sweep finds the job and finishes the delete."""
        document = job_key(job_id)
        for key in list(self.storage.keys(job_prefix(job_id))):
            if key != document:
                self.storage.delete(key)
        self.storage.delete(document)
