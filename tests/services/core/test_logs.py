"""Structured logs: one JSON object per line with the context fields."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from services.core.logs import JsonFormatter, OneLineConnections, TextFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("cloudfolio.router", logging.INFO, __file__, 1, "routed %s", ("octocat",), None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_json_logs_carry_username_job_and_path() -> None:
    line = JsonFormatter().format(_record(username="octocat", job_id="a" * 32, path="queue", bucket=4198))
    payload = json.loads(line)
    assert payload["message"] == "routed octocat" and payload["level"] == "info"
    assert (payload["username"], payload["job_id"], payload["path"], payload["bucket"]) == ("octocat", "a" * 32,
                                                                                            "queue", 4198)


def test_json_logs_inside_a_span_carry_its_trace_and_span_ids_and_none_outside() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("sync_repo") as span:
        inside = json.loads(JsonFormatter().format(_record(username="octocat", job_id="a" * 32, path="queue")))
    outside = json.loads(JsonFormatter().format(_record()))
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert (inside["username"], inside["job_id"], inside["path"]) == ("octocat", "a" * 32, "queue")
    assert "trace_id" not in outside and "span_id" not in outside


def test_text_logs_append_the_context() -> None:
    assert TextFormatter().format(_record(username="octocat")).endswith("[username=octocat]")


def _pika(name: str, message: str, level: int = logging.ERROR, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), exc_info)


def _failed_connection() -> tuple:
    import pika.exceptions

    try:
        raise pika.exceptions.AMQPConnectionError("refused")
    except pika.exceptions.AMQPConnectionError:
        import sys

        return sys.exc_info()


def test_pikas_cascade_per_failed_connection_is_one_warning_line() -> None:
    cascade = [
        _pika("pika.adapters.utils.io_services_utils", "Socket failed to connect: <socket>; error=111"),
        _pika("pika.adapters.utils.connection_workflow", "TCP Connection attempt failed: ConnectionRefusedError"),
        _pika("pika.adapters.blocking_connection", "Connection workflow failed: AMQPConnectionWorkflowFailed: 1 "
              "exceptions in all; last exception - AMQPConnectorSocketConnectError: ConnectionRefusedError(111, "
              "'Connection refused'); first exception - None"),
        _pika("pika.adapters.blocking_connection", "Error in _create_connection().", exc_info=_failed_connection()),
    ]
    kept = [r for r in cascade if OneLineConnections().filter(r)]
    assert len(kept) == 1 and kept[0].levelname == "WARNING"
    line = TextFormatter().format(kept[0])
    assert "broker connection attempt failed: AMQPConnectorSocketConnectError: ConnectionRefusedError" in line
    assert "\n" not in line
    assert not [r for r in cascade if OneLineConnections(drop=True).filter(r)], "one-shot commands drop it all"


def test_connection_errors_from_other_libraries_lose_their_traceback_but_not_their_reason() -> None:
    record = _pika("dramatiq.worker.ConsumerThread", "Consumer encountered an unexpected error.",
                   exc_info=_failed_connection())
    assert OneLineConnections().filter(record)
    line = TextFormatter().format(record)
    assert "\n" not in line and "AMQPConnectionError: refused" in line
    actor_failure = _pika("dramatiq.worker", "Failed to process message", exc_info=(ValueError, ValueError("x"), None))
    assert OneLineConnections().filter(actor_failure) and actor_failure.exc_info is not None, "real errors keep theirs"
