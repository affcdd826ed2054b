"""Structured logs: one JSON object per line with the context fields."""

from __future__ import annotations

import json
import logging

from services.core.logs import JsonFormatter, TextFormatter


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


def test_text_logs_append_the_context() -> None:
    assert TextFormatter().format(_record(username="octocat")).endswith("[username=octocat]")
