"""The router's Prometheus metrics (served at ``/metrics``).

Requests are labelled by route template, path (``queue``, ``legacy`` or ``-`` for routes that
take none) and status class, so the rollback alert can compute the queue path's error rate by
summing counters across router replicas.
"""

from __future__ import annotations

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

    def observe(self, route: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(route, path, f"{status // 100}xx").inc()
        self.latency.labels(route, path).observe(seconds)
