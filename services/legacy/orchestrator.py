"""The legacy orchestration, synchronous as the Durable Functions app ran it.

One orchestration = stale detection, a parallel fetch of stale repos on a thread pool (Durable's
fan-out), the merge, then training awaited inline, as the legacy did (the same trainer as the
queue path's ``train_model``, models under ``legacy/``; a failed training never fails the
orchestration, as the legacy's training activity never raised). Everything is written under the
``legacy/`` namespace. Instance state lives in the job store (``mode=legacy``), so the status API
survives a restart of this process and several replicas can share storage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.core.cache import BundleCache
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.jobs import Job, JobStatus, JobStore
from services.core.keys import CacheKeys, Namespace
from services.core.names import validate_username
from services.core.sources import RepoSource
from services.core.storage import StorageBackend
from services.legacy.pipeline import refresh_inline

log = logging.getLogger("cloudfolio.legacy")

#: host.json's maxConcurrentOrchestratorFunctions and maxConcurrentActivityFunctions.
MAX_ORCHESTRATIONS = 10
MAX_ACTIVITIES = 10


@dataclass(frozen=True)
class CachedAnswer:
    """What ``orchestrator_start`` answers with when the bundle matches GitHub (status 200)."""

    payload: dict[str, Any]


class LegacyOrchestrator:
    """Starts and tracks orchestrations.

    Parameters:
      storage(StorageBackend): shared storage; bundles go under ``legacy/``.
      source(RepoSource): where repos come from (GitHub in production).
      jobs(JobStore): instance state.
    """

    def __init__(self, storage: StorageBackend, source: RepoSource, jobs: JobStore,
                 trainer: Callable[[str, list[dict[str, Any]]], Any] | None = None) -> None:
        self.storage = storage
        self.source = source
        self.jobs = jobs
        self.trainer = trainer
        self.cache = BundleCache(storage, CacheKeys(Namespace.LEGACY))
        self._pool = ThreadPoolExecutor(max_workers=MAX_ORCHESTRATIONS, thread_name_prefix="orchestration")
        self._terminated: set[str] = set()
        self._lock = threading.Lock()
        #: Called on close (a source of its own, for instance).
        self.closers: list[Callable[[], None]] = []

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for close in self.closers:
            close()

    def cached_answer(self, username: str) -> CachedAnswer | None:
        """The legacy's 200 ``cached`` answer when the stored bundle matches GitHub now, else None."""
        cached = self.cache.load_bundle(username)
        if cached is None or not cached.data or not cached.fingerprint:
            return None
        repos = [repo for repo in self.source.list_repos(username) if repo.get("name")]
        current = bundle_fingerprint(metadata_fingerprint(repo) for repo in repos)
        if current != cached.fingerprint:
            return None
        return CachedAnswer({
            "status": "cached",
            "message": "Using cached repository data (fingerprint match)",
            "timestamp": datetime.now(UTC).replace(tzinfo=None).isoformat(),
            "cache_key": CacheKeys().bundle(username),
            "repos_count": len(cached.data) if isinstance(cached.data, list) else 0,
            "bundle_fingerprint": current,
            "cache_info": {"last_modified": cached.last_modified.isoformat(), "size_bytes": cached.size_bytes,
                           "no_expiry": False},
        })

    def start(self, username: str, *, force: bool = False) -> Job:
        job = self.jobs.create(validate_username(username), mode=Namespace.LEGACY, force=force)
        self._pool.submit(self._run, job.job_id, username, force)
        return job

    def _run(self, instance_id: str, username: str, force: bool) -> None:
        try:
            self._orchestrate(instance_id, username, force)
        finally:  # a termination is looked at once, here: nothing keeps its id afterwards
            with self._lock:
                self._terminated.discard(instance_id)

    def _orchestrate(self, instance_id: str, username: str, force: bool) -> None:
        self.jobs.set_total(instance_id, 0)  # Running
        try:
            result = refresh_inline(self.source, self.cache, username, force=force, workers=MAX_ACTIVITIES)
        except Exception as exc:  # any activity failure fails the whole orchestration, as in Durable
            log.warning("orchestration %s failed: %s", instance_id, exc, extra={"username": username})
            self.jobs.fail(instance_id, f"{type(exc).__name__}: {exc}")
            return
        if instance_id in self._terminated:
            return
        if result.failed:
            # the legacy had no partial results: one failed activity failed the orchestration
            first = sorted(result.failed.items())[0]
            self.jobs.fail(instance_id, f"activity failed for {first[0]}: {first[1]}", failed_repos=result.failed)
            return
        if self.trainer is not None:
            cached = self.cache.load_bundle(username)
            try:
                self.trainer(username, cached.data if cached is not None else [])
            except Exception as exc:  # the legacy's training activity caught everything too
                log.warning("inline training failed: %s", exc, extra={"username": username})
        self.jobs.complete(instance_id, bundle_fingerprint=result.bundle_fingerprint, repos_count=result.repos_count)

    def terminate(self, instance_id: str, reason: str) -> Job:
        with self._lock:
            self._terminated.add(instance_id)

        def change(job: Job) -> bool | None:
            if job.terminal:
                return False
            job.status, job.extra["terminated"] = JobStatus.FAILED.value, True
            job.reasons.append(f"terminated: {reason}")
            return None

        job = self.jobs.update(instance_id, change)
        if not job.extra.get("terminated"):  # it had ended on its own: no orchestration will look
            with self._lock:
                self._terminated.discard(instance_id)
        return job

    def output(self, job: Job) -> list[dict[str, Any]] | None:
        if job.status != JobStatus.COMPLETED:
            return None
        cached = self.cache.load_bundle(job.username)
        return cached.data if cached is not None else []
