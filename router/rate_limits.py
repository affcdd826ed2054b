"""Refresh rate limits: a token bucket per client and one per user, on every router replica.

A refresh (``POST /bundles/{u}/refresh``, ``POST /api/orchestrator_start``) takes one token from
the client's bucket and one from the user's. An empty bucket answers 429 with ``Retry-After`` (the
seconds until a token is back) and a JSON body naming the limit; nothing is started. A bucket holds
as many tokens as its rate allows per period and refills continuously, so a burst of that size is
allowed and then the rate holds. Buckets live in memory, at most ``max_keys`` per limit (the least
recently used are dropped), and count per replica: N replicas allow N times the rate in total.

Limits are :class:`services.core.rates.Rate` texts (``N/s``, ``N/min``, ``N/h``; ``0`` is off).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from services.core.errors import CloudfolioError
from services.core.rates import Rate


class RefreshRateLimited(CloudfolioError):
    """A refresh over a rate limit; ``limit`` names which, ``retry_after`` when to try again."""

    def __init__(self, limit: str, rate: str, retry_after: float) -> None:
        self.limit, self.rate, self.retry_after = limit, rate, max(1, math.ceil(retry_after))
        super().__init__(f"too many refreshes ({limit} limit {rate}); retry in {self.retry_after} s")


class TokenBuckets:
    """One bucket per key at ``rate``; thread-safe.

    Parameters:
      rate(Rate): tokens per period, and the burst size.
      clock(callable): monotonic seconds; tests pass their own.
      max_keys(int): buckets kept; the least recently used go first. Defaults to 100,000.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take a token; None when there was one, else the seconds until there will be."""
        refill = self.rate.tokens / self.rate.per_seconds
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.pop(key, (self.rate.tokens, now))
            tokens = min(self.rate.tokens, tokens + (now - at) * refill)
            wait = None if tokens >= 1 else (1 - tokens) / refill
            self._buckets[key] = (tokens - 1 if wait is None else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class RefreshLimits:
    """The per-client and per-user limits of one router replica."""

    def __init__(self, per_client: Rate | None, per_user: Rate | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {name: TokenBuckets(rate, clock) for name, rate in (("per-client", per_client),
                                                                           ("per-user", per_user)) if rate}

    def check(self, client: str, username: str) -> None:
        """Raise :class:`RefreshRateLimited` when either bucket is empty (a refused refresh still spends the
        client's token when the user's bucket is the empty one: the client did ask)."""
        for name, key in (("per-client", client), ("per-user", username)):
            buckets = self.limits.get(name)
            wait = buckets.take(key) if buckets else None
            if wait is not None:
                raise RefreshRateLimited(name, buckets.rate.text, wait)
