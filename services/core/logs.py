"""Logging set-up: readable text for people or one JSON object per line for log pipelines.

Context fields (``username``, ``job_id``, ``path``...) appear in both formats, whether passed with
``extra=`` or set for the current unit of work with :func:`set_log_context` (the queue's
log-context middleware sets them for each message, so every line an actor writes carries them).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: Record attributes copied into JSON logs and appended to text logs when present.
CONTEXT_FIELDS = ("username", "job_id", "path", "repo", "mode", "actor", "bucket", "percentage")

#: Context of the unit of work running in this thread or task (empty outside one).
_LOG_CONTEXT: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("log_context", default=None)


def set_log_context(fields: Mapping[str, Any] | None) -> None:
    """Attach ``fields`` to every record logged from this context until replaced (None clears)."""
    _LOG_CONTEXT.set(dict(fields) if fields else None)


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record (explicit ``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_LOG_CONTEXT.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                payload[name] = getattr(record, name)
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if hasattr(record, n))
        return f"{text} [{context}]" if context else text


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "azure", "pika", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
