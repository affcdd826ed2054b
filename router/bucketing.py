"""Sticky percentage bucketing: which path a user takes at a given rollout percentage.

``bucket(salt, username)`` is the first 8 bytes of SHA-256 over ``"{salt}:{username}"`` as an
unsigned big-endian integer, modulo 10,000. A user goes to the queue path when
``bucket < percentage * 100``, so raising the percentage only ever moves users from legacy to the
queue path, never back, and 0.01 % steps are possible. Test vectors pin the function
(tests/router/test_bucketing.py), so every router replica and every test agrees.

With ``stickiness=random`` each request is drawn afresh (the seed plan's "random 1-100 <= pct").
"""

from __future__ import annotations

import functools
import hashlib
import random

from services.core.serving import ServingPath

BUCKETS = 10_000
#: Default salt; change it (CLOUDFOLIO_ROLLOUT_SALT) to reshuffle who goes first.
DEFAULT_SALT = "cloudfolio-queue-rollout"

QUEUE, LEGACY = ServingPath.QUEUE, ServingPath.LEGACY


@functools.lru_cache(maxsize=65_536)  # pure, and asked on every request: a hash per user, not per request
def bucket(salt: str, username: str) -> int:
    digest = hashlib.sha256(f"{salt}:{username}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def choose_path(username: str, percentage: float, *, stickiness: str = "sticky", salt: str = DEFAULT_SALT,
                rng: random.Random | None = None) -> tuple[ServingPath, int]:
    """``(path, bucket)`` for a request; the bucket is -1 for a random draw."""
    threshold = round(max(0.0, min(100.0, percentage)) * BUCKETS / 100)
    if stickiness == "random":
        drawn = (rng or random).randrange(BUCKETS)
        return (QUEUE if drawn < threshold else LEGACY), -1
    value = bucket(salt, username)
    return (QUEUE if value < threshold else LEGACY), value
