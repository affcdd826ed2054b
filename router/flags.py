"""Rollout flags as the router sees them: parsed, validated, cached for a short TTL.

Reading never blocks a request for long and never fails it:

- values are cached for ``ttl`` seconds (default 5); the store is read at most once per TTL;
- when the store cannot be read, the last good flags stay in force (an error is logged and
  ``flag_store_errors_total`` counts it); before any good read, the safe defaults apply;
- an invalid value (``"abc"``, 150, -1) fails safe: 0 % to the queue path (shadow off for a bad
  shadow flag), an error logged, ``flag_errors_total{flag}`` raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from rollout.flag_stores import (
    ENABLE_QUEUE_SHADOW,
    QUEUE_TRAFFIC_PCT,
    ROLLOUT_LOCK,
    ROLLOUT_STICKINESS,
    SHADOW_SAMPLE_PCT,
    FlagStore,
)

log = logging.getLogger("cloudfolio.flags")

#: Shortest TTL accepted: Key Vault throttles, so the router must not read it on every request.
MIN_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class RolloutFlags:
    """The flags in force."""

    percentage: float = 0.0
    shadow: bool = False
    shadow_sample_pct: float = 100.0
    stickiness: str = "sticky"
    lock: str = ""
    errors: tuple[str, ...] = field(default=())

    @property
    def locked(self) -> bool:
        return bool(self.lock)

    def as_dict(self) -> dict[str, object]:
        return {"percentage": self.percentage, "shadow": self.shadow, "shadow_sample_pct": self.shadow_sample_pct,
                "stickiness": self.stickiness, "locked": self.locked, "lock": self.lock or None,
                "errors": list(self.errors)}


def _percentage(raw: str | None, default: float) -> tuple[float, str | None]:
    if raw is None or raw.strip() == "":
        return default, None
    try:
        value = float(raw)
    except ValueError:
        return 0.0, f"not a number: {raw!r}"
    if not 0 <= value <= 100 or value != value:  # NaN compares unequal to itself
        return 0.0, f"out of range 0-100: {raw!r}"
    return value, None


def _boolean(raw: str | None) -> tuple[bool, str | None]:
    if raw is None or raw.strip() == "":
        return False, None
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True, None
    if lowered in {"0", "false", "no", "off"}:
        return False, None
    return False, f"not true or false: {raw!r}"


def parse_flags(raw: Mapping[str, str]) -> tuple[RolloutFlags, dict[str, str]]:
    """Parse raw store values; return the flags and ``{flag: problem}`` for every bad value."""
    problems: dict[str, str] = {}
    percentage, problem = _percentage(raw.get(QUEUE_TRAFFIC_PCT), 0.0)
    if problem:
        problems[QUEUE_TRAFFIC_PCT] = problem
    shadow, problem = _boolean(raw.get(ENABLE_QUEUE_SHADOW))
    if problem:
        problems[ENABLE_QUEUE_SHADOW] = problem
    sample, problem = _percentage(raw.get(SHADOW_SAMPLE_PCT), 100.0)
    if problem:
        problems[SHADOW_SAMPLE_PCT] = problem
    stickiness = (raw.get(ROLLOUT_STICKINESS) or "sticky").strip().lower()
    if stickiness not in {"sticky", "random"}:
        problems[ROLLOUT_STICKINESS] = f"not sticky or random: {stickiness!r}"
        stickiness = "sticky"
    lock = (raw.get(ROLLOUT_LOCK) or "").strip()
    flags = RolloutFlags(percentage, shadow, sample, stickiness, lock,
                         tuple(f"{name}: {text}" for name, text in problems.items()))
    return flags, problems


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
        self._clock = clock
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
            now = self._clock()
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
