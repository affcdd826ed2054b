"""``RequestMeter``: the GitHub requests a process's source sent, added to each user's usage in batches.

A request costs no storage write: the source counts per user in memory (``RepoSource.take_spent``)
and the meter adds the counts to the users' usage documents every ``interval`` seconds and once more
when it stops. A process killed with ``kill -9`` loses at most one interval of counts; usage is for
quotas and reports, not billing, so that is the trade for keeping GitHub calls free of writes.
"""

from __future__ import annotations

import logging
import threading

from services.core.errors import DependencyUnavailable
from services.core.periodic import Periodic
from services.core.sources import RepoSource
from services.core.usage import UsageStore

log = logging.getLogger("cloudfolio.usage")

DEFAULT_INTERVAL = 30.0


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
