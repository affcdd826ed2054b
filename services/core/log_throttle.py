"""Repeated warnings at most once per key per interval: the first line says it, the rest are counted.

A condition that holds for every request of a user (over a quota that is not enforced, say) would
otherwise write a line per request: under load that is most of a process's logging, and a cost on
the request path (formatting, redaction, the write). :class:`LogThrottle` writes the first warning
of a key, drops the ones that follow within ``every`` seconds, and adds to the key's next line how
many it dropped (a key that falls silent, or is forgotten to bound memory, never says its last
count). Metrics count every occurrence; the callers do that themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

#: Keys remembered at most; the oldest half is forgotten when a new key would go over (bounded memory).
MAX_KEYS = 10_000


class LogThrottle:
    """Warnings on ``logger``, one per key per ``every`` seconds.

    Parameters:
      logger(logging.Logger): where the lines go.
      every(float): seconds between two lines of one key.
      clock(callable): monotonic seconds (tests move it).
    """

    def __init__(self, logger: logging.Logger, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.every, self.clock = logger, every, clock
        self._seen: dict[Hashable, tuple[float, int]] = {}  # key -> (when its last line went out, dropped since)
        self._lock = threading.Lock()

    def warning(self, key: Hashable, message: str, *args: Any, extra: dict[str, Any] | None = None) -> bool:
        """Log ``message % args`` unless ``key`` had a line in the last ``every`` seconds; True when logged."""
        if not self.logger.isEnabledFor(logging.WARNING):
            return False
        now = self.clock()
        with self._lock:
            last, dropped = self._seen.get(key, (None, 0))
            if last is not None and now - last < self.every:
                self._seen[key] = (last, dropped + 1)
                return False
            if last is None and len(self._seen) >= MAX_KEYS:
                for old, _entry in sorted(self._seen.items(), key=lambda item: item[1][0])[:max(1, MAX_KEYS // 2)]:
                    del self._seen[old]
            self._seen[key] = (now, 0)
        if dropped:
            message += f" (and {dropped} more like it in the last {now - last:.0f} s)"  # type: ignore[operator]
        self.logger.warning(message, *args, extra=extra)
        return True
