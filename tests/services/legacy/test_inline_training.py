"""The legacy replica trains inline with the training service's trainer, models under legacy/."""

from __future__ import annotations

import time
from pathlib import Path

from services.core.fingerprints import content_fingerprint
from services.core.jobs import COMPLETED, JobStore
from services.core.keys import Namespace
from services.core.settings import Settings
from services.core.sources.local import LocalSource, sample_portfolio_root
from services.core.storage.local import LocalBackend
from services.legacy.orchestrator import LegacyOrchestrator
from services.legacy.training import inline_trainer
from services.train.store import ModelStore

TINY = {"CLOUDFOLIO_TRAIN_MAX_PAIRS": "8", "CLOUDFOLIO_TRAIN_EPOCHS": "1", "CLOUDFOLIO_TRAIN_BATCH_SIZE": "4",
        "CLOUDFOLIO_TRAIN_WARMUP_STEPS": "1"}


def run(orchestrator: LegacyOrchestrator) -> None:
    job = orchestrator.start("octocat")
    deadline = time.monotonic() + 240
    while not orchestrator.jobs.get(job.job_id).terminal:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert orchestrator.jobs.get(job.job_id).status == COMPLETED


def test_orchestration_completes_after_inline_training(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY})
    storage = LocalBackend(tmp_path / "storage")
    orchestrator = LegacyOrchestrator(storage, LocalSource(sample_portfolio_root()), JobStore(storage),
                                      inline_trainer(settings, storage))
    run(orchestrator)
    records = orchestrator.cache.load_bundle("octocat").data
    store = ModelStore(storage, tmp_path / "cache", Namespace.LEGACY)
    assert store.exists("octocat", content_fingerprint(records))
    assert not ModelStore(storage, tmp_path / "c2").exists("octocat", content_fingerprint(records)), "not live"
    orchestrator.close()


def test_a_failing_inline_training_does_not_fail_the_orchestration(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, "CLOUDFOLIO_TRAIN_DEVICE": "cuda"})
    storage = LocalBackend(tmp_path / "storage")
    orchestrator = LegacyOrchestrator(storage, LocalSource(sample_portfolio_root()), JobStore(storage),
                                      inline_trainer(settings, storage))
    run(orchestrator)
    orchestrator.close()


def test_inline_training_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false"})
    assert inline_trainer(settings, LocalBackend(tmp_path)) is None
