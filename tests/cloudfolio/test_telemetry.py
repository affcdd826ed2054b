"""Where spans go: nothing is installed or sent without an exporter; URLs are redacted when one is."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from cloudfolio.devserver.processes import QueueEnv, ServiceProcess
from cloudfolio.devserver.threaded import free_port
from cloudfolio.telemetry import configure_telemetry, exporters_of, redact_span_urls
from services.core import tracing
from services.core.settings import Settings
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.services import unavailable

#: The port an OTLP/HTTP exporter sends to when no endpoint is configured.
OTLP_DEFAULT_PORT = 4318


def test_the_exporters_follow_the_settings() -> None:
    assert exporters_of(Settings.from_env({})) == []
    assert exporters_of(Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})) == ["otlp"]
    both = Settings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces",
                              "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"})
    assert exporters_of(both) == ["otlp", "azure-monitor"]


def test_an_invalid_endpoint_is_a_settings_error_naming_it() -> None:
    with pytest.raises(Exception, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"})


def test_without_an_exporter_no_provider_is_installed_and_spans_record_nothing() -> None:
    assert configure_telemetry(Settings.from_env({}), "router") == []
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    with tracing.span("refresh_request", username="octocat") as span:
        assert not span.is_recording() and tracing.current_ids() is None


def test_credentials_in_traced_urls_are_masked() -> None:
    span = TracerProvider().get_tracer("test").start_span("GET", attributes={
        "http.url": "http://legacy/runtime/webhooks/durabletask/instances/1?code=SECRETKEY&taskHub=x",
        "url.full": "https://api.github.com/repos/o/r?access_token=TOKEN"})
    redact_span_urls(span, None)
    span.end()
    assert "SECRETKEY" not in span.attributes["http.url"] and "taskHub=x" in span.attributes["http.url"]
    assert "TOKEN" not in span.attributes["url.full"]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.integration
def test_a_router_without_exporter_settings_sends_nothing_to_the_default_collector(tmp_path: Path) -> None:
    if not _port_free(OTLP_DEFAULT_PORT):
        unavailable("port 4318 is taken: cannot listen where an unconfigured exporter would send")
    receiver = OtlpReceiver(port=OTLP_DEFAULT_PORT).start()
    # an SDK left to its defaults would export here, every 100 ms, and on shutdown at the latest
    env = QueueEnv(tmp_path / "data", "http://127.0.0.1:9", extra={
        "CLOUDFOLIO_REPO_SOURCE": "sample", "QUEUE_TRAFFIC_PCT": "100", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
    try:
        for _ in range(5):
            assert httpx.get(f"{router.url}/bundles/nosuchuser", timeout=10).status_code == 404
    finally:
        router.stop()  # the lifespan's shutdown would flush a configured provider
        receiver.stop()
    assert receiver.requests == 0 and receiver.snapshot() == []
