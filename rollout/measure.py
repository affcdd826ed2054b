"""Where a rollout's evidence comes from: metric providers behind one small interface.

A :class:`MetricsProvider` answers :meth:`~MetricsProvider.measure`: both paths' requests, errors
and refresh-answer p95 and the shadow comparisons over the last ``window`` seconds, as
:class:`~rollout.analysis.Measurements`, or raises :class:`MetricsUnavailable` (never a guess).

:class:`DirectScrape` (the embedded default, for one router or a fixed list of replicas) scrapes
every router's ``/metrics`` on each call, keeps the snapshots, and differences the counters over
the window (a counter that went down means a router restarted: the window starts again). It reads:

- ``router_requests_total{path}`` (requests) and its ``status_class="5xx"`` part plus
  ``router_jobs_finished_total{path, outcome="failed"}`` (errors);
- ``router_request_duration_seconds_bucket{route="/bundles/{username}/refresh", path}`` (p95 of the
  refresh answer, interpolated within the bucket, as PromQL's ``histogram_quantile``);
- ``shadow_comparisons_total{verdict}``: comparisons are ``match`` + ``source_changed`` +
  ``divergence``; divergences are ``divergence``.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from rollout.analysis import Measurements, PathWindow
from rollout.series import Series
from services.core.errors import DependencyUnavailable
from services.core.redaction import redact_text

REFRESH_ROUTE = "/bundles/{username}/refresh"
COMPARED = ("match", "source_changed", "divergence")
PATHS = ("queue", "legacy")


class MetricsUnavailable(DependencyUnavailable):
    """The metric provider could not answer; an analysis without data is never a pass."""

    service = "the rollout metrics"


class MetricsProvider(ABC):
    name: str

    @abstractmethod
    def measure(self, window_seconds: float) -> Measurements:
        """Both paths over the last ``window_seconds``; raises :class:`MetricsUnavailable`."""

    def series(self, span: float, step: float) -> Series | None:
        """Both paths over the last ``span`` seconds, a point per ``step`` (the dashboard's charts), or
        None when this provider keeps no history (the direct scrape); raises :class:`MetricsUnavailable`."""
        return None


def quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets, linearly interpolated."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound, as histogram_quantile does
            span = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / span if span else 0)
        lower_bound, lower_count = bound, count
    return None


def counters_of(text: str) -> dict[str, float]:
    """The counters one router's metrics text contributes, by a flat name."""
    counters: dict[str, float] = {}

    def add(name: str, value: float) -> None:
        counters[name] = counters.get(name, 0.0) + value

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, path = sample.labels, sample.labels.get("path")
            if sample.name == "router_requests_total" and path in PATHS:
                add(f"{path}.requests", sample.value)
                if labels.get("status_class") == "5xx":
                    add(f"{path}.errors", sample.value)
            elif sample.name == "router_jobs_finished_total" and path in PATHS and labels.get("outcome") == "failed":
                add(f"{path}.errors", sample.value)
            elif (sample.name == "router_request_duration_seconds_bucket" and path in PATHS
                  and labels.get("route") == REFRESH_ROUTE):
                add(f"{path}.le.{labels['le']}", sample.value)
            elif sample.name == "shadow_comparisons_total" and labels.get("verdict") in COMPARED:
                add("comparisons", sample.value)
                if labels["verdict"] == "divergence":
                    add("divergences", sample.value)
    return counters


@dataclass
class Snapshot:
    at: float
    counters: dict[str, float]


class DirectScrape(MetricsProvider):
    """Scrapes ``urls`` (every router replica's ``/metrics``) on each measurement.

    Parameters:
      urls(Sequence[str]): the replicas; all must answer, or the measurement fails.
      clock(callable): wall-clock seconds; tests set their own.
      timeout(float): seconds per scrape. Defaults to 5.
      state_path(Path | None): where the snapshots are kept between processes (``rollout watch --once``
        from cron); None keeps them in memory.
    """

    name = "direct-scrape"

    def __init__(self, urls: Sequence[str], clock: Callable[[], float] = time.time, timeout: float = 5.0,
                 state_path: Path | None = None) -> None:
        self.urls = list(urls)
        self.clock = clock
        self.timeout = timeout
        self.state_path = state_path
        self.snapshots: list[Snapshot] = []

    def _scrape(self) -> Snapshot:
        total: dict[str, float] = {}
        for url in self.urls:
            try:
                response = httpx.get(url, timeout=self.timeout)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                # no credential in a URL reaches a message, a log line or the stored plan state
                raise MetricsUnavailable(redact_text(f"scrape of {url} failed: {type(exc).__name__}: {exc}")) from exc
            for name, value in counters_of(response.text).items():
                total[name] = total.get(name, 0.0) + value
        return Snapshot(self.clock(), total)

    def _load(self) -> None:
        if self.state_path is None or self.snapshots:
            return
        try:
            self.snapshots = [Snapshot(**item) for item in json.loads(self.state_path.read_text("utf-8"))]
        except (OSError, ValueError, TypeError):
            self.snapshots = []

    def _save(self) -> None:
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            self.state_path.write_text(json.dumps([asdict(s) for s in self.snapshots]), "utf-8")

    def measure(self, window_seconds: float) -> Measurements:
        self._load()
        latest = self._scrape()
        if self.snapshots and any(latest.counters.get(k, 0.0) < v for k, v in self.snapshots[-1].counters.items()):
            self.snapshots.clear()  # a router restarted: its counters began again
        self.snapshots.append(latest)
        start = latest.at - window_seconds
        self.snapshots = [s for s in self.snapshots if s.at >= start - window_seconds]
        self._save()
        before = [s for s in self.snapshots if s.at <= start]
        baseline = before[-1] if before else self.snapshots[0]
        delta = {k: v - baseline.counters.get(k, 0.0) for k, v in latest.counters.items()}

        def path(name: str) -> PathWindow:
            buckets = [(float(key.rsplit(".le.", 1)[1]), value) for key, value in delta.items()
                       if key.startswith(f"{name}.le.")]
            return PathWindow(delta.get(f"{name}.requests", 0.0), delta.get(f"{name}.errors", 0.0),
                              quantile(buckets, 0.95))

        return Measurements(path("queue"), path("legacy"), delta.get("comparisons", 0.0), delta.get("divergences", 0.0),
                            queries={"scrape": redact_text(", ".join(self.urls))},
                            covered_seconds=latest.at - baseline.at)
