"""The GitHub request budget in Redis: one set of permits for every worker process and replica.

:class:`RedisBudget` is :class:`~services.core.sources.budget.RequestBudget` (the rule: permits,
pacing, the quota) with its state in Redis, keyed by the token's id (``cloudfolio:github:<id>:*``),
so 20 replicas × 8 threads share one concurrency limit and one pace:

- **request tokens** are Dramatiq's :class:`~dramatiq.rate_limits.BucketRateLimiter` over its
  :class:`~dramatiq.rate_limits.backends.RedisBackend`, one bucket per pacing window;
- **concurrency permits** are leases in a sorted set (one Lua script takes a permit when fewer than
  ``concurrency`` unexpired leases are held): a worker killed mid-request gives its permit back when
  the lease ends (``lease`` seconds, longer than a request's timeout). Dramatiq's
  ``ConcurrentRateLimiter`` would keep it for as long as the key stays busy, since every acquire
  renews that key's expiry, and busy is exactly when permits matter;
- **the quota** (``X-RateLimit-*``) is a hash updated by a script that keeps the later window, or the
  lower count in the same window; each process reads it at most once a second, and writes it at most
  once a second while more than ``pace_below`` of the limit is left (on every answer below that).

When Redis does not answer, requests go on under an in-process budget of the same size (logged once a
minute): GitHub work slows or hits GitHub's own limits, but never stops because Redis is down.
:func:`make_budget` picks Redis when ``CLOUDFOLIO_REDIS_URL`` is set, else one in-process budget for the
process's sources.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from dramatiq.rate_limits import BucketRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from services.core.observations import token_id
from services.core.settings import Settings
from services.core.sources.budget import LocalBudget, Pace, Quota, RequestBudget, budget_options

log = logging.getLogger("cloudfolio.github.budget")

_TAKE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_STORE_QUOTA = """
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset') or '-1')
local remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining') or '-1')
local new_reset, new_remaining = tonumber(ARGV[2]), tonumber(ARGV[1])
if new_reset > reset or (new_reset == reset and new_remaining < remaining) then
  redis.call('HSET', KEYS[1], 'remaining', ARGV[1], 'reset', ARGV[2], 'limit', ARGV[3])
  redis.call('EXPIREAT', KEYS[1], math.floor(new_reset) + 60)
end
return 0
"""

#: Seconds a process trusts its last reading of the shared quota.
QUOTA_READ_EVERY = 1.0


class RedisBudget(RequestBudget):
    """A :class:`RequestBudget` in Redis (see the module docstring).

    Parameters:
      client(redis.Redis): the connection (short socket timeouts: a slow Redis must not stall GitHub work).
      token(str | None): the GitHub token the budget is for (only its id is used in keys).
      lease(float): seconds a permit is held at most when its holder never gives it back. Defaults to 60.
      **options: the :class:`RequestBudget` parameters (concurrency, pace_below, wait, clock, sleep).
    """

    def __init__(self, client: redis.Redis, *, token: str | None = None, lease: float = 60.0,
                 **options: Any) -> None:
        super().__init__(**options)
        self.client = client
        self.prefix = f"cloudfolio:github:{token_id(token)}"
        self.lease_ms = int(lease * 1000)
        self._backend = RedisBackend(client=client)
        self._take = client.register_script(_TAKE)
        self._store = client.register_script(_STORE_QUOTA)
        self._fallback = LocalBudget(**options)
        self._quota: tuple[float, Quota | None] = (float("-inf"), None)  # the last reading, and when
        self._written: tuple[float, Quota | None] = (float("-inf"), None)  # the last write, and when
        self._last_warning = float("-inf")
        self._lock = threading.Lock()

    def _redis(self, what: str, call: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
        try:
            return call()
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._last_warning > 60:
                self._last_warning = now
                log.warning("Redis did not answer (%s: %s); GitHub permits are per process until it does",
                            what, type(exc).__name__)
            return fallback()

    def _take_slot(self) -> str | None:
        holder = uuid.uuid4().hex
        taken = self._redis("permit", lambda: self._take(keys=[f"{self.prefix}:permits"],
                                                         args=[self.concurrency, self.lease_ms, holder]),
                            lambda: self._fallback._take_slot() and "local")
        if taken == "local":
            return "local"
        return holder if taken == 1 else None

    def _give_slot(self, handle: str) -> None:
        if handle == "local":
            self._fallback._give_slot(handle)
            return
        self._redis("release", lambda: self.client.zrem(f"{self.prefix}:permits", handle), lambda: None)

    def _take_token(self, pace: Pace) -> bool:
        limiter = BucketRateLimiter(self._backend, f"{self.prefix}:pace:{pace.window_ms}", limit=pace.requests,
                                    bucket=pace.window_ms)
        return bool(self._redis("pace", lambda: limiter._acquire(), lambda: self._fallback._take_token(pace)))

    def quota(self) -> Quota | None:
        read_at, quota = self._quota
        if self.clock() - read_at < QUOTA_READ_EVERY:
            return quota
        values = self._redis("quota", lambda: self.client.hmget(f"{self.prefix}:quota", "remaining", "limit", "reset"),
                             lambda: None)
        if values is None:
            return self._fallback.quota()
        remaining, limit, reset = (v.decode() if isinstance(v, bytes) else v for v in values)
        quota = Quota.from_headers(remaining, reset, limit) if remaining is not None else None
        self._quota = (self.clock(), quota)
        return quota

    def _store_quota(self, quota: Quota) -> None:
        self._fallback._store_quota(quota)
        written_at, written = self._written
        plenty = quota.remaining >= self.pace_below * quota.limit
        if plenty and written is not None and written.reset == quota.reset and \
                self.clock() - written_at < QUOTA_READ_EVERY:
            return  # nobody paces on it yet: one write a second per process is enough while plenty is left
        self._written = (self.clock(), quota)
        self._redis("quota", lambda: self._store(keys=[f"{self.prefix}:quota"],
                                                 args=[quota.remaining, quota.reset, quota.limit]), lambda: None)

    def in_flight(self) -> int:
        """Unexpired permits held now, over every process (for tests and the admin views)."""
        now_ms = int(self.clock() * 1000)
        return int(self.client.zcount(f"{self.prefix}:permits", now_ms, "+inf"))

    def close(self) -> None:
        self.client.close()


def make_budget(settings: Settings) -> RequestBudget:
    """A Redis budget when ``CLOUDFOLIO_REDIS_URL`` is set, else an in-process one, sized by the settings."""
    options = budget_options(settings)
    if not settings.redis_url:
        return LocalBudget(**options)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0,
                                  health_check_interval=30)
    return RedisBudget(client, token=settings.github_token or None, lease=settings.github_timeout * 2 + 5, **options)
