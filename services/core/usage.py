"""Usage per user: refreshes per day, trainings per week, GitHub requests spent, cache bytes.

One document per user in storage (``usage/<user>.json``), changed only by compare-and-swap on its
etag (as jobs are), so any number of routers and workers count into it without losing a count. It
holds the current day's and week's counters, the last 7 days of history, and the bytes the user's
blobs take per namespace (measured by the merge, which has just written them). A new day or ISO week
starts its counters at zero when the first count or read of that period sees the document.

Who counts: the router counts refreshes (:meth:`UsageStore.count_refresh`), the training step
trainings, each worker process the GitHub requests its source sent per user (flushed in batches by
:class:`~services.core.usage_meter.RequestMeter`, so no request costs a storage write), the merge
the cache bytes. Quotas (``services.core.quotas``) read the document; nothing here refuses anything.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from services.core.group_commit import GroupCommit
from services.core.keys import CacheKeys, Namespace
from services.core.names import validate_username
from services.core.storage import StorageBackend
from services.core.storage.base import AlreadyExists, BlobNotFound, PreconditionFailed

USAGE_PREFIX = "usage/"
HISTORY_DAYS = 7
MAX_CAS_ATTEMPTS = 20


def usage_key(username: str) -> str:
    return f"{USAGE_PREFIX}{validate_username(username)}.json"


def day_of(now: datetime) -> str:
    day = now.astimezone(UTC)  # formatted by hand: strftime took twice as long, and a refresh asks several times
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def week_of(now: datetime) -> str:
    year, week, _day = now.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Usage:
    """One user's usage document (see the module docstring)."""

    username: str
    day: str = ""
    refreshes: int = 0
    github_requests: int = 0
    week: str = ""
    trainings: int = 0
    cache_bytes: dict[str, int] = field(default_factory=dict)  # {namespace: bytes}
    history: dict[str, dict[str, int]] = field(default_factory=dict)  # {day: {refreshes, github_requests}}
    updated_at: str = ""

    @property
    def total_cache_bytes(self) -> int:
        return sum(self.cache_bytes.values())

    def roll(self, now: datetime) -> bool:
        """Start the counters of a new day or week; True when anything changed."""
        changed = False
        today, this_week = day_of(now), week_of(now)
        if self.day != today:
            if self.day and (self.refreshes or self.github_requests):
                self.history[self.day] = {"refreshes": self.refreshes, "github_requests": self.github_requests}
                for old in sorted(self.history)[:-HISTORY_DAYS]:
                    del self.history[old]
            self.day, self.refreshes, self.github_requests, changed = today, 0, 0, True
        if self.week != this_week:
            self.week, self.trainings, changed = this_week, 0, True
        return changed

    def view(self) -> dict[str, Any]:
        return {**asdict(self), "cache_bytes_total": self.total_cache_bytes}

    def copy(self) -> Usage:
        """A copy that shares nothing mutable (cheaper than ``copy.deepcopy``: the router takes one a refresh)."""
        return replace(self, cache_bytes=dict(self.cache_bytes),
                       history={day: dict(counts) for day, counts in self.history.items()})


class UsageStore:
    """Read and count usage in storage.

    Parameters:
      storage(StorageBackend): where ``usage/`` lives (shared by every process).
      clock(callable): the UTC wall clock (tests move it across a day or week boundary).
    """

    def __init__(self, storage: StorageBackend, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.storage = storage
        self.clock = clock
        # a process's writers of one user share one write: compare-and-swap is left for other processes
        self._group = GroupCommit[Usage](self._change)

    def get(self, username: str) -> Usage:
        """The user's usage now (zero counters for a new period, or for a user never seen)."""
        usage, _etag = self._read(username)
        usage.roll(self.clock())
        return usage

    def _read(self, username: str) -> tuple[Usage, str | None]:
        try:
            blob = self.storage.get(usage_key(username))
        except BlobNotFound:
            return Usage(validate_username(username)), None
        return Usage(**json.loads(blob.data)), blob.info.etag

    def change(self, username: str, change: Callable[[Usage], None]) -> Usage:
        """Apply ``change`` to the current period's document with compare-and-swap."""
        return self._group.update(username, change)

    def _change(self, username: str, change: Callable[[Usage], None]) -> Usage:
        for attempt in range(MAX_CAS_ATTEMPTS):
            usage, etag = self._read(username)
            now = self.clock()
            usage.roll(now)
            change(usage)
            usage.updated_at = now.isoformat()
            body = json.dumps(asdict(usage), separators=(",", ":")).encode()
            try:
                if etag is None:
                    self.storage.put(usage_key(username), body, create_only=True)
                else:
                    self.storage.put(usage_key(username), body, if_match=etag)
                return usage
            except (PreconditionFailed, AlreadyExists):
                time.sleep(random.uniform(0, min(0.001 * 2**attempt, 0.1)))  # jittered: no lockstep retries
        raise PreconditionFailed(f"usage of {username} changed {MAX_CAS_ATTEMPTS} times while we counted")

    def count_refresh(self, username: str, count: int = 1, day: str | None = None) -> Usage:
        """Add ``count`` refreshes of ``day`` (default today; an earlier day still in the history goes there)."""
        def change(usage: Usage) -> None:
            if day is None or day == usage.day:
                usage.refreshes += count
            elif day in usage.history or (usage.day and day < usage.day):
                past = usage.history.setdefault(day, {"refreshes": 0, "github_requests": 0})
                past["refreshes"] = past.get("refreshes", 0) + count
                for old in sorted(usage.history)[:-HISTORY_DAYS]:
                    del usage.history[old]

        return self.change(username, change)

    def count_training(self, username: str) -> Usage:
        return self.change(username, lambda usage: setattr(usage, "trainings", usage.trainings + 1))

    def add_github_requests(self, username: str, requests: int) -> Usage:
        return self.change(username, lambda usage: setattr(usage, "github_requests", usage.github_requests + requests))

    def record_cache_bytes(self, username: str, namespace: Namespace, size: int) -> Usage:
        return self.change(username, lambda usage: usage.cache_bytes.__setitem__(Namespace(namespace).value, size))

    def users(self) -> Iterator[str]:
        """Every user with a usage document, in name order."""
        for info in self.storage.list(USAGE_PREFIX):
            name = info.key[len(USAGE_PREFIX):]
            if name.endswith(".json") and "/" not in name:
                yield name[: -len(".json")]


def measure_cache_bytes(storage: StorageBackend, username: str, namespace: Namespace) -> int:
    """Bytes of the user's blobs in ``namespace``: bundle, its verification, records and models."""
    keys = CacheKeys(namespace)
    total = sum(info.size for info in storage.list(keys.records_prefix(username)))
    total += sum(info.size for info in storage.list(keys.models_prefix(username)))
    for key in (keys.bundle(username), keys.bundle_verified(username)):
        with contextlib.suppress(BlobNotFound):
            total += storage.head(key).size
    return total
