"""RabbitMQ stopped and started under a load of a few hundred refreshes: every 202 completes, no 500.

The whole stack runs as processes (legacy, one worker, router) against the GitHub double. While
clients keep forcing refreshes, ``rabbitmqctl stop_app`` takes the broker away for a few seconds
and ``start_app`` brings it back: the router answers 503 while it cannot enqueue (nothing accepted
then), every refresh it did accept (202) reaches ``completed``, and nothing answers 500.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.waiting import wait_until
from loadtest.stack import running_stack
from tests.support.services import unavailable

pytestmark = pytest.mark.integration
REFRESHES = 300
#: One user per refresh: refreshes of a user with a job in flight join that job without a send
#: (coalescing), and this test is about sends the broker refuses.
USERS = [f"restart-{i}" for i in range(1000)]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_every_accepted_refresh_completes_across_a_broker_restart(rabbitmq_url: str) -> None:
    if os.geteuid() != 0:
        unavailable("rabbitmqctl needs root here")
    github = FakeGitHub()
    for user in USERS:
        github.add_generated_user(user, 2)
    with running_stack(broker_url=rabbitmq_url, github=github, extra={"QUEUE_TRAFFIC_PCT": "100"}) as stack:
        accepted: list[tuple[str, str]] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def refresh(index: int) -> None:
            user = USERS[index % len(USERS)]
            with httpx.Client(base_url=stack.router, timeout=30) as client:
                answer = client.post(f"/bundles/{user}/refresh", json={"force": True})
            with lock:
                statuses.append(answer.status_code)
                if answer.status_code == 202:
                    accepted.append((user, answer.json()["job_id"]))

        def outage() -> None:
            time.sleep(1.0)
            rabbitmqctl("stop_app")
            try:
                time.sleep(5)
            finally:
                rabbitmqctl("start_app")
                rabbitmqctl("await_startup")

        broker = threading.Thread(target=outage)
        broker.start()
        with ThreadPoolExecutor(8) as pool:
            index = 0
            while index < REFRESHES or broker.is_alive():  # the load spans the whole outage, however long
                pool.submit(refresh, index)
                index += 1
                time.sleep(0.03)
            for _ in range(REFRESHES // 3):  # and goes on after it
                pool.submit(refresh, index)
                index += 1
                time.sleep(0.03)
        broker.join()
        assert 500 not in statuses and set(statuses) <= {202, 503}, sorted(set(statuses))
        assert 503 in statuses, "the router saw the outage (503 while it could not enqueue)"
        first_503, last_503 = statuses.index(503), len(statuses) - 1 - statuses[::-1].index(503)
        assert 202 in statuses[:first_503] and 202 in statuses[last_503:], "accepted before and after the outage"
        print(f"broker restart: {len(statuses)} refreshes, {len(accepted)} accepted, {statuses.count(503)} x 503")

        with httpx.Client(base_url=stack.router, timeout=30) as client:
            def all_completed() -> bool:
                for user, job_id in list(accepted):
                    view = client.get(f"/bundles/{user}/status", params={"job_id": job_id}).json()
                    assert view["status"] != "failed", view
                    if view["status"] != "completed":
                        return False
                    accepted.remove((user, job_id))
                return True

            wait_until(all_completed, 180, lambda: f"{len(accepted)} accepted jobs not completed", interval=0.5)
