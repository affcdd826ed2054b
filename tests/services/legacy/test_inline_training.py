"""The legacy replica trains inline with the training service's trainer, models under legacy/."""

from __future__ import annotations

from pathlib import Path

from cloudfolio.devserver.waiting import wait_for_job
from services.core.fingerprints import content_fingerprint
from services.core.jobs import JobStatus, JobStore
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
    assert wait_for_job(orchestrator.jobs, job.job_id, timeout=240).status == JobStatus.COMPLETED


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
    # a base model folder that does not exist fails the training on any machine, GPU or not
    missing = tmp_path / "no-such-model"
    settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY,
                                  "CLOUDFOLIO_TRAIN_BASE_MODEL": str(missing)})
    storage = LocalBackend(tmp_path / "storage")
    orchestrator = LegacyOrchestrator(storage, LocalSource(sample_portfolio_root()), JobStore(storage),
                                      inline_trainer(settings, storage))
    run(orchestrator)
    records = orchestrator.cache.load_bundle("octocat").data
    failure = ModelStore(storage, tmp_path / "c3", Namespace.LEGACY).failure("octocat", content_fingerprint(records))
    assert failure is not None and "no-such-model does not exist" in failure["error"]
    orchestrator.close()


def test_inline_training_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false"})
    assert inline_trainer(settings, LocalBackend(tmp_path)) is None
