"""The Azure Monitor provider: the real LogsQueryClient against a double of the Log Analytics query API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.monitor.query import LogsQueryClient

from rollout.azure_monitor_provider import AzureMonitorProvider
from rollout.keyvault_store import StaticTokenCredential
from rollout.measure import MetricsUnavailable
from tests.support.logs_query_server import LogsQueryServer

#: No Entra ID here: a bearer token the double accepts.
TOKEN = StaticTokenCredential("test-token")
RESOURCE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/cf-ai"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogsQueryServer]:
    server = LogsQueryServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def provider(logs: LogsQueryServer) -> AzureMonitorProvider:
    client = LogsQueryClient(TOKEN, endpoint=logs.url, connection_verify=str(logs.ca_path), retry_total=0)
    return AzureMonitorProvider(RESOURCE, client=client)


def test_both_paths_and_the_shadow_verdicts_come_from_kql_over_the_request_telemetry(
        logs: LogsQueryServer, provider: AzureMonitorProvider) -> None:
    logs.tables["requests"] = (["path", "requests", "errors", "p95_ms"], [["queue", 120, 3, 45.0],
                                                                          ["legacy", 880, 4, 60.0]])
    logs.tables["dependencies"] = (["comparisons", "divergences"], [[40, 1]])
    m = provider.measure(300)
    assert (m.queue.requests, m.queue.errors, m.queue.p95_seconds) == (120, 3, 0.045)
    assert (m.legacy.requests, m.legacy.errors, m.legacy.p95_seconds) == (880, 4, 0.06)
    assert (m.comparisons, m.divergences) == (40, 1)
    asked = {q["query"].split()[0]: q for q in logs.queries}
    assert set(asked) == {"requests", "dependencies"} and all(RESOURCE in q["path"] for q in logs.queries)
    assert "customDimensions.routing_mode" in asked["requests"]["query"]
    assert "toint(resultCode) >= 500" in asked["requests"]["query"], "the alert's status semantics"
    for query in (asked["requests"]["query"], asked["dependencies"]["query"]):
        assert "count" not in query.replace("itemCount", ""), "sampled rows stand for itemCount requests"
    assert asked["requests"]["timespan"] == "PT300.0S" and m.queries["timespan"] == "PT300S"


def test_the_dashboards_series_are_the_request_rows_binned_by_step(
        logs: LogsQueryServer, provider: AzureMonitorProvider) -> None:
    logs.tables["requests"] = (["at", "path", "requests", "errors", "p95_ms"], [
        [1000.0, "queue", 30, 3, 45.0], [1000.0, "legacy", 150, 0, 60.0], [1015.0, "queue", 0, 0, None],
        [1030.0, "other", 9, 9, 1.0]])
    series = provider.series(900, 15)
    assert [(p.at, p.rate, p.error_ratio, p.p95) for p in series["queue"]] == [(1015.0, 2.0, 0.1, 0.045),
                                                                                (1030.0, 0.0, None, None)]
    assert [(p.rate, p.error_ratio) for p in series["legacy"]] == [(10.0, 0.0)]
    [asked] = logs.queries
    assert "bin(timestamp, 15s)" in asked["query"] and asked["timespan"] == "PT900.0S"


def test_no_rows_is_no_traffic_and_a_refused_query_is_unavailable(
        logs: LogsQueryServer, provider: AzureMonitorProvider) -> None:
    empty = provider.measure(60)
    assert empty.queue.requests == 0 and empty.queue.p95_seconds is None and empty.comparisons == 0
    logs.fail_with = 403
    with pytest.raises(MetricsUnavailable, match="Azure Monitor query failed"):
        provider.measure(60)


def test_an_unreachable_service_is_unavailable_not_a_hang(tmp_path: Path) -> None:
    client = LogsQueryClient(TOKEN, endpoint="https://127.0.0.1:9", retry_total=0, connection_timeout=2)
    with pytest.raises(MetricsUnavailable):
        AzureMonitorProvider(RESOURCE, client=client).measure(60)
