"""Training fixtures: the sample bundle, and one small model trained once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.core.cache import BundleCache
from services.core.keys import CacheKeys
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage.local import LocalBackend
from services.legacy.pipeline import refresh_inline
from services.train.model import TrainParams
from services.train.store import ModelStore
from services.train.trainer import TrainOutcome, train_bundle

#: Small enough for CI (about 15 s on 2 cores), big enough to learn the portfolio a little.
SMALL = TrainParams(batch_size=8, epochs=1, warmup_steps=5, max_pairs=48, seed=42)


@dataclass
class Trained:
    root: Path
    storage: LocalBackend
    store: ModelStore
    records: list[dict[str, Any]]
    outcome: TrainOutcome


def sample_records(storage: LocalBackend, username: str = "yungryce") -> list[dict[str, Any]]:
    cache = BundleCache(storage, CacheKeys())
    refresh_inline(LocalSource(sample_portfolio_root()), cache, username)
    return cache.load_bundle(username).data


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("trained")
    storage = LocalBackend(root / "storage")
    records = sample_records(storage)
    store = ModelStore(storage, root / "model-cache")
    return Trained(root, storage, store, records, train_bundle(store, "yungryce", records, SMALL))
