"""Error-rate alert evaluation for the queue path, from the routers' Prometheus metrics.

Each evaluation scrapes ``/metrics`` of every router replica and sums their counters:

- requests: ``router_requests_total{path="queue"}`` (all status classes);
- errors: its ``status_class="5xx"`` part plus ``router_jobs_finished_total{path="queue",
  outcome="failed"}`` (a refresh whose job failed is an error for the user, even though the 202
  that started it was fine).

Samples are kept (in memory, or in a JSON state file for one-shot cron runs) and the error rate is
the increase of errors over the increase of requests within the window. The verdict is one of:

- ``unhealthy``: at least ``min_requests`` requests in the window and the rate above the threshold;
- ``healthy``: at least ``min_requests`` and the rate at or below it;
- ``unknown``: no data, a failed scrape, too few requests, or a window not yet covered. Unknown is
  never healthy, and never triggers a rollback either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from rollout.measure import counters_of

HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"


@dataclass(frozen=True)
class Sample:
    at: float
    requests: float
    errors: float


@dataclass(frozen=True)
class Verdict:
    state: str
    rate: float | None
    requests: float
    errors: float
    window_seconds: float
    threshold: float
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_metrics(text: str) -> tuple[float, float]:
    """(queue-path requests, queue-path errors) from one router's metrics text."""
    counters = counters_of(text)
    return counters.get("queue.requests", 0.0), counters.get("queue.errors", 0.0)


def scrape(urls: Iterable[str], timeout: float = 5.0, clock: Callable[[], float] = time.time) -> Sample:
    """One sample summed over every router replica; raises when any replica cannot be scraped."""
    requests = errors = 0.0
    for url in urls:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        replica_requests, replica_errors = parse_metrics(response.text)
        requests += replica_requests
        errors += replica_errors
    return Sample(clock(), requests, errors)


@dataclass
class ErrorRateEvaluator:
    """Keeps samples and judges the window.

    Parameters:
      window_seconds(float): the window. Defaults to 300 (5 minutes).
      threshold(float): the error rate above which the path is unhealthy. Defaults to 0.02 (2 %).
      min_requests(int): fewer requests in the window is ``unknown``. Defaults to 20.
    """

    window_seconds: float = 300.0
    threshold: float = 0.02
    min_requests: int = 20
    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        if self.samples and (sample.requests < self.samples[-1].requests or sample.errors < self.samples[-1].errors):
            self.samples.clear()  # a counter went down: a router restarted; start the window again
        self.samples.append(sample)
        horizon = sample.at - 2 * self.window_seconds
        self.samples = [s for s in self.samples if s.at >= horizon]

    def evaluate(self, now: float | None = None) -> Verdict:
        def verdict(state: str, reason: str, rate: float | None = None, requests: float = 0.0,
                    errors: float = 0.0) -> Verdict:
            return Verdict(state, rate, requests, errors, self.window_seconds, self.threshold, reason)

        if len(self.samples) < 2:
            return verdict(UNKNOWN, "not enough samples yet")
        latest = self.samples[-1]
        now = latest.at if now is None else now
        start = now - self.window_seconds
        inside = [s for s in self.samples if s.at > start]
        before = [s for s in self.samples if s.at <= start]
        # the baseline is the last sample at or before the window's start (or its first sample, early on)
        baseline = before[-1] if before else inside[0]
        if baseline is latest:
            return verdict(UNKNOWN, "no samples inside the window")
        requests = latest.requests - baseline.requests
        errors = latest.errors - baseline.errors
        if requests < self.min_requests:
            return verdict(UNKNOWN, f"only {requests:.0f} queue-path requests in the window (minimum "
                                    f"{self.min_requests})", None, requests, errors)
        rate = errors / requests
        if rate > self.threshold:
            reason = (f"queue-path error rate {rate:.1%} > {self.threshold:.1%} over {self.window_seconds:.0f}s "
                      f"({errors:.0f}/{requests:.0f})")
            return verdict(UNHEALTHY, reason, rate, requests, errors)
        return verdict(HEALTHY, f"queue-path error rate {rate:.1%} <= {self.threshold:.1%}", rate, requests, errors)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(s) for s in self.samples]), "utf-8")

    def load(self, path: Path) -> None:
        try:
            self.samples = [Sample(**item) for item in json.loads(path.read_text("utf-8"))]
        except (OSError, ValueError, TypeError):
            self.samples = []
