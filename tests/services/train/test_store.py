"""Model store bookkeeping that needs no model: the one queued training request per fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.core.storage import StorageBackend
from services.train.store import RESERVATION_SECONDS, ModelStore

FP = "0123456789abcdef0123456789abcdef"


def test_one_training_request_per_fingerprint_until_released(storage: StorageBackend, tmp_path: Path) -> None:
    store = ModelStore(storage, tmp_path)
    assert store.reserve_training("octocat", FP)
    assert not store.reserve_training("octocat", FP), "already queued"
    assert store.reserve_training("yungryce", FP), "per user"
    store.release_training("octocat", FP)
    assert store.reserve_training("octocat", FP), "released: a later refresh may ask again"


def test_a_reservation_whose_worker_died_is_taken_over_once_stale(storage: StorageBackend, tmp_path: Path) -> None:
    store = ModelStore(storage, tmp_path)
    start = datetime(2026, 12, 2, tzinfo=UTC)
    assert store.reserve_training("octocat", FP, now=start)
    assert not store.reserve_training("octocat", FP, now=start + timedelta(seconds=RESERVATION_SECONDS - 1))
    assert store.reserve_training("octocat", FP, now=start + timedelta(seconds=RESERVATION_SECONDS + 1))
    assert not store.reserve_training("octocat", FP, now=start + timedelta(seconds=RESERVATION_SECONDS + 2))
