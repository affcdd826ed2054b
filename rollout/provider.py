"""Rollout flags as the router reads them: from a store, validated, cached, refreshed off the request path.

Reading never blocks a request once a first value is known, and never fails it:

- values are cached for ``ttl`` seconds (default 5). When they are older, the request gets the
  cached flags at once and one background refresh starts (at most one at a time);
- a failed read is remembered for the TTL too (no request retries a vault that is down), the last
  good flags stay in force, ``flag_store_errors_total`` counts it, ``flag_store_up`` drops to 0
  and :attr:`FlagProvider.last_error` says why (``/ready`` reports it);
- only the very first read, and the first read after :meth:`invalidate` (an admin change on this
  replica), happen on the caller's thread; before any good read the safe defaults apply;
- an invalid value fails safe (:func:`rollout.flags.parse_flags`), is logged and raises
  ``flag_errors_total{flag}``; :attr:`FlagProvider.problems` lists what is invalid now.
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


def in_background(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="flag-refresh", daemon=True).start()


class FlagProvider:
    """Cached, validated flags from a :class:`FlagStore`.

    Parameters:
      store(FlagStore): where flags live.
      registry(CollectorRegistry): where the flag metrics go.
      ttl(float): seconds a read stays fresh. Defaults to 5; at least 1.
      clock(callable): monotonic time source; tests set their own.
      refresh_in(callable): runs a refresh given as a function; a daemon thread by default (tests run
        it inline to keep a test deterministic).
    """

    def __init__(self, store: FlagStore, registry: CollectorRegistry, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 refresh_in: Callable[[Callable[[], None]], None] = in_background) -> None:
        self.store = store
        self.ttl = max(MIN_TTL_SECONDS, ttl)
        self.clock = clock
        self.refresh_in = refresh_in
        self._lock = threading.Lock()
        self._first_read = threading.Lock()  # one caller reads synchronously; the others wait for it
        self._flags = RolloutFlags()
        self._read_at: float | None = None
        self._refreshing = False
        self.last_error: str | None = None
        self.problems: dict[str, str] = {}
        self.raw: dict[str, str] | None = None  # the values as last read, None before a good read
        self.flag_errors = Counter("flag_errors_total", "Invalid flag values (failed safe).", ["flag"],
                                   registry=registry)
        self.store_errors = Counter("flag_store_errors_total", "Failed reads of the flag store.", registry=registry)
        self.store_up = Gauge("flag_store_up", "1 while the last read of the flag store succeeded.", registry=registry)
        self.gauge_pct = Gauge("rollout_queue_traffic_pct", "Share of users routed to the queue path.",
                               registry=registry)
        self.gauge_shadow = Gauge("rollout_shadow_enabled", "1 when shadow mirroring is on.", registry=registry)
        self.gauge_sample = Gauge("rollout_shadow_sample_pct", "Share of requests mirrored.", registry=registry)
        self.gauge_locked = Gauge("rollout_locked", "1 while the rollout is locked after a rollback.",
                                  registry=registry)

    def current_if_known(self) -> RolloutFlags | None:
        """:meth:`current` when it cannot block (flags were read; a stale read refreshes in the
        background), else None: an event loop calls this first and skips a thread hop."""
        with self._lock:
            read_at = self._read_at
            if read_at is None:
                return None
            start_refresh = self.clock() - read_at >= self.ttl and not self._refreshing
            if start_refresh:
                self._refreshing = True
        if start_refresh:
            self.refresh_in(self._refresh)
        return self._flags  # the refreshed flags when the refresh ran inline (tests)

    def current(self) -> RolloutFlags:
        known = self.current_if_known()
        if known is not None:
            return known  # stale or not: never make a request wait for the store once flags are known
        with self._first_read:
            if self._read_at is None:
                self._refresh()
        return self._flags

    def invalidate(self) -> None:
        """Forget the cached flags: the next read goes to the store on the caller's thread."""
        with self._lock:
            self._read_at = None

    def _refresh(self) -> None:
        try:
            raw = self.store.read()
        except Exception as exc:  # keep the last good flags; the store may be throttled or down
            self.store_errors.inc()
            self.store_up.set(0)
            log.error("flag store %s unreadable, keeping last good flags: %s", self.store.name, exc)
            with self._lock:
                self.last_error, self._read_at, self._refreshing = f"{type(exc).__name__}: {exc}", self.clock(), False
            return
        flags, problems = parse_flags(raw)
        for name, problem in problems.items():
            self.flag_errors.labels(name).inc()
            log.error("invalid flag %s (%s); failing safe", name, problem)
        self.store_up.set(1)
        self.gauge_pct.set(flags.percentage)
        self.gauge_shadow.set(1 if flags.shadow else 0)
        self.gauge_sample.set(flags.shadow_sample_pct)
        self.gauge_locked.set(1 if flags.locked else 0)
        with self._lock:
            self._flags, self.problems, self.last_error, self.raw = flags, problems, None, dict(raw)
            self._read_at, self._refreshing = self.clock(), False

    def health(self) -> str:
        """``ok``, or ``degraded: ...`` naming an unreachable store or invalid values (for ``/ready``)."""
        if self.last_error:
            return f"degraded: store unreachable, last good flags in force ({self.last_error[:200]})"
        if self.problems:
            listed = "; ".join(f"{name} {problem}" for name, problem in self.problems.items())
            return f"degraded: invalid values failing safe ({listed})"
        return "ok"
