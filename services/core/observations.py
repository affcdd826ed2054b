"""Operational metrics of the domain: cache hits and misses, GitHub's quota, training runs, job durations.

The domain objects of one process share one :class:`Observations` (on
:class:`~services.core.backends.Backends`); it records nothing until the composition binds it to the
process's Prometheus registry (:meth:`Observations.bind`), so a domain object used alone (a test, a
one-shot command) costs nothing. Names and labels:

- ``cloudfolio_cache_lookups_total{cache, outcome, user_bucket}``: ``cache`` is ``bundle`` (a bundle
  read found a stored bundle), ``repo`` (a plan reused a repo's record instead of re-syncing it),
  ``model`` (a search found the model unpacked locally instead of downloading it) or ``github_etag``
  (GitHub answered 304 to a conditional request); ``outcome`` is ``hit`` or ``miss``;
- ``github_rate_limit_remaining{token}`` and ``github_rate_limit_reset_timestamp_seconds{token}``:
  from GitHub's ``X-RateLimit-*`` headers; ``token`` is ``anonymous`` or ``sha256:`` and the first 8
  hex digits of the token's SHA-256 (never the token);
- ``training_runs_total{outcome}`` and ``training_duration_seconds{outcome}``: ``trained``,
  ``exists``, ``too_few_documents``, ``failed``...;
- ``job_duration_seconds{path, outcome}``: a refresh job from creation to its end, counted once.

The same measurements also go to OpenTelemetry instruments (meter ``cloudfolio``), which cost
nothing until the composition installs a meter provider (an OTLP or Azure Monitor exporter is set):
``cloudfolio_cache_lookups``, ``github_rate_limit_remaining``, ``github_rate_limit_reset_timestamp``
(unit ``s``), ``training_runs``, ``training_duration`` (``s``) and ``job_duration`` (``s``), with the
labels above as attributes (OpenTelemetry's Prometheus naming turns them back into the names above).

Cardinality: users are never a label. ``user_bucket`` is a stable hash bucket (:func:`user_bucket`,
32 buckets, the same on every replica), so a user's hit rate is read from their bucket.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.core.gc_pauses import GcPauseCollector
from services.core.heap_usage import HeapCollector

#: Number of ``user_bucket`` values.
USER_BUCKETS = 32
CACHES = ("bundle", "repo", "model", "github_etag")
TRAINING_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1500.0)
JOB_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


@functools.lru_cache(maxsize=65_536)  # pure, and asked on every cache lookup: a hash per user, not per lookup
def user_bucket(username: str) -> str:
    """The user's bucket: the first 8 hex digits of SHA-256 of the lowercased name, modulo 32, as two digits."""
    digest = hashlib.sha256(username.lower().encode()).hexdigest()
    return f"{int(digest[:8], 16) % USER_BUCKETS:02d}"


def token_id(token: str | None) -> str:
    """What a GitHub token is called in metrics: never the token itself."""
    if not token:
        return "anonymous"
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:8]


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.cache = Counter("cloudfolio_cache_lookups_total", "Cache lookups by cache, outcome and user bucket.",
                             ["cache", "outcome", "user_bucket"], registry=registry)
        self.remaining = Gauge("github_rate_limit_remaining", "GitHub requests left in the window, per token.",
                               ["token"], registry=registry)
        self.reset = Gauge("github_rate_limit_reset_timestamp_seconds", "When GitHub's window resets (Unix time).",
                           ["token"], registry=registry)
        self.training = Counter("training_runs_total", "Training runs by outcome.", ["outcome"], registry=registry)
        self.training_seconds = Histogram("training_duration_seconds", "Training run duration.", ["outcome"],
                                          registry=registry, buckets=TRAINING_BUCKETS)
        self.jobs = Histogram("job_duration_seconds", "Refresh job duration, created to finished.", ["path", "outcome"],
                              registry=registry, buckets=JOB_BUCKETS)
        self.quota = Counter("cloudfolio_quota_exceeded_total", "Refreshes and trainings over a per-user quota, by "
                             "quota and action (refused, or counted while enforcement is off).", ["quota", "action"],
                             registry=registry)
        self.usage_users = Gauge("cloudfolio_usage_users", "Users by quota state (under, near: at 80 %, at a quota), "
                                 "from the latest usage scan.", ["state"], registry=registry)


