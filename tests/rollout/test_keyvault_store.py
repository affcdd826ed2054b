"""The Key Vault flag store, through the real SecretClient, against the HTTPS test server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from rollout.keyvault_store import KeyVaultFlagStore, StaticTokenCredential
from rollout.provider import FlagProvider
from rollout.stores import FlagStoreError
from tests.support.keyvault_server import KeyVaultServer


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[KeyVaultServer]:
    server = KeyVaultServer(tmp_path).start()
    yield server
    server.stop()


def store_for(vault: KeyVaultServer, **options: object) -> KeyVaultFlagStore:
    return KeyVaultFlagStore(vault.url, StaticTokenCredential("test-token"), verify_challenge_resource=False,
                             connection_verify=str(vault.ca_path), **options)


def test_set_get_and_versions_with_tags(vault: KeyVaultServer) -> None:
    store = store_for(vault)
    assert store.read() == {}
    store.write({"QUEUE-TRAFFIC-PCT": "30"}, actor="ops@laptop", reason="step 2")
    store.write({"QUEUE-TRAFFIC-PCT": "0", "ROLLOUT-LOCK": "error rate 5%"}, actor="runbook", reason="alert 42")
    assert store.read() == {"QUEUE-TRAFFIC-PCT": "0", "ROLLOUT-LOCK": "error rate 5%"}
    history = store.history("QUEUE-TRAFFIC-PCT")
    assert [v["tags"] for v in history] == [
        {"changed_by": "ops@laptop", "reason": "step 2", "previous": ""},
        {"changed_by": "runbook", "reason": "alert 42", "previous": "30"},
    ]
    assert vault.latest("QUEUE-TRAFFIC-PCT")["contentType"] == "text/plain"


def test_changes_are_read_from_every_flags_version_tags(vault: KeyVaultServer) -> None:
    store = store_for(vault)
    assert store.changes() == [], "no flag was ever set: every history is a 404"
    store.write({"QUEUE-TRAFFIC-PCT": "30"}, actor="ops@laptop", reason="step 2")
    store.write({"QUEUE-TRAFFIC-PCT": "0", "ROLLOUT-LOCK": "error rate 5%"}, actor="runbook", reason="alert 42")
    changes = store.changes()
    assert sorted((c.name, c.previous or "", c.actor, c.reason) for c in changes) == [
        ("QUEUE-TRAFFIC-PCT", "", "ops@laptop", "step 2"), ("QUEUE-TRAFFIC-PCT", "30", "runbook", "alert 42"),
        ("ROLLOUT-LOCK", "", "runbook", "alert 42")]
    assert all(c.value is None and c.at for c in changes), "Key Vault keeps no value in a tag"
    assert len(store.changes(limit=1)) == 1


def test_the_client_went_through_the_bearer_challenge(vault: KeyVaultServer) -> None:
    store_for(vault).read()
    statuses = [status for _method, _path, status in vault.state.log]
    assert statuses[0] == 401, "the first request is unauthenticated and answered with the challenge"
    assert statuses[1:] and all(status in (200, 404) for status in statuses[1:]), statuses


def test_throttling_is_retried_after_retry_after(vault: KeyVaultServer) -> None:
    store = store_for(vault, read_retries=2)
    store.write({"QUEUE-TRAFFIC-PCT": "10"}, actor="t", reason="t")
    vault.state.throttle = 2
    assert store.read()["QUEUE-TRAFFIC-PCT"] == "10"
    assert sum(1 for _m, _p, status in vault.state.log if status == 429) == 2


def test_an_unreachable_vault_keeps_the_last_good_flags(vault: KeyVaultServer) -> None:
    store = store_for(vault, retry_total=0)
    store.write({"QUEUE-TRAFFIC-PCT": "40", "ENABLE-QUEUE-SHADOW": "true"}, actor="t", reason="t")
    now = [0.0]
    registry = CollectorRegistry()
    provider = FlagProvider(store, registry, ttl=1, clock=lambda: now[0], refresh_in=lambda work: work())
    assert provider.current().percentage == 40
    vault.go_down()
    with pytest.raises(FlagStoreError):
        store.read()
    now[0] = 5
    flags = provider.current()
    assert flags.percentage == 40 and flags.shadow is True
    assert registry.get_sample_value("flag_store_errors_total") == 1


def test_bad_secret_names_are_refused_by_the_vault(vault: KeyVaultServer) -> None:
    with pytest.raises(FlagStoreError):
        store_for(vault).write({"QUEUE_TRAFFIC_PCT": "1"}, actor="t", reason="t")


def test_a_secret_reads_by_version_too(vault: KeyVaultServer) -> None:
    store = store_for(vault)
    store.write({"QUEUE-TRAFFIC-PCT": "5"}, actor="t", reason="t")
    store.write({"QUEUE-TRAFFIC-PCT": "25"}, actor="t", reason="t")
    first, second = store.history("QUEUE-TRAFFIC-PCT")
    assert store._client.get_secret("QUEUE-TRAFFIC-PCT", first["version"]).value == "5"
    assert store._client.get_secret("QUEUE-TRAFFIC-PCT", second["version"]).value == "25"
