"""``DramatiqMetricsBridge``: Dramatiq's own Prometheus metrics, collected through our registry.

Dramatiq's ``Prometheus`` middleware keeps its metrics in a registry it shares only when
Dramatiq's CLI forks its exposition server, which our workers do not use. This collector yields
the metric objects that middleware created at process boot.

Parameters:
  middleware(Prometheus): the broker's Dramatiq ``Prometheus`` middleware instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dramatiq import Middleware
from prometheus_client.registry import Collector


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
