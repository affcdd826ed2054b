"""Logging set-up: readable text for people or one JSON object per line for log pipelines.

Context fields (``username``, ``job_id``, ``path``...) appear in both formats, whether passed with
``extra=`` or set for the current unit of work with :func:`set_log_context` (the queue's
log-context middleware sets them for each message, so every line an actor writes carries them).
JSON lines written inside a recorded span also carry its ``trace_id`` and ``span_id`` (hex, as
trace back ends show them), so a log search and a trace view meet.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.core.redaction import redact_text
from services.core.tracing import current_ids

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
        ids = current_ids()
        if ids is not None:
            payload["trace_id"], payload["span_id"] = ids
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


#: The one pika record kept per failed connection attempt; every other pika record below CRITICAL is noise.
_PIKA_SUMMARY = ("pika.adapters.blocking_connection", "Connection workflow failed")
#: Exception types whose tracebacks say nothing a single line does not (connection drops and refusals).
_CONNECTION_ERRORS = ("pika.exceptions", "dramatiq.errors.Connection", "dramatiq.errors.BrokerConnection",
                      "builtins.ConnectionError",
                      "builtins.ConnectionRefusedError", "builtins.ConnectionResetError")


def _connection_error(exc_info: object) -> bool:
    if not isinstance(exc_info, tuple) or exc_info[1] is None:
        return False
    kind = type(exc_info[1])
    return f"{kind.__module__}.{kind.__name__}".startswith(_CONNECTION_ERRORS)


class OneLineConnections(logging.Filter):
    """Connection trouble as one line per attempt: pika's cascade of records (and their tracebacks)
    becomes one warning ``broker connection attempt failed: ...``; connection errors logged by other
    libraries lose their traceback. With ``drop=True`` (one-shot commands, whose own error line says
    it all) the pika line is dropped too."""

    def __init__(self, drop: bool = False) -> None:
        super().__init__()
        self.drop = drop

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pika") and record.levelno < logging.CRITICAL:
            if self.drop or record.name != _PIKA_SUMMARY[0] or not record.getMessage().startswith(_PIKA_SUMMARY[1]):
                return False
            last = record.getMessage().rpartition("last exception - ")[2].split(";")[0]
            record.msg, record.args, record.levelno, record.levelname = (
                f"broker connection attempt failed: {last}", (), logging.WARNING, "WARNING")
        if record.exc_info and _connection_error(record.exc_info):
            kind, error = record.exc_info[0], record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()} ({kind.__name__}: {error})", ()
            record.exc_info = record.exc_text = None
        return True


class RedactSecrets(logging.Filter):
    """No credential in a log line at any level: query values named ``code``, ``sig``, ``token``... in
    any URL a record mentions (httpx and httpcore log the URLs they call) are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def configure_logging(level: str = "info", fmt: str = "text", *, one_shot: bool = False) -> None:
    """Log to stderr in ``fmt`` at ``level``; ``one_shot`` commands drop connection chatter entirely."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(OneLineConnections(drop=one_shot))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "azure", "pika", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
