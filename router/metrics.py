"""The router's Prometheus metrics (served at ``/metrics``).

Requests are labelled by route template, path (``queue``, ``legacy`` or ``-`` for routes that
take none) and status class, so the rollback alert can compute the queue path's error rate by
summing counters across router replicas.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("router_requests_total", "Requests handled, by route, path and status class.",
                                ["route", "path", "status_class"], registry=registry)
        self.latency = Histogram("router_request_duration_seconds", "Request latency.", ["route", "path"],
                                 registry=registry,
                                 buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.decisions = Counter("router_routing_decisions_total", "Routing decisions by path.", ["path"],
                                 registry=registry)
        self.jobs = Counter("router_jobs_finished_total", "Jobs seen finishing, by path and outcome.",
                            ["path", "outcome"], registry=registry)
        self.shadow = Counter("shadow_comparisons_total", "Shadow comparisons by verdict and primary path.",
                              ["verdict", "primary_path"], registry=registry)
        self.rate_limited = Counter("router_rate_limited_total", "Refreshes refused by a rate limit.", ["limit"],
                                    registry=registry)
        self.shadow_mirrors = Counter("shadow_mirrors_total", "Mirror decisions: started, dropped or sampled out.",
                                      ["outcome"], registry=registry)

        # labelled children by label values: ``labels()`` takes a lock and builds a key on every call,
        # and every request records three (labels are bounded, so this stays small)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decided: dict[str, Any] = {}

    def observe(self, route: str, path: str, status: int, seconds: float) -> None:
        key = (route, path, status // 100)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(route, path, f"{status // 100}xx"),
                                              self.latency.labels(route, path))
        children[0].inc()
        children[1].observe(seconds)

    def decided(self, path: str) -> None:
        """Count one routing decision for ``path``."""
        child = self._decided.get(path)
        if child is None:
            child = self._decided[path] = self.decisions.labels(path)
        child.inc()