class _Instruments:
    """The OpenTelemetry side: no-ops until a meter provider is installed (the API's proxies)."""

    def __init__(self, cache_totals: Callable[[], dict[tuple[str, str, str], int]]) -> None:
        meter = metrics.get_meter("cloudfolio")

        def observe_cache(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(total, {"cache": cache, "outcome": outcome, "user_bucket": bucket})
                    for (cache, outcome, bucket), total in cache_totals().items()]

        # observed when the reader collects, from totals kept in memory: a bundle read (the hottest
        # path) costs a dict increment instead of the SDK's ~12 us per add
        self.cache = meter.create_observable_counter("cloudfolio_cache_lookups", callbacks=[observe_cache],
                                                     description="Cache lookups.")
        self.remaining = meter.create_gauge("github_rate_limit_remaining",
                                            description="GitHub requests left in the window, per token.")
        self.reset = meter.create_gauge("github_rate_limit_reset_timestamp", unit="s",
                                        description="When GitHub's window resets (Unix time).")
        self.training = meter.create_counter("training_runs", description="Training runs by outcome.")
        self.training_seconds = meter.create_histogram("training_duration", unit="s",
                                                       description="Training run duration.",
                                                       explicit_bucket_boundaries_advisory=TRAINING_BUCKETS)
        self.jobs = meter.create_histogram("job_duration", unit="s", description="Refresh job duration.",
                                           explicit_bucket_boundaries_advisory=JOB_BUCKETS)
        self.quota = meter.create_counter("cloudfolio_quota_exceeded", description="Work over a per-user quota.")


class Observations:
    """Where domain objects report; a no-op until :meth:`bind`."""

    def __init__(self) -> None:
        self._metrics: _Metrics | None = None
        self._otel: _Instruments | None = None
        self._lock = threading.Lock()
        self._cache_totals: dict[tuple[str, str, str], int] = {}
        self._cache_children: dict[tuple[str, str, str], Any] = {}

    def bind(self, registry: CollectorRegistry) -> None:
        """Record into ``registry`` from now on (the first registry wins; later calls do nothing)."""
        with self._lock:
            if self._metrics is None:
                self._otel = _Instruments(self._totals)
                self._metrics = _Metrics(registry)
                registry.register(GcPauseCollector())
                registry.register(HeapCollector())

    def cache(self, cache: str, hit: bool, username: str, count: int = 1) -> None:
        if self._metrics is None or self._otel is None or count <= 0:
            return
        outcome, bucket = "hit" if hit else "miss", user_bucket(username)
        key = (cache, outcome, bucket)
        child = self._cache_children.get(key)
        if child is None:  # labels() locks and builds a key each call; the children are bounded by the buckets
            child = self._cache_children[key] = self._metrics.cache.labels(cache, outcome, bucket)
        child.inc(count)
        with self._lock:
            self._cache_totals[key] = self._cache_totals.get(key, 0) + count

    def _totals(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._cache_totals)

    def github_rate_limit(self, token: str, remaining: str | None, reset: str | None) -> None:
        if self._metrics is None or self._otel is None:
            return
        try:
            if remaining is not None:
                self._metrics.remaining.labels(token).set(float(remaining))
                self._otel.remaining.set(float(remaining), {"token": token})
            if reset is not None:
                self._metrics.reset.labels(token).set(float(reset))
                self._otel.reset.set(float(reset), {"token": token})
        except ValueError:  # a malformed header is GitHub's problem, not a reason to fail a sync
            return

    def training(self, outcome: str, seconds: float) -> None:
        if self._metrics is not None and self._otel is not None:
            self._metrics.training.labels(outcome).inc()
            self._metrics.training_seconds.labels(outcome).observe(seconds)
            self._otel.training.add(1, {"outcome": outcome})
            self._otel.training_seconds.record(seconds, {"outcome": outcome})

    def job_finished(self, path: str, outcome: str, seconds: float) -> None:
        if self._metrics is not None and self._otel is not None:
            self._metrics.jobs.labels(path, outcome).observe(seconds)
            self._otel.jobs.record(seconds, {"path": path, "outcome": outcome})

    def quota_exceeded(self, quota: str, refused: bool) -> None:
        if self._metrics is not None and self._otel is not None:
            action = "refused" if refused else "counted"
            self._metrics.quota.labels(quota, action).inc()
            self._otel.quota.add(1, {"quota": quota, "action": action})

    def usage_users(self, counts: dict[str, int]) -> None:
        """The latest usage scan's users per state (three label values, whatever the number of users)."""
        if self._metrics is not None:
            for state in ("under", "near", "at"):
                self._metrics.usage_users.labels(state).set(counts.get(state, 0))
