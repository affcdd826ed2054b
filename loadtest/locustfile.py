"""Locust scenario for the CloudFolio router: what the portfolio front end does.

``PortfolioUser`` (FastHttpUser: Locust's default client saturates 2 cores first) picks, per
task: 50 % cached bundle reads, 30 % refreshes (``force: false``), 20 % forced refreshes; a 202 is
followed by status polling as the front end does it (every 2 s, backing off by 1.5x up to 10 s,
giving up after 5 minutes). Usernames come from ``CLOUDFOLIO_LOADTEST_USERS`` (comma-separated).
Request names carry the path that served them (``queue`` or ``legacy``), so Locust's statistics
split per path. Run it through ``python -m loadtest.run``, which starts the whole stack.
"""

from __future__ import annotations

import os
import random
import time

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

USERS = [u for u in os.environ.get("CLOUDFOLIO_LOADTEST_USERS", "yungryce").split(",") if u]
POLL_FIRST, POLL_FACTOR, POLL_MAX, POLL_GIVE_UP = 2.0, 1.5, 10.0, 300.0


class PortfolioUser(FastHttpUser):
    wait_time = between(0.5, 1.5)

    def _user(self) -> str:
        return random.choice(USERS)

    @task(50)
    def read_bundle(self) -> None:
        with self.client.get(f"/bundles/{self._user()}", name="GET /bundles/[user]", catch_response=True) as reply:
            if reply.status_code == 200:
                path = reply.json().get("path", "?")
                reply.request_meta["name"] = f"GET /bundles/[user] ({path})"
                reply.success()
            else:
                reply.failure(f"HTTP {reply.status_code}")

    @task(30)
    def refresh(self) -> None:
        self._refresh(force=False)

    @task(20)
    def forced_refresh(self) -> None:
        self._refresh(force=True)

    def _refresh(self, force: bool) -> None:
        user = self._user()
        label = "force" if force else "refresh"
        with self.client.post(f"/bundles/{user}/refresh", json={"force": force}, name=f"POST {label}",
                              catch_response=True) as reply:
            if reply.status_code not in (200, 202):
                reply.failure(f"HTTP {reply.status_code}")
                return
            body = reply.json()
            reply.request_meta["name"] = f"POST /bundles/[user]/refresh {label} {reply.status_code} ({body['path']})"
            reply.success()
        if reply.status_code == 202:
            self._poll(user, body["job_id"], body["path"])

    def _poll(self, user: str, job_id: str, path: str) -> None:
        pause, started = POLL_FIRST, time.monotonic()
        while time.monotonic() - started < POLL_GIVE_UP:
            time.sleep(pause)
            with self.client.get(f"/bundles/{user}/status?job_id={job_id}", name=f"GET status ({path})",
                                 catch_response=True) as reply:
                if reply.status_code != 200:
                    reply.failure(f"HTTP {reply.status_code}")
                    return
                status = reply.json()["status"]
                if status == "failed":
                    reply.failure("job failed")
                    return
                reply.success()
            if status == "completed":
                return
            pause = min(POLL_MAX, pause * POLL_FACTOR)
