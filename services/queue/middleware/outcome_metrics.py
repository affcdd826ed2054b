"""``OutcomeMetrics``: processed messages by actor and outcome, and what worker health reports.

Counts ``messages_processed_total`` and observes ``processing_duration_seconds``, both labelled
by actor and outcome (``ok``, ``retry``, ``failed``, ``skipped``), and remembers the last message
time and the in-flight count for a worker's ``/health``. Place it *before* ``Retries`` in the
middleware list: Dramatiq runs ``after_*`` hooks in reverse order, so it then sees whether Retries
has just failed the message or scheduled a retry.

Parameters:
  registry(CollectorRegistry): where the metrics are registered.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram


class OutcomeMetrics(Middleware):
    """Counts processed messages by actor and outcome and tracks worker activity."""

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
