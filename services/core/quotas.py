"""Per-user quotas: cache bytes, refreshes per day, trainings per week (the migration plan's soft limits).

The one place the rule lives. :meth:`Quotas.check_refresh` and :meth:`Quotas.check_training` read a
user's :class:`~services.core.usage.Usage` and return the first quota it has reached, as a
:class:`QuotaExceeded` carrying the limit, the use and the seconds until the period ends (the
``Retry-After`` of a refused refresh). Whether that refuses anything is :attr:`Quotas.enforce`
(``ENABLE_QUOTA_ENFORCEMENT``, off by default): off, the callers log and count it and go on; on, a
refresh answers 429 and a training is skipped with the reason recorded. A limit of 0 is no limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.core.errors import CloudfolioError
from services.core.log_throttle import LogThrottle
from services.core.observations import Observations
from services.core.settings import Settings
from services.core.usage import Usage, UsageStore

log = logging.getLogger("cloudfolio.quotas")

#: Share of a quota from which a user counts as ``near`` it.
NEAR_SHARE = 0.8
#: Seconds a refresh refused for cache bytes is told to wait: the bytes fall only when an operator acts.
CACHE_RETRY_AFTER = 3600


class QuotaExceeded(CloudfolioError):
    """A user at a quota. ``quota`` names it; ``retry_after`` is seconds to the end of its period."""

    def __init__(self, username: str, quota: str, used: int, limit: int, retry_after: int) -> None:
        self.username, self.quota, self.used, self.limit = username, quota, used, limit
        self.retry_after = max(1, retry_after)
        super().__init__(f"{username} is at the {quota} quota ({used} of {limit}); retry in {self.retry_after} s")

    def body(self) -> dict[str, object]:
        return {"error": str(self), "quota": self.quota, "used": self.used, "limit": self.limit,
                "retry_after_seconds": self.retry_after}


def seconds_to_next_day(now: datetime) -> int:
    now = now.astimezone(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((tomorrow - now).total_seconds()) + 1


def seconds_to_next_week(now: datetime) -> int:
    now = now.astimezone(UTC)
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((monday - now).total_seconds()) + 1


@dataclass(frozen=True)
class Quotas:
    """The limits, and whether they refuse (see the module docstring)."""

    cache_bytes: int = 100 * 2**20
    refreshes_per_day: int = 50
    trainings_per_week: int = 2
    enforce: bool = False
    #: one warning per user, quota and action a minute (a user over a quota is over it on every request)
    warnings: LogThrottle = field(default_factory=lambda: LogThrottle(log), compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Quotas:
        return cls(cache_bytes=settings.quota_cache_mb * 2**20, refreshes_per_day=settings.quota_refreshes_per_day,
                   trainings_per_week=settings.quota_trainings_per_week, enforce=settings.enable_quota_enforcement)

    def check_refresh(self, usage: Usage, now: datetime) -> QuotaExceeded | None:
        """The quota one more refresh would go over (the day's refreshes, then the cache bytes)."""
        if self.refreshes_per_day and usage.refreshes >= self.refreshes_per_day:
            return QuotaExceeded(usage.username, "refreshes_per_day", usage.refreshes, self.refreshes_per_day,
                                 seconds_to_next_day(now))
        if self.cache_bytes and usage.total_cache_bytes >= self.cache_bytes:
            return QuotaExceeded(usage.username, "cache_bytes", usage.total_cache_bytes, self.cache_bytes,
                                 CACHE_RETRY_AFTER)
        return None

    def check_training(self, usage: Usage, now: datetime) -> QuotaExceeded | None:
        """The quota one more training would go over."""
        if self.trainings_per_week and usage.trainings >= self.trainings_per_week:
            return QuotaExceeded(usage.username, "trainings_per_week", usage.trainings, self.trainings_per_week,
                                 seconds_to_next_week(now))
        return None

    def state(self, usage: Usage, now: datetime) -> str:
        """``at`` a quota, ``near`` one (80 % used), or ``under`` (the usage gauges' three states)."""
        if self.check_refresh(usage, now) or self.check_training(usage, now):
            return "at"
        shares = [used / limit for used, limit in ((usage.refreshes, self.refreshes_per_day),
                                                   (usage.trainings, self.trainings_per_week),
                                                   (usage.total_cache_bytes, self.cache_bytes)) if limit]
        return "near" if shares and max(shares) >= NEAR_SHARE else "under"

    def judge(self, exceeded: QuotaExceeded | None, what: str, observations: Observations) -> QuotaExceeded | None:
        """Count an exceeded quota (each time) and log it (once a minute per user, quota and ``what``);
        return it when enforcement refuses ``what`` (else None)."""
        if exceeded is None:
            return None
        observations.quota_exceeded(exceeded.quota, refused=self.enforce)
        action = "refused" if self.enforce else "allowed (ENABLE_QUOTA_ENFORCEMENT is off)"
        self.warnings.warning((exceeded.username, exceeded.quota, what), "%s of %s over quota, %s: %s", what,
                              exceeded.username, action, exceeded,
                              extra={"username": exceeded.username, "quota": exceeded.quota})
        return exceeded if self.enforce else None

    def view(self) -> dict[str, object]:
        return {"enforced": self.enforce, "cache_bytes": self.cache_bytes, "refreshes_per_day": self.refreshes_per_day,
                "trainings_per_week": self.trainings_per_week}


def usage_report(store: UsageStore, quotas: Quotas, *, username: str | None = None,
                 limit: int = 1000) -> dict[str, object]:
    """What ``/admin/usage`` and ``cloudfolio usage`` show: one user, or every user (the biggest GitHub
    spenders first, at most ``limit``) with the count of users per quota state."""
    now = store.clock()
    if username is not None:
        usage = store.get(username)
        return {"quotas": quotas.view(), "usage": {**usage.view(), "state": quotas.state(usage, now)}}
    users = [store.get(name) for name in store.users()]
    states = {"under": 0, "near": 0, "at": 0}
    for usage in users:
        states[quotas.state(usage, now)] += 1
    users.sort(key=lambda u: (-u.github_requests, -u.refreshes, u.username))
    return {"quotas": quotas.view(), "states": states, "total_users": len(users), "truncated": len(users) > limit,
            "users": [{**u.view(), "state": quotas.state(u, now)} for u in users[:limit]]}
