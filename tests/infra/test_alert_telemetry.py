"""The rollback alert's KQL reads what the routers really send to Application Insights.

A router process exports through the Azure Monitor exporter to a Track-API double on loopback; its
``RequestData`` envelopes become ``requests`` rows, and the error-rate query in
``infra/bicep/modules/alerts.bicep`` is checked against them: every ``customDimensions`` field it
reads is there under the name it uses, its filter selects exactly the queue-path requests, and its
error count follows the documented status semantics (``resultCode`` >= 500; 4xx are the client's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.processes import QueueEnv, ServiceProcess
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from router.bucketing import choose_path
from services.core.serving import ServingPath
from services.core.settings import Settings
from tests.support.appinsights_ingestion import IngestionDouble

pytestmark = pytest.mark.integration
FUNCTION_KEY = "legacy-function-key-not-for-telemetry"
ALERTS = Path(__file__).resolve().parents[2] / "infra" / "bicep" / "modules" / "alerts.bicep"


def error_rate_query() -> str:
    match = re.search(r"var errorRateQuery = '''(.*?)'''", ALERTS.read_text(), re.S)
    assert match, "alerts.bicep has no errorRateQuery"
    return match.group(1)


def user_on(path: ServingPath, percentage: float) -> str:
    salt = Settings.from_env({}).rollout_salt
    return next(f"kql{i}" for i in range(1000) if choose_path(f"kql{i}", percentage, salt=salt)[0] is path)


@pytest.fixture(scope="module")
def ingestion() -> Iterator[IngestionDouble]:
    double = IngestionDouble().start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def rows(ingestion: IngestionDouble, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The requests rows of: a queue-path bundle read (404: none yet), a queue-path refresh (202), a
    legacy-path refresh while the legacy app is down (503), and the in-process worker's ``plan_refresh``
    (Application Insights files consumer spans under ``requests`` too)."""
    data = tmp_path_factory.mktemp("alert-telemetry")
    env = QueueEnv(data, "http://127.0.0.1:9", extra={
        "CLOUDFOLIO_REPO_SOURCE": "sample", "QUEUE_TRAFFIC_PCT": "50", "OTEL_BSP_SCHEDULE_DELAY": "100",
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{free_port()}", "CLOUDFOLIO_LEGACY_FUNCTION_KEY": FUNCTION_KEY,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true"})
    router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
    try:
        queue_user, legacy_user = user_on(ServingPath.QUEUE, 50), user_on(ServingPath.LEGACY, 50)
        assert httpx.get(f"{router.url}/bundles/{queue_user}", timeout=10).status_code == 404
        assert httpx.post(f"{router.url}/bundles/{queue_user}/refresh", json={}, timeout=10).status_code == 202
        assert httpx.post(f"{router.url}/bundles/{legacy_user}/refresh", json={}, timeout=30).status_code == 503
        return wait_until(lambda: (lambda found: found if len(found) >= 4 else None)(
            [r for r in ingestion.requests_rows() if r["customDimensions"].get("cloudfolio.username")
             in (queue_user, legacy_user)]), 30,
            lambda: f"fewer than 3 requests rows: {ingestion.requests_rows()}\n{router.log_text()}")
    finally:
        router.stop()


def test_every_custom_dimension_the_alert_reads_is_emitted_under_that_name(rows: list[dict[str, Any]]) -> None:
    read = set(re.findall(r"customDimensions\.(\w+)", error_rate_query()))
    assert read, "the query reads no custom dimension"
    for row in (r for r in rows if " /" in r["name"]):  # the router's requests
        missing = read - set(row["customDimensions"])
        assert not missing, f"{row['name']}: the alert reads {sorted(missing)}, not emitted"


def test_the_alert_filter_selects_the_queue_path_and_counts_5xx_as_errors(rows: list[dict[str, Any]]) -> None:
    query = error_rate_query()
    filters = re.findall(r'where tostring\(customDimensions\.(\w+)\) == "(\w+)"', query)
    threshold = re.search(r"failed = sumif\(itemCount, toint\(resultCode\) >= (\d+)\)", query)
    assert filters and threshold, f"the query's shape changed; update this test with it:\n{query}"
    # reads are sampled: a row stands for itemCount requests, so the query sums weights, never counts rows
    assert "total = sum(itemCount)" in query and "count()" not in query

    def selected(row: dict[str, Any]) -> bool:
        return all(str(row["customDimensions"].get(name)) == value for name, value in filters)

    by_status = {(row["name"], row["resultCode"]): row for row in rows}
    assert set(by_status) == {("GET /bundles/{username}", "404"), ("POST /bundles/{username}/refresh", "202"),
                              ("POST /bundles/{username}/refresh", "503"), ("plan_refresh", "0")}, sorted(by_status)
    assert not selected(by_status[("plan_refresh", "0")]), "worker runs are not router requests"
    chosen = [row for row in rows if selected(row)]
    assert {row["customDimensions"]["routing_mode"] for row in chosen} == {"queue"}
    assert sorted(row["resultCode"] for row in chosen) == ["202", "404"]
    legacy_down = by_status[("POST /bundles/{username}/refresh", "503")]
    assert legacy_down["customDimensions"]["routing_mode"] == "legacy" and not selected(legacy_down)
    assert int(legacy_down["resultCode"]) >= int(threshold.group(1)) and legacy_down["success"] is False
    # Application Insights marks 4xx unsuccessful too: the alert counts resultCode, never `success`
    assert by_status[("GET /bundles/{username}", "404")]["success"] is False
    assert "success" not in query
    # the read was kept by the default sampler and says so; the write was not sampled at all
    assert by_status[("GET /bundles/{username}", "404")]["itemCount"] == 1
    assert [r["itemCount"] for r in chosen if r["resultCode"] == "202"] == [1]


def test_no_query_string_or_credential_reaches_application_insights(rows: list[dict[str, Any]],
                                                                    ingestion: IngestionDouble) -> None:
    dependencies = [e for e in ingestion.envelopes if e["data"]["baseType"] == "RemoteDependencyData"]
    assert any("/api/orchestrator_start" in str(e) for e in dependencies), "the call to the legacy app is traced"
    assert FUNCTION_KEY not in str(ingestion.envelopes)
    for row in rows:
        assert "?" not in (row["url"] or "")
