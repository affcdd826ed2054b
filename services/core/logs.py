"""Logging set-up: readable text for people or one JSON object per line for log pipelines.

Context fields (``username``, ``job_id``, ``path``) passed with ``extra=`` appear in both formats.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.core.queue_middleware import ContextFilter

#: Record attributes copied into JSON logs and appended to text logs when present.
CONTEXT_FIELDS = ("username", "job_id", "path", "repo", "mode", "actor", "bucket", "percentage")


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
