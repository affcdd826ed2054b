"""The router's own request metrics over the last minutes, for the dashboard's charts.

:class:`MetricHistory` samples this process's registry every ``step`` seconds (a task of the
router's lifespan, :meth:`MetricHistory.run`; a dashboard view samples too when the last sample is
older than a step) and keeps ``span`` seconds of samples. :meth:`MetricHistory.series` turns
consecutive samples into one point per interval and path:

- ``rate``: requests per second (``router_requests_total{path}``);
- ``error_ratio``: errors per request, errors being 5xx answers plus failed jobs, the rollout
  gates' definition (:mod:`rollout.measure`); None in an interval without requests;
- ``p95``: the 95th percentile of request latency over every route of the path, interpolated within
  the histogram's buckets as PromQL's ``histogram_quantile``; None without requests.

It sees one replica: behind a load balancer the charts show this replica's share (the dashboard says so).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from rollout.measure import PATHS, quantile
from rollout.series import Point, Series, combine


@dataclass(frozen=True)
class Sample:
    at: float
    requests: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # {path: {upper bound: cumulative}}


def read_sample(registry: CollectorRegistry, at: float) -> Sample:
    """The request, error and latency-bucket counters of ``registry`` now, summed by path."""
    sample = Sample(at, {p: 0.0 for p in PATHS}, {p: 0.0 for p in PATHS}, {p: {} for p in PATHS})
    for family in registry.collect():
        for item in family.samples:
            path = item.labels.get("path")
            if path not in PATHS:
                continue
            if item.name == "router_requests_total":
                sample.requests[path] += item.value
                if item.labels.get("status_class") == "5xx":
                    sample.errors[path] += item.value
            elif item.name == "router_jobs_finished_total" and item.labels.get("outcome") == "failed":
                sample.errors[path] += item.value
            elif item.name == "router_request_duration_seconds_bucket":
                bound = float(item.labels["le"])
                sample.buckets[path][bound] = sample.buckets[path].get(bound, 0.0) + item.value
    return sample


def point_between(before: Sample, after: Sample, path: str) -> Point:
    seconds = max(after.at - before.at, 1e-9)
    requests = after.requests[path] - before.requests[path]
    errors = after.errors[path] - before.errors[path]
    buckets = [(bound, count - before.buckets[path].get(bound, 0.0)) for bound, count in after.buckets[path].items()]
    return combine(after.at, requests / seconds, errors / seconds, quantile(buckets, 0.95) if requests > 0 else None)


class MetricHistory:
    """Samples of one registry's request metrics.

    Parameters:
      registry(CollectorRegistry): the router's registry.
      step(float): seconds between samples. Defaults to 15.
      span(float): seconds of samples kept. Defaults to 900 (the dashboard's 15 minutes).
      clock(callable): wall-clock seconds; tests set their own.
    """

    def __init__(self, registry: CollectorRegistry, step: float = 15.0, span: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry, self.step, self.span, self.clock = registry, step, span, clock
        self._samples: deque[Sample] = deque()
        self._lock = threading.Lock()

    def sample(self) -> None:
        taken = read_sample(self.registry, self.clock())
        with self._lock:
            self._samples.append(taken)
            while self._samples and self._samples[0].at < taken.at - self.span:
                self._samples.popleft()

    def sample_if_due(self) -> None:
        with self._lock:
            due = not self._samples or self.clock() - self._samples[-1].at >= self.step
        if due:
            self.sample()

    def series(self) -> Series:
        """One point per interval between kept samples, per path, oldest first."""
        with self._lock:
            samples = list(self._samples)
        return {path: [point_between(a, b, path) for a, b in zip(samples, samples[1:], strict=False)]
                for path in PATHS}

    async def run(self) -> None:
        """Sample every ``step`` seconds until cancelled (the router's lifespan runs it)."""
        while True:
            self.sample()
            await asyncio.sleep(self.step)
