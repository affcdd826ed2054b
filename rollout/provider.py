"""Rollout flags as the router reads them: from a store, validated, cached for a short TTL.

Reading never blocks a request for long and never fails it:

- values are cached for ``ttl`` seconds (default 5); the store is read at most once per TTL;
- when the store cannot be read, the last good flags stay in force (an error is logged and
  ``flag_store_errors_total`` counts it); before any good read, the safe defaults apply;
- an invalid value fails safe (:func:`rollout.flags.parse_flags`), an error is logged and
  ``flag_errors_total{flag}`` raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from rollout.flags import RolloutFlags, parse_flags
from rollout.stores import FlagStore

log = logging.getLogger("cloudfolio.flags")

#: Shortest TTL accepted: Key Vault throttles, so the router must not read it on every request.
MIN_TTL_SECONDS = 1.0


class FlagProvider:
    """Cached, validated flags from a :class:`FlagStore`.

    Parameters:
      store(FlagStore): where flags live.
      registry(CollectorRegistry): where the flag metrics go.
      ttl(float): seconds a read stays valid. Defaults to 5; at least 1.
      clock(callable): monotonic time source, for tests.
    """

    def __init__(self, store: FlagStore, registry: CollectorRegistry, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = max(MIN_TTL_SECONDS, ttl)
        self.clock = clock
        self._lock = threading.Lock()
        self._flags = RolloutFlags()
        self._read_at: float | None = None
        self.flag_errors = Counter("flag_errors_total", "Invalid flag values (failed safe).", ["flag"],
                                   registry=registry)
        self.store_errors = Counter("flag_store_errors_total", "Failed reads of the flag store.", registry=registry)
        self.gauge_pct = Gauge("rollout_queue_traffic_pct", "Share of users routed to the queue path.",
                               registry=registry)
        self.gauge_shadow = Gauge("rollout_shadow_enabled", "1 when shadow mirroring is on.", registry=registry)
        self.gauge_sample = Gauge("rollout_shadow_sample_pct", "Share of requests mirrored.", registry=registry)
        self.gauge_locked = Gauge("rollout_locked", "1 while the rollout is locked after a rollback.",
                                  registry=registry)

    def current(self) -> RolloutFlags:
        with self._lock:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.ttl:
                return self._flags
            try:
                raw = self.store.read()
            except Exception as exc:  # keep the last good flags; the store may be throttled or down
                self.store_errors.inc()
                log.error("flag store %s unreadable, keeping last good flags: %s", self.store.name, exc)
                self._read_at = now
                return self._flags
            flags, problems = parse_flags(raw)
            for name, problem in problems.items():
                self.flag_errors.labels(name).inc()
                log.error("invalid flag %s (%s); failing safe", name, problem)
            self._flags, self._read_at = flags, now
            self.gauge_pct.set(flags.percentage)
            self.gauge_shadow.set(1 if flags.shadow else 0)
            self.gauge_sample.set(flags.shadow_sample_pct)
            self.gauge_locked.set(1 if flags.locked else 0)
            return flags

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = None
