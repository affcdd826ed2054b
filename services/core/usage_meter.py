"""Usage counted in memory and added to storage in batches: ``RequestMeter`` (the GitHub requests a
process's source sent) and ``RefreshCounts`` (the refreshes a router accepted).

A request costs no storage write: the source counts per user in memory (``RepoSource.take_spent``)
and the meter adds the counts to the users' usage documents every ``interval`` seconds and once more
when it stops. A process killed with ``kill -9`` loses at most one interval of counts; usage is for
quotas and reports, not billing, so that is the trade for keeping GitHub calls free of writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from services.core.errors import DependencyUnavailable
from services.core.periodic import Periodic
from services.core.sources import RepoSource
from services.core.usage import Usage, UsageStore, day_of

log = logging.getLogger("cloudfolio.usage")

DEFAULT_INTERVAL = 30.0
#: Users whose usage a router keeps a reading of.
MAX_CACHED_USERS = 10_000


class RequestMeter:
    """Flush ``source``'s per-user request counts into ``usage`` every ``interval`` seconds (daemon thread).

    Parameters:
      source(RepoSource): the process's repo source.
      usage(UsageStore): where the counts go.
      interval(float): seconds between flushes. Defaults to 30.
    """

    def __init__(self, source: RepoSource, usage: UsageStore, interval: float = DEFAULT_INTERVAL) -> None:
        self.source, self.usage, self.interval = source, usage, interval
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()
        self._periodic = Periodic("usage meter", interval, self.flush, log)

    def start(self) -> RequestMeter:
        self._periodic.start()
        return self

    def stop(self) -> None:
        self._periodic.stop()
        self.flush()

    def flush(self) -> int:
        """Add what was spent since the last flush; counts that could not be written wait for the next."""
        with self._lock:
            for user, spent in self.source.take_spent().items():
                self._pending[user] = self._pending.get(user, 0) + spent
            written = 0
            for user, spent in list(self._pending.items()):
                try:
                    self.usage.add_github_requests(user, spent)
                except (DependencyUnavailable, OSError) as exc:
                    log.warning("usage of %s not written (%s); kept for the next flush", user, type(exc).__name__)
                    break
                del self._pending[user]
                written += spent
            return written


class RefreshCounts:
    """The router's refresh counts: kept in memory, added to the users' usage every ``interval`` seconds,
    and read back with what is still pending, so the refresh path does no storage I/O for its quota.

    A user's stored usage is read at most once per ``read_ttl`` seconds per replica; the quota check sees
    it plus this replica's pending counts. Other replicas' counts arrive within an interval plus a
    ``read_ttl``: a soft daily quota may be passed by that much, never by more.

    Parameters:
      usage(UsageStore): where the counts go.
      interval(float): seconds between flushes. Defaults to 5.
      read_ttl(float): seconds a stored usage document is reused. Defaults to 5.
      clock(callable): monotonic seconds (tests move it).
    """

    def __init__(self, usage: UsageStore, interval: float = 5.0, read_ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.usage, self.read_ttl, self.clock = usage, read_ttl, clock
        self._pending: dict[tuple[str, str], int] = {}  # (user, day) -> refreshes not yet written
        self._read: dict[str, tuple[float, Usage]] = {}
        self._lock = threading.Lock()
        self._periodic = Periodic("refresh counts", interval, self.flush, log)

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
        self.flush()

    def add(self, username: str) -> None:
        key = (username, day_of(self.usage.clock()))
        with self._lock:
            self._pending[key] = self._pending.get(key, 0) + 1

    def cached(self, username: str) -> Usage | None:
        """The user's usage with the pending counts, when a recent enough reading is at hand (no I/O)."""
        with self._lock:
            entry = self._read.get(username)
            if entry is None or self.clock() - entry[0] > self.read_ttl:
                return None
            usage = entry[1].copy()
            pending = self._pending.get((username, day_of(self.usage.clock())), 0)
        usage.roll(self.usage.clock())
        usage.refreshes += pending
        return usage

    def get(self, username: str) -> Usage:
        """The user's usage with the pending counts (reads storage when the cached reading is stale)."""
        usage = self.cached(username)
        if usage is not None:
            return usage
        stored = self.usage.get(username)
        with self._lock:
            self._read[username] = (self.clock(), stored)
            if len(self._read) > MAX_CACHED_USERS:  # bounded: the oldest readings go first
                for name, _entry in sorted(self._read.items(), key=lambda item: item[1][0])[:len(self._read) // 2]:
                    del self._read[name]
        return self.cached(username) or stored

    def flush(self) -> int:
        """Write what is pending; counts that could not be written wait for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        written = 0
        for (user, day), count in pending.items():
            try:
                stored = self.usage.count_refresh(user, count, day=day)
            except Exception as exc:  # kept for the next flush: storage may be back by then
                log.warning("refreshes of %s not written (%s); kept for the next flush", user, type(exc).__name__)
                with self._lock:
                    self._pending[(user, day)] = self._pending.get((user, day), 0) + count
                continue
            with self._lock:
                self._read[user] = (self.clock(), stored)
            written += count
        return written
