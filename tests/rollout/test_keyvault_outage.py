"""A Key Vault outage never stalls the router: the last good flags stay in force, the outage shows.

The router runs with the real SecretClient against the HTTPS Key Vault test server. The vault then
stops answering (it takes requests and never replies): every routed request still answers at once
on the last good path, one background refresh at a time waits on the vault and times out after
``CLOUDFOLIO_KEYVAULT_TIMEOUT``, and ``/ready`` and the metrics say the flags are degraded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_until
from rollout.keyvault_store import KeyVaultFlagStore, StaticTokenCredential
from tests.router.conftest import RouterStack, make_stack
from tests.support.clocks import ManualClock
from tests.support.keyvault_server import KeyVaultServer


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[KeyVaultServer]:
    server = KeyVaultServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def kv_stack(tmp_path: Path, vault: KeyVaultServer) -> Iterator[RouterStack]:
    store = KeyVaultFlagStore(vault.url, StaticTokenCredential("t"), verify_challenge_resource=False,
                              connection_verify=str(vault.ca_path), read_timeout=1.0, read_retries=0)
    store.write({"QUEUE-TRAFFIC-PCT": "100"}, actor="test", reason="all on the queue path")
    yield from make_stack(tmp_path / "stack", flag_store=store, CLOUDFOLIO_FLAG_TTL="1")


def metric(stack: RouterStack, name: str) -> float | None:
    return stack.context.registry.get_sample_value(name)


@pytest.mark.parametrize("outage", ["hang", "go_down"])
def test_requests_keep_their_path_and_pace_while_the_vault_is_out(kv_stack: RouterStack, vault: KeyVaultServer,
                                                                   outage: str) -> None:
    clock = ManualClock()
    kv_stack.context.flags.clock = clock
    kv_stack.context.flags.invalidate()
    assert kv_stack.client.post("/bundles/octocat/refresh").json()["path"] == "queue"
    getattr(vault, outage)()
    clock.now = 10  # the cached flags are stale: the next request starts a refresh that cannot finish
    # a client that gives up after 0.5 s: a request that waited for the vault (1 s per attempt) would fail
    for _ in range(20):
        answer = kv_stack.client.post("/bundles/octocat/refresh", timeout=0.5)
        assert answer.status_code in (200, 202) and answer.json()["path"] == "queue"
    wait_until(lambda: (metric(kv_stack, "flag_store_errors_total") or 0) >= 1, 10)
    assert metric(kv_stack, "flag_store_up") == 0
    ready = kv_stack.client.get("/ready", timeout=0.5)
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["flags"].startswith("degraded: store unreachable, last good flags in force")
    vault.recover()
    clock.now = 20
    kv_stack.client.get("/ready")  # starts the refresh that now succeeds
    wait_until(lambda: metric(kv_stack, "flag_store_up") == 1, 10)
    assert kv_stack.client.get("/ready").json()["checks"]["flags"] == "ok"


def test_the_admin_rollout_answer_leaves_the_plan_out_while_the_vault_is_down(
        kv_stack: RouterStack, vault: KeyVaultServer) -> None:
    before = kv_stack.client.get("/admin/rollout", headers=kv_stack.admin())
    assert before.status_code == 200 and before.json()["plan"]["status"] == "not_started"
    vault.go_down()
    during = kv_stack.client.get("/admin/rollout", headers=kv_stack.admin(), timeout=5)
    assert during.status_code == 200, "the cached flags are still served"
    assert during.json()["flags"]["percentage"] == 100 and "plan" not in during.json()
