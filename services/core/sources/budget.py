"""The GitHub request budget: permits every GitHub request takes, shared by whoever shares a token.

GitHub limits a token twice: 5,000 requests an hour (``X-RateLimit-Remaining`` / ``-Reset`` on every
answer) and a secondary limit on concurrent requests. Workers that each keep their own count thrash in
retries once there are enough of them; a budget makes them slow down evenly instead. Every request
goes through :meth:`RequestBudget.permit`, which

1. when the token's quota is spent, sleeps through a reset that comes within ``wait`` seconds and
   otherwise refuses at once with :class:`RateLimited` until the reset (no request is sent to learn
   what GitHub already said);
2. waits for a **concurrency permit**: at most ``concurrency`` requests in flight over everything
   that shares the budget;
3. waits for a **request token** when the quota runs low: below ``pace_below`` of the token's limit,
   what remains is spread over the seconds to the reset (:func:`pacing`), so the quota lasts until it
   resets instead of running out early;
4. raises :class:`RateLimited` (kind ``budget``, a few seconds) when neither came within ``wait``
   seconds, so a queue worker re-queues its message with a delay instead of holding a thread.

What GitHub says of the quota (:meth:`RequestBudget.observe`) is kept where the permits are, so one
answer paces everyone. :class:`LocalBudget` keeps it all in this process (the embedded default, one
worker); ``services.queue.github_budget.RedisBudget`` in Redis, for every process and replica.
:func:`rate_limit_wait` reads GitHub's own rate-limit answers (the source waits those out itself).
"""

from __future__ import annotations

import math
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from services.core.settings import Settings
from services.core.sources.base import RateLimited

#: Default permits in flight at once (GitHub's secondary limit is 100 concurrent requests per token).
DEFAULT_CONCURRENCY = 50
#: Pacing starts when less than this share of the token's hourly limit remains.
DEFAULT_PACE_BELOW = 0.2
#: Longest wait for a permit before the caller is told to come back later.
DEFAULT_WAIT = 10.0
#: How long a worker told ``budget`` waits before its message is tried again.
BUDGET_RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Quota:
    """What GitHub last said of the token's hourly limit."""

    remaining: int
    limit: int
    reset: float  # epoch seconds

    @classmethod
    def from_headers(cls, remaining: str | None, reset: str | None, limit: str | None) -> Quota | None:
        try:
            return cls(int(remaining or ""), int(limit or 5000), float(reset or ""))
        except ValueError:
            return None

    def newer_or_lower(self, other: Quota | None) -> bool:
        """True when this reading should replace ``other``: a later window, or less left in the same one."""
        if other is None or self.reset > other.reset:
            return True
        return self.reset == other.reset and self.remaining < other.remaining


@dataclass(frozen=True)
class Pace:
    """At most ``requests`` requests per window of ``window_ms`` milliseconds."""

    requests: int
    window_ms: int


def pacing(quota: Quota | None, now: float, pace_below: float) -> Pace | None:
    """The pace the quota allows now; ``None`` when no pacing is needed (plenty left, or nothing known).

    The requests that remain are spread over the seconds to the reset, in windows of 10 s (or one
    request per window when fewer than one request per 10 s remains).
    """
    if quota is None or quota.reset <= now or quota.remaining >= pace_below * quota.limit:
        return None
    rate = max(quota.remaining, 1) / (quota.reset - now)
    if rate >= 0.1:
        return Pace(max(1, math.floor(rate * 10)), 10_000)
    return Pace(1, math.ceil(1000 / rate))


def budget_options(settings: Settings) -> dict[str, float]:
    """The :class:`RequestBudget` parameters the settings give (``CLOUDFOLIO_GITHUB_BUDGET_*``)."""
    return {"concurrency": settings.github_budget_concurrency, "pace_below": settings.github_budget_pace_below,
            "wait": settings.github_budget_wait}


