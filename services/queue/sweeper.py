"""The job sweeper: every job ends, a stalled hand-off is sent again, and expired jobs are deleted.

Every worker process runs :class:`Sweeper` in a background thread. For each unfinished job:

- a job still ``pending`` (its plan message never ran: lost, or the worker died holding it) that
  is older than ``stall_seconds`` gets its ``plan_refresh`` sent again, once (a follow-up still
  waiting for a running job is not stalled);
- a job whose repos are all done but that is still not complete ``stall_seconds`` after its merge
  was claimed gets its ``merge_bundle`` sent again (every step is idempotent, so a duplicate costs
  a second merge and nothing else), up to :data:`MAX_RESENDS` times;
- a job not finished ``deadline`` seconds after creation is failed with a reason naming how far
  it got, except that a job whose repos are all done gets one more merge first.

Jobs past their TTL are deleted with their markers.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from services.core.inflight import waits_for
from services.core.job_listing import job_ids
from services.core.jobs import Job, JobNotFound, JobStatus, JobStore
from services.core.keys import job_key
from services.core.periodic import Periodic

log = logging.getLogger("cloudfolio.sweeper")

#: Merges sent again for one job before the deadline fails it.
MAX_RESENDS = 3


class Recovery(Protocol):
    def resend_plan(self, job: Job) -> None: ...

    def resend_merge(self, job: Job) -> None: ...


def _resent(jobs: JobStore, job: Job, counter: str) -> int:
    """Count one more resend on the job; return how many there were before."""
    before: list[int] = []

    def change(current: Job) -> None:
        before.append(int(current.extra.get(counter, 0)))
        current.extra[counter] = before[-1] + 1

    jobs.update(job.job_id, change)
    return before[-1]


def _waiting(jobs: JobStore, job: Job) -> bool:
    """A follow-up whose predecessor still runs: pending on purpose."""
    after = waits_for(job)
    if after is None:
        return False
    try:
        return not jobs.get(after).terminal
    except JobNotFound:
        return False


def _recover(jobs: JobStore, job: Job, recovery: Recovery, now: datetime, stall: timedelta,
             overdue: bool) -> bool:
    """Send a stalled hand-off again; True when something was sent."""
    if job.status == JobStatus.PENDING:
        stalled = now - datetime.fromisoformat(job.created_at) >= stall
        if stalled and not job.extra.get("plan_resends") and not _waiting(jobs, job):
            _resent(jobs, job, "plan_resends")
            recovery.resend_plan(job)
            log.warning("re-sent the plan of stalled job %s", job.job_id, extra={"job_id": job.job_id})
            return True
        return False
    progress = jobs.progress(job.job_id)
    claimed = jobs.merge_claimed_at(job.job_id)
    if not progress.all_done or claimed is None or (now - claimed < stall and not overdue):
        return False
    if job.extra.get("merge_resends", 0) >= MAX_RESENDS:
        return False
    _resent(jobs, job, "merge_resends")
    recovery.resend_merge(job)
    log.warning("re-sent the merge of stalled job %s (all %s repos done)", job.job_id, progress.total,
                extra={"job_id": job.job_id})
    return True


def sweep_jobs(jobs: JobStore, deadline_seconds: int, now: datetime | None = None, *,
               recovery: Recovery | None = None, stall_seconds: float = 60) -> dict[str, int]:
    """Recover stalled jobs, fail overdue ones, delete expired ones; return counts of each."""
    now = now or datetime.now(UTC)
    counts = {"failed": 0, "deleted": 0, "resent": 0}
    for job_id in job_ids(jobs.storage):
        try:
            job = Job(**json.loads(jobs.storage.get(job_key(job_id)).data))
        except Exception:  # deleted meanwhile, or unreadable: nothing to do with it here
            continue
        if datetime.fromisoformat(job.expires_at) <= now:
            jobs.delete(job_id)
            counts["deleted"] += 1
            continue
        if job.terminal:
            continue
        overdue = datetime.fromisoformat(job.created_at) + timedelta(seconds=deadline_seconds) <= now
        try:
            if recovery is not None and _recover(jobs, job, recovery, now, timedelta(seconds=stall_seconds), overdue):
                counts["resent"] += 1
                continue
            if overdue:
                progress = jobs.progress(job_id)
                reason = (f"deadline of {deadline_seconds}s passed with {progress.done}/{progress.total} repos done: "
                          "messages were lost (dead-lettered or expired)")
                jobs.fail(job_id, reason, failed_repos=progress.failed_repos)
                counts["failed"] += 1
                log.warning("failed overdue job %s", job_id, extra={"job_id": job_id, "username": job.username})
        except JobNotFound:
            continue
    return counts


class Sweeper:
    """Runs :func:`sweep_jobs` every ``interval`` seconds in a daemon thread.

    Parameters:
      jobs(JobStore): the jobs to sweep.
      deadline_seconds(int): age at which an unfinished job is failed.
      interval(float | None): seconds between sweeps; a quarter of the deadline (1-60 s) by default.
      recovery(Recovery | None): re-sends stalled hand-offs (the pipeline); None only fails and deletes.
      stall_seconds(float): how long a hand-off may stall before it is sent again. Defaults to 60.
    """

    def __init__(self, jobs: JobStore, deadline_seconds: int, interval: float | None = None, *,
                 recovery: Recovery | None = None, stall_seconds: float = 60) -> None:
        self.jobs = jobs
        self.deadline_seconds = deadline_seconds
        self.interval = interval if interval is not None else max(1.0, min(60.0, deadline_seconds / 4))
        self.recovery = recovery
        self.stall_seconds = stall_seconds
        self._periodic = Periodic("job sweep", self.interval, self.sweep, log)

    def start(self) -> Sweeper:
        self._periodic.start()
        return self

    def stop(self) -> None:
        self._periodic.stop()

    def sweep(self) -> object:
        return sweep_jobs(self.jobs, self.deadline_seconds, recovery=self.recovery, stall_seconds=self.stall_seconds)
