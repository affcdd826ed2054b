"""The dashboard's recent jobs: a head of every job kept (what it did) against reading the newest ids.

Job ids begin with their creation time (``services.core.keys.new_job_id``), so ``recent_jobs``
sorts one listing of ``jobs/`` and reads only the jobs it shows. Before, it headed every job's
document to sort by the time it last changed, and then read the ones it showed. Both run here
side by side on the same local storage, per number of jobs kept, with the listing alone for scale.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from loadtest.bench_common import Section, ms
from services.core.job_listing import job_ids, recent_jobs
from services.core.jobs import Job, JobStore
from services.core.keys import job_key
from services.core.storage.local import LocalBackend

#: Rows the dashboard shows (router.pages.dashboard_data.RECENT_JOBS).
SHOWN = 12


def head_every_job(jobs: JobStore, limit: int) -> list[Job]:
    """The former way: a head per job kept, sorted by last change, then the newest documents read."""
    heads = sorted((jobs.storage.head(job_key(job_id)) for job_id in job_ids(jobs.storage)),
                   key=lambda info: info.last_modified, reverse=True)
    return [jobs.get(info.key.split("/")[1]) for info in heads[:limit]]


def _median_ms(work: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return ms(timings, 0.5)


def _timings(jobs: JobStore, rounds: int) -> tuple[float, float, float]:
    """Median ms of the listing alone, a head per job, and the newest ids read."""
    return (_median_ms(lambda: job_ids(jobs.storage), rounds), _median_ms(lambda: head_every_job(jobs, SHOWN), rounds),
            _median_ms(lambda: recent_jobs(jobs, SHOWN), rounds))


def recent_jobs_cost(sizes: tuple[int, ...] = (200, 800), rounds: int = 7) -> Section:
    section = Section(f"Dashboard's recent jobs ({SHOWN} shown): a head per job vs the newest ids (local storage)",
                      ["jobs kept", "listing alone ms", "a head per job ms", "newest ids read ms",
                       "head per job vs newest ids"])
    for size in sizes:
        data = Path(tempfile.mkdtemp(prefix="cf-bench-jobs-"))
        try:
            jobs = JobStore(LocalBackend(data))
            for index in range(size):
                jobs.create(f"user{index % 50}")
            if len(recent_jobs(jobs, SHOWN)) != min(SHOWN, size):
                raise RuntimeError(f"recent_jobs did not find {min(SHOWN, size)} of {size} jobs")
            listing, heads, newest = _timings(jobs, rounds)
        finally:
            shutil.rmtree(data, ignore_errors=True)
        section.add(size, f"{listing:.1f}", f"{heads:.1f}", f"{newest:.1f}", f"x{heads / newest:.1f}")
    section.notes.append("Median of the rounds. On a network store each head is a round trip: by hand on Azurite "
                         "with 400 jobs, 1,048 ms against 48 ms (docs/BENCHMARKS.md).")
    return section


if __name__ == "__main__":  # python -m loadtest.bench_jobs
    print(recent_jobs_cost().markdown())