def rate_limit_wait(response: httpx.Response) -> tuple[float, str] | None:
    """Seconds to wait and the limit's kind (``primary``/``secondary``) when ``response`` is GitHub's
    rate-limit answer; None for any other answer."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    if "retry-after" in headers:
        try:
            return max(0.0, float(headers["retry-after"])), "secondary"
        except ValueError:
            return 60.0, "secondary"
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            reset = float(headers.get("x-ratelimit-reset", "0"))
        except ValueError:
            reset = time.time() + 60
        return max(0.0, reset - time.time()) + 1.0, "primary"
    if response.status_code == 429 or "secondary rate limit" in response.text.lower():
        return 60.0, "secondary"  # GitHub: wait at least a minute when no header says how long
    return None


class RequestBudget(ABC):
    """Permits for GitHub requests; subclasses say where permits, tokens and the quota live.

    Parameters:
      concurrency(int): requests in flight at once over everything sharing the budget. Defaults to 50.
      pace_below(float): share of the hourly limit below which requests are paced. Defaults to 0.2.
      wait(float): longest wait in seconds for a permit before :class:`RateLimited` (``budget``).
      clock(callable): epoch seconds. Defaults to ``time.time``.
      sleep(callable): the sleep between tries. Defaults to ``time.sleep``.
    """

    def __init__(self, *, concurrency: int = DEFAULT_CONCURRENCY, pace_below: float = DEFAULT_PACE_BELOW,
                 wait: float = DEFAULT_WAIT, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.concurrency = max(1, int(concurrency))
        self.pace_below = pace_below
        self.wait = wait
        self.clock = clock
        self.sleep = sleep

    # -- where the state lives -----------------------------------------------------------------
    @abstractmethod
    def _take_slot(self) -> str | None:
        """A concurrency permit's handle, or None when all are taken."""

    @abstractmethod
    def _give_slot(self, handle: str) -> None: ...

    @abstractmethod
    def _take_token(self, pace: Pace) -> bool:
        """Count one request in the current window of ``pace``; False when the window is full."""

    @abstractmethod
    def quota(self) -> Quota | None:
        """What GitHub last said of the token's quota, as shared by the budget."""

    @abstractmethod
    def _store_quota(self, quota: Quota) -> None: ...

    def close(self) -> None:
        """Let go of connections (nothing to do in-process)."""

    # -- the rule ------------------------------------------------------------------------------
    def observe(self, remaining: str | None, reset: str | None, limit: str | None = None) -> None:
        """Record the rate-limit headers of an answer (ignored when absent or unreadable)."""
        quota = Quota.from_headers(remaining, reset, limit)
        if quota is not None:
            self._store_quota(quota)

    @contextmanager
    def permit(self, *, waited_out: bool = False) -> Iterator[None]:
        """Hold a permit for one request; raises :class:`RateLimited` as the module docstring says.

        ``waited_out``: the caller has just slept through the limit GitHub answered with; the spent
        quota it recorded is not waited for a second time.
        """
        deadline = self.clock() + self.wait
        quota = self.quota()
        if quota is not None and quota.remaining <= 0 and quota.reset > self.clock() and not waited_out:
            if quota.reset + 1 > deadline:
                raise RateLimited(datetime.fromtimestamp(quota.reset + 1, UTC), "primary")
            self.sleep(quota.reset + 1 - self.clock())  # a reset within the wait: sleep through it
        handle = self._until(deadline, self._take_slot)
        try:
            pace = pacing(quota, self.clock(), self.pace_below)
            if pace is not None:
                self._until(deadline, lambda: "token" if self._take_token(pace) else None)
            yield
        finally:
            self._give_slot(handle)

    def _until(self, deadline: float, attempt: Callable[[], str | None]) -> str:
        delay = 0.005
        while True:
            got = attempt()
            if got is not None:
                return got
            if self.clock() >= deadline:
                raise RateLimited(datetime.now(UTC) + timedelta(seconds=BUDGET_RETRY_SECONDS), "budget")
            self.sleep(random.uniform(delay / 2, delay))  # jitter: waiters do not retry in step
            delay = min(delay * 2, 0.2)


class LocalBudget(RequestBudget):
    """A budget kept in this process: threads share it, other processes do not."""

    def __init__(self, **options: float) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._in_flight = 0
        self._windows: dict[tuple[int, int], int] = {}
        self._quota: Quota | None = None

    def _take_slot(self) -> str | None:
        with self._lock:
            if self._in_flight >= self.concurrency:
                return None
            self._in_flight += 1
            return "slot"

    def _give_slot(self, handle: str) -> None:
        with self._lock:
            self._in_flight -= 1

    def _take_token(self, pace: Pace) -> bool:
        window = (pace.window_ms, int(self.clock() * 1000) // pace.window_ms)
        with self._lock:
            for old in [key for key in self._windows if key != window]:
                del self._windows[old]
            if self._windows.get(window, 0) >= pace.requests:
                return False
            self._windows[window] = self._windows.get(window, 0) + 1
            return True

    def quota(self) -> Quota | None:
        return self._quota

    def _store_quota(self, quota: Quota) -> None:
        with self._lock:
            if quota.newer_or_lower(self._quota):
                self._quota = quota

    @property
    def in_flight(self) -> int:
        return self._in_flight
