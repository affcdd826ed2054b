"""The whole rollback loop with real processes: errors rise on the queue path, ``rollout watch``
sees it, the runbook flips the Key Vault flag to 0 and locks, the webhook is notified, and new
requests go to the legacy path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import QueueEnv, ServiceProcess, WorkerProcess, delete_queues, stop_all
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from rollout.keyvault_store import KeyVaultFlagStore, StaticTokenCredential
from router.bucketing import choose_path
from tests.rollout.conftest import Receiver
from tests.support.keyvault_server import KeyVaultServer

pytestmark = pytest.mark.integration


def test_errors_on_the_queue_path_roll_back_to_legacy(
    github: FakeGitHub, rabbitmq_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    vault = KeyVaultServer(tmp_path).start()
    store = KeyVaultFlagStore(vault.url, StaticTokenCredential("t"), verify_challenge_resource=False,
                              connection_verify=str(vault.ca_path))
    store.write({"QUEUE-TRAFFIC-PCT": "50"}, actor="test", reason="rollout step")
    prefix = f"rb{uuid.uuid4().hex[:6]}"
    users = [f"{prefix}-{i}" for i in range(40)]
    for user in users:
        github.add_generated_user(user, 3)
    queue_users = [u for u in users if choose_path(u, 50)[0] == "queue"]
    assert len(queue_users) >= 8
    legacy_port, router_port = free_port(), free_port()
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url, extra={
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{legacy_port}", "CLOUDFOLIO_FLAG_STORE": "keyvault",
        "CLOUDFOLIO_KEYVAULT_URL": vault.url, "CLOUDFOLIO_KEYVAULT_STATIC_TOKEN": "t",
        "CLOUDFOLIO_KEYVAULT_VERIFY_CHALLENGE": "false", "CLOUDFOLIO_KEYVAULT_CA_BUNDLE": str(vault.ca_path),
        "CLOUDFOLIO_FLAG_TTL": "1", "CLOUDFOLIO_WORKER_HEALTH_PORT": "0", "CLOUDFOLIO_GITHUB_MAX_RETRIES": "0",
        "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false",
        "CLOUDFOLIO_ROUTER_METRICS_URLS": f"http://127.0.0.1:{router_port}/metrics",
        "CLOUDFOLIO_ALERT_WINDOW": "10", "CLOUDFOLIO_ALERT_MIN_REQUESTS": "5", "CLOUDFOLIO_ALERT_THRESHOLD": "0.02",
        "CLOUDFOLIO_ALERT_INTERVAL": "0.5", "CLOUDFOLIO_NOTIFY_WEBHOOK_URL": receiver.url,
    })
    started: list = []
    watch = None
    try:
        started.append(ServiceProcess(env, "legacy", port=legacy_port, ready_path="/api/health"))
        started.append(WorkerProcess(env, "all", threads=8))
        started.append(ServiceProcess(env, "serve", port=router_port, ready_path="/health"))
        watch = subprocess.Popen([sys.executable, "-m", "cloudfolio", "rollout", "watch"], env=env.process_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        router = httpx.Client(base_url=f"http://127.0.0.1:{router_port}", timeout=30)

        # GitHub starts failing: every queue-path refresh job fails
        github.inject(rf"^/users/{prefix}-", "status", status=502, times=None)
        jobs = {}
        for user in queue_users:
            answer = router.post(f"/bundles/{user}/refresh", json={"force": True}).json()
            assert answer["path"] == "queue", answer
            jobs[user] = answer["job_id"]
        failures: list[float] = []

        def moved_to_legacy() -> float | None:
            for user, job_id in list(jobs.items()):
                view = router.get(f"/bundles/{user}/status", params={"job_id": job_id}).json()
                if view["status"] == "failed":
                    failures.append(time.monotonic())
                    jobs.pop(user)
            if not failures:
                return None
            # a user on the queue path asks again: which path answers now?
            user = queue_users[int(time.monotonic() * 10) % len(queue_users)]
            answer = router.post(f"/bundles/{user}/refresh", json={"force": True}).json()
            if answer["path"] == "legacy":
                return time.monotonic()
            if answer.get("job_id"):
                jobs[user] = answer["job_id"]
            return None

        moved_at = wait_until(moved_to_legacy, 90, lambda: "no rollback within 90 s", interval=0.2)
        reaction = moved_at - failures[0]
        print(f"\nreaction time from the first failed queue-path request to the first request routed to legacy: "
              f"{reaction:.1f} s (window 10 s, scrape every 0.5 s, flag TTL 1 s)")

        flags = store.read()
        assert flags["QUEUE-TRAFFIC-PCT"] == "0"
        lock = json.loads(flags["ROLLOUT-LOCK"])
        assert lock["metric"] == "queue_path_error_rate" and lock["value"] > 0.02 and lock["window"] == "10s"
        tags = store.history("QUEUE-TRAFFIC-PCT")[-1]["tags"]
        assert (tags["changed_by"], tags["previous"]) == ("rollout-watch", "50")
        assert tags["reason"].startswith("queue_path_error_rate = ") and "window 10s" in tags["reason"], tags
        wait_until(lambda: receiver.received, 10, lambda: "no notification")
        assert "rolled back" in receiver.received[0]["text"]
        assert all(router.post(f"/bundles/{u}/refresh").json()["path"] == "legacy" for u in queue_users[:5])
    finally:
        if watch is not None:
            watch.terminate()
            output = watch.communicate(timeout=20)[0]
            print(output[-1500:])
        stop_all(reversed(started))
        delete_queues(rabbitmq_url, env.queue_names)
        vault.stop()
