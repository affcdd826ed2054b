"""Dramatiq middleware of ours: log context and outcome metrics.

- :class:`LogContext` puts the message's ``job_id``, ``username`` and actor name into every log
  record written while the message is processed (a ``contextvars`` value read by
  :class:`ContextFilter`, which :func:`services.core.logs.configure_logging` installs).
- :class:`OutcomeMetrics` counts ``messages_processed_total`` and observes
  ``processing_duration_seconds``, both labelled by actor and outcome (``ok``, ``retry``,
  ``failed``), and remembers the last message time and the in-flight count for worker health.
- :class:`DramatiqMetricsBridge` exposes the metrics of Dramatiq's own ``Prometheus`` middleware
  through our registry: that middleware keeps them in a registry it does not share unless
  Dramatiq's CLI forks its exposition server, which our worker does not use.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from dramatiq import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

#: Context of the message being processed in this thread (empty outside a message).
MESSAGE_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("message_context", default=None)

#: Actor arguments copied into the log context when present.
_CONTEXT_ARGS = ("job_id", "username", "mode", "repo")


def _message_arguments(broker: Any, message: Any) -> dict[str, Any]:
    """Map a message's positional and keyword arguments to parameter names."""
    try:
        # inspect.signature follows __wrapped__, so actors wrapped by a decorator keep their names
        parameters = inspect.signature(broker.get_actor(message.actor_name).fn).parameters.values()
        names = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    except Exception:  # an actor unknown to this process: keyword arguments only
        names = ()
    values = dict(zip(names, message.args, strict=False))
    values.update(message.kwargs)
    return values


class LogContext(Middleware):
    """Adds ``job_id``, ``username``, ``mode``, ``repo`` and ``actor`` to log records of a message."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        arguments = _message_arguments(broker, message)
        context = {"actor": message.actor_name}
        for name in _CONTEXT_ARGS:
            value = arguments.get(name)
            if name == "repo" and isinstance(value, dict):
                value = value.get("name")
            if value is not None:
                context[name] = value
        MESSAGE_CONTEXT.set(context)

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        MESSAGE_CONTEXT.set(None)

    after_skip_message = after_process_message


class ContextFilter(logging.Filter):
    """Copies the current message context onto each log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (MESSAGE_CONTEXT.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class OutcomeMetrics(Middleware):
    """Counts processed messages by actor and outcome and tracks worker activity.

    Parameters:
      registry(CollectorRegistry): where the metrics are registered.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter("messages_processed_total", "Messages processed, by actor and outcome.",
                                 ["actor", "outcome"], registry=registry)
        self.duration = Histogram("processing_duration_seconds", "Time spent processing a message.",
                                  ["actor", "outcome"], registry=registry,
                                  buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1500))
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self.last_message_at: float | None = None

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._started)

    def before_process_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            self._started[message.message_id] = time.monotonic()

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        with self._lock:
            started = self._started.pop(message.message_id, None)
        self.last_message_at = time.time()
        if exception is None:
            outcome = "ok"
        elif message.failed:
            outcome = "failed"
        else:
            outcome = "retry"
        self.processed.labels(message.actor_name, outcome).inc()
        if started is not None:
            self.duration.labels(message.actor_name, outcome).observe(time.monotonic() - started)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            self._started.pop(message.message_id, None)
        self.processed.labels(message.actor_name, "skipped").inc()


class DramatiqMetricsBridge(Collector):
    """Collects the metric objects that Dramatiq's ``Prometheus`` middleware created at boot."""

    _ATTRIBUTES = ("total_messages", "total_errored_messages", "total_retried_messages",
                   "total_rejected_messages", "inprogress_messages", "inprogress_delayed_messages",
                   "message_durations")

    def __init__(self, middleware: Middleware) -> None:
        self.middleware = middleware

    def collect(self) -> Iterator[Any]:
        for name in self._ATTRIBUTES:
            metric = getattr(self.middleware, name, None)
            if metric is not None:
                yield from metric.collect()
