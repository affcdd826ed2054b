"""What both serving paths share: a started run, a finished run's result, the status view.

:class:`Run` is either already current (a :class:`CachedBundle`) or a job to follow;
:class:`RunResult` is what a finished run produced, reduced to what a comparison needs;
:func:`status_view` is the one shape of ``GET /bundles/{u}/status`` on both paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout.comparison import metadata_of, revision_of
from services.core.jobs import Job, JobStatus
from services.core.records import record_name


class PathFailed(Exception):
    """A run ended failed; the message says why."""


@dataclass(frozen=True)
class CachedBundle:
    """A bundle that is current: what the ``cached`` refresh answer reports, on either path."""

    fingerprint: str | None
    repos_count: int | None
    last_modified: str | None
    size_bytes: int | None
    cache_key: str
    verified_at: str | None  # when the path last checked it against GitHub

    def answer(self, username: str, path: str) -> dict[str, Any]:
        """The public ``cached`` answer of ``POST /bundles/{u}/refresh``."""
        return {"status": "cached", "username": username, "path": path, "bundle_fingerprint": self.fingerprint,
                "repos_count": self.repos_count, "last_modified": self.last_modified, "size_bytes": self.size_bytes,
                "cache_key": self.cache_key, "verified_at": self.verified_at}


@dataclass
class Run:
    """A started run: either already current (``cached``) or a job to follow."""

    path: str
    username: str
    cached: CachedBundle | None = None
    job: Job | None = None


@dataclass
class RunResult:
    """The records a finished run produced, reduced to what a comparison needs."""

    fingerprints: dict[str, str]
    bundle_fingerprint: str
    seconds: float
    revisions: dict[str, str] = field(default_factory=dict)  # {repo: the source revision it was built from}
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # {repo: its fingerprinted fields}

    @classmethod
    def of(cls, records: Any, bundle_fingerprint: str, seconds: float) -> RunResult:
        """The result of a run that produced ``records`` (a list of records; anything else: empty)."""
        listed = [r for r in records if isinstance(r, dict) and record_name(r)] if isinstance(records, list) else []
        # one pass over the records: each map below is keyed by the name just checked
        return cls({record_name(r): r.get("fingerprint", "") for r in listed}, bundle_fingerprint, seconds,
                   {record_name(r): revision_of(r) for r in listed}, {record_name(r): metadata_of(r) for r in listed})


def fingerprints_of(records: Any) -> dict[str, str]:
    """``{repo: fingerprint}`` of a list of records (anything else gives an empty map)."""
    result: dict[str, str] = {}
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record_name(record):
            result[record_name(record)] = record.get("fingerprint", "")
    return result


def revisions_of(records: Any) -> dict[str, str]:
    """``{repo: source revision}`` of a list of records (:func:`rollout.comparison.revision_of`)."""
    return {record_name(r): revision_of(r) for r in records if isinstance(r, dict) and record_name(r)} \
        if isinstance(records, list) else {}


def job_seconds(job: Job) -> float | None:
    """Created-to-finished time of a job, from its own timestamps."""
    if not job.finished_at:
        return None
    return max(0.0, (datetime.fromisoformat(job.finished_at) - datetime.fromisoformat(job.created_at)).total_seconds())


def status_view(job: Job, total: int | None, completed: int | None, failed: list[dict[str, str]],
                legacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job status answer; ``legacy`` carries what the legacy app reported (None on the queue path)."""
    return {
        "job_id": job.job_id,
        "status": JobStatus.PROCESSING.value if job.status == JobStatus.PENDING else job.status,
        "path": job.extra.get("path"),
        "total_repos": total,
        "completed_repos": completed,
        "failed_repos": failed,
        "created_at": job.created_at,
        "bundle_fingerprint": job.bundle_fingerprint if job.status == JobStatus.COMPLETED else None,
        "reasons": job.reasons,
        "legacy": legacy,
    }


def record_view(username: str, path: str, cached: Any, **extra: str) -> dict[str, Any]:
    """A bundle or record answer: who, which path, the stored facts, and the data."""
    return {"username": username, **extra, "fingerprint": cached.fingerprint, "path": path,
            "last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes, "data": cached.data}
