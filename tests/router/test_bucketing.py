"""Sticky bucketing: pinned vectors, the split at 30 %, and widening never moves a user back."""

from __future__ import annotations

import random

import pytest

from router.bucketing import BUCKETS, DEFAULT_SALT, LEGACY, QUEUE, bucket, choose_path

USERS = [f"user-{i}" for i in range(10_000)]


@pytest.mark.parametrize(("salt", "username", "expected"), [
    ("cloudfolio-queue-rollout", "yungryce", 2609),
    ("cloudfolio-queue-rollout", "octocat", 4198),
    ("cloudfolio-queue-rollout", "a", 5331),
    ("other-salt", "yungryce", 920),
])
def test_pinned_test_vectors(salt: str, username: str, expected: int) -> None:
    # computed outside Python: printf 'salt:user' | sha256sum, first 16 hex digits as an integer,
    # modulo 10000. A change here would move real users between paths.
    assert bucket(salt, username) == expected == bucket(salt, username)


def test_thirty_percent_splits_within_one_and_a_half_points() -> None:
    queue = sum(choose_path(u, 30)[0] == QUEUE for u in USERS)
    assert 2850 <= queue <= 3150, queue


def test_raising_the_percentage_never_moves_a_user_back_to_legacy() -> None:
    at_30 = {u for u in USERS if choose_path(u, 30)[0] == QUEUE}
    at_50 = {u for u in USERS if choose_path(u, 50)[0] == QUEUE}
    assert at_30 <= at_50 and len(at_50) > len(at_30)


def test_extremes_and_fractional_steps() -> None:
    assert all(choose_path(u, 0)[0] == LEGACY for u in USERS[:500])
    assert all(choose_path(u, 100)[0] == QUEUE for u in USERS[:500])
    # 0.01 % steps: at 0.01 % exactly the users in bucket 0 go (about 10 of 100,000)
    many = [f"user-{i}" for i in range(100_000)]
    tiny = {u for u in many if choose_path(u, 0.01)[0] == QUEUE}
    assert 3 <= len(tiny) <= 25 and tiny == {u for u in many if bucket(DEFAULT_SALT, u) == 0}


def test_buckets_cover_the_whole_range_and_nothing_beyond() -> None:
    buckets = [bucket(DEFAULT_SALT, u) for u in USERS]
    assert 0 <= min(buckets) < 10 and BUCKETS - 10 < max(buckets) < BUCKETS
    # one percentage point is a hundredth of the range: 1 % sends about 100 of 10,000 users
    assert 70 <= sum(b < BUCKETS // 100 for b in buckets) <= 130


def test_random_stickiness_draws_per_request() -> None:
    rng = random.Random(3)
    paths = {choose_path("yungryce", 50, stickiness="random", rng=rng)[0] for _ in range(200)}
    assert paths == {QUEUE, LEGACY}
    assert choose_path("yungryce", 50, stickiness="random", rng=rng)[1] == -1
