"""Request metrics per serving path over time: the points the dashboard charts.

A :class:`Point` is one interval of one path: requests per second, errors per request (5xx answers
plus failed jobs, the rollout gates' definition) and the p95 latency over every route of the path.
Both sources produce them: the router's own samples (:mod:`router.metric_history`) and Prometheus'
range queries (:meth:`rollout.prometheus_provider.PrometheusProvider.series`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``{path: [Point, ...]}``, oldest first.
Series = dict[str, list["Point"]]


@dataclass(frozen=True)
class Point:
    at: float  # unix seconds at the interval's end
    rate: float
    error_ratio: float | None  # None in an interval without requests
    p95: float | None  # seconds; None without requests


def combine(at: float, rate: float, errors_per_second: float, p95: float | None) -> Point:
    """A point from rates: no requests means no error ratio and no p95."""
    if rate <= 0:
        return Point(at, 0.0, None, None)
    return Point(at, rate, errors_per_second / rate, p95)
