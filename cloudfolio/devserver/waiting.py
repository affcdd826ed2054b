"""Waiting for a condition with a deadline: the one polling loop tests and tools share.

:func:`wait_until` polls a condition every ``interval`` seconds and raises :class:`WaitTimeout`
(an ``AssertionError``, so a test shows it as a failed expectation) with ``describe()`` when the
deadline passes. :func:`wait_for_job` waits for a job to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from services.core.jobs import Job, JobStore

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until(condition: Callable[[], T], timeout: float = 30, describe: Callable[[], str] = lambda: "",
               interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(describe() or f"condition not met within {timeout:g}s")
        time.sleep(interval)


def wait_for_job(jobs: JobStore, job_id: str, timeout: float = 60,
                 on_poll: Callable[[Job], None] | None = None) -> Job:
    """Wait until the job is completed or failed; ``on_poll`` sees every state read on the way."""
    seen: list[Job] = []

    def finished() -> bool:
        job = jobs.get(job_id)
        seen.append(job)
        if on_poll:
            on_poll(job)
        return job.terminal

    wait_until(finished, timeout, lambda: f"job {job_id} still {seen[-1].status} after {timeout:g}s")
    return seen[-1]
