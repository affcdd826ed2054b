"""Locust users for the refresh-answer benchmark (``loadtest.bench_load``): two mixes, refreshes only.

``CLOUDFOLIO_LOADTEST_MIX``:

- ``refresh``: each task is one refresh of a random user, forced 40 % of the time (the front end's
  30:20 ratio of plain to forced refreshes, without its reads);
- ``burst``: 70 % of tasks are three forced refreshes of the same user back to back (a user
  hammering the button), the rest one plain refresh.

Every refresh is one Locust entry, ``POST refresh``, so its percentiles are the answer's. The id of
each accepted job (202) is appended to the file ``CLOUDFOLIO_LOADTEST_JOBS`` as ``user job_id``, so
the benchmark can check afterwards that every accepted job completed; each refresh's start (Unix
seconds) and response time (ms) go to ``CLOUDFOLIO_LOADTEST_TIMINGS``, so it can leave the first
seconds (every user's first request at once, and their connections opened) out of a steady-state
percentile. Users come from ``CLOUDFOLIO_LOADTEST_USERS`` (comma-separated).
"""

from __future__ import annotations

import atexit
import os
import random
import time

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

USERS = [u for u in os.environ.get("CLOUDFOLIO_LOADTEST_USERS", "yungryce").split(",") if u]
MIX = os.environ.get("CLOUDFOLIO_LOADTEST_MIX", "refresh")
JOBS = open(os.environ.get("CLOUDFOLIO_LOADTEST_JOBS", os.devnull), "a", encoding="utf-8")  # noqa: SIM115
TIMINGS = open(os.environ.get("CLOUDFOLIO_LOADTEST_TIMINGS", os.devnull), "a", encoding="utf-8")  # noqa: SIM115
atexit.register(TIMINGS.close)  # buffered (one line per refresh): written out when Locust exits


class RefreshingUser(FastHttpUser):
    wait_time = between(0.5, 1.5)

    @task
    def refresh(self) -> None:
        user = random.choice(USERS)
        if MIX == "burst" and random.random() < 0.7:
            for _ in range(3):
                self._refresh(user, force=True)
        else:
            self._refresh(user, force=MIX == "refresh" and random.random() < 0.4)

    def _refresh(self, user: str, force: bool) -> None:
        started = time.time()
        with self.client.post(f"/bundles/{user}/refresh", json={"force": force}, name="POST refresh",
                              catch_response=True) as reply:
            TIMINGS.write(f"{started:.3f} {reply.request_meta['response_time']:.2f}\n")
            if reply.status_code not in (200, 202):
                reply.failure(f"HTTP {reply.status_code}")
                return
            reply.success()
            if reply.status_code == 202:
                JOBS.write(f"{user} {reply.json()['job_id']}\n")
                JOBS.flush()
