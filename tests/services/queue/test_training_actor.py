"""The train_model actor through the embedded pipeline: the hand-off, one training, retry and DLQ."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_for_job, wait_until
from services.core.jobs import JobStatus
from services.core.settings import Settings
from services.queue.pipeline import Pipeline, build_pipeline
from services.queue.workers import InProcessWorkers

TINY = {"CLOUDFOLIO_TRAIN_MAX_PAIRS": "8", "CLOUDFOLIO_TRAIN_EPOCHS": "1", "CLOUDFOLIO_TRAIN_BATCH_SIZE": "4",
        "CLOUDFOLIO_TRAIN_WARMUP_STEPS": "1", "CLOUDFOLIO_RETRY_MIN_BACKOFF_MS": "20",
        "CLOUDFOLIO_RETRY_MAX_BACKOFF_MS": "40"}


def embedded(tmp_path: Path, **env: str) -> Pipeline:
    return build_pipeline(Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, **env}))


def test_a_merge_hands_off_and_the_actor_trains_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = embedded(tmp_path)
    caplog.set_level("WARNING", logger="dramatiq")
    with InProcessWorkers(pipeline, threads=2, roles=("all", "train")):
        job = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("octocat").job_id)
        assert job.status == JobStatus.COMPLETED
        models = pipeline.models
        fingerprint = _content_fingerprint(pipeline)
        wait_until(lambda: models.exists("octocat", fingerprint), timeout=240)
        assert models.metadata("octocat", fingerprint)["pairs"] == 8
        assert pipeline.backends.usage.get("octocat").trainings == 1, "counted in the user's usage"
        forced = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("octocat", force=True).job_id)
        assert forced.status == JobStatus.COMPLETED
    assert not pipeline.request_training("j", "octocat", fingerprint, "b", documented=3), "a model exists: no request"
    assert not [r for r in caplog.records if "Results middleware" in r.getMessage()], "no discarded return values"
    pipeline.close()


def _content_fingerprint(pipeline: Pipeline) -> str:
    from services.core.fingerprints import content_fingerprint

    return content_fingerprint(pipeline.backends.cache("live").load_bundle("octocat").data)


def test_a_training_that_raises_is_retried_once_then_dead_lettered(tmp_path: Path) -> None:
    # a base model folder that does not exist fails every attempt on any machine, GPU or not
    pipeline = embedded(tmp_path, CLOUDFOLIO_TRAIN_BASE_MODEL=str(tmp_path / "no-such-model"))
    registry = pipeline.registry
    with InProcessWorkers(pipeline, threads=2, roles=("all", "train")):
        job = wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("octocat").job_id)
        wait_until(lambda: registry.get_sample_value("messages_processed_total",
                                                     {"actor": "train_model", "outcome": "failed"}) == 1, 60)
    assert registry.get_sample_value("messages_processed_total", {"actor": "train_model", "outcome": "retry"}) == 1
    assert job.status == JobStatus.COMPLETED, "a failed training never breaks the job"
    fingerprint = _content_fingerprint(pipeline)
    assert not pipeline.models.exists("octocat", fingerprint)
    assert "no-such-model does not exist" in pipeline.models.failure("octocat", fingerprint)["error"]
    assert len(pipeline.broker.dead_letters) == 1
    assert pipeline.request_training("j", "octocat", fingerprint, "b", documented=3), \
        "failed for good: the reservation is released, a later refresh may ask again"
    pipeline.close()


def test_at_most_one_training_request_per_fingerprint_is_queued(tmp_path: Path) -> None:
    pipeline = embedded(tmp_path)
    fingerprint = "0123456789abcdef0123456789abcdef"
    sent = [pipeline.request_training(f"job{i}", "octocat", fingerprint, "b", documented=3) for i in range(5)]
    assert sent == [True, False, False, False, False]
    assert pipeline.broker.queues[pipeline.queues["train"]].qsize() == 1
    pipeline.close()


def test_over_the_weekly_trainings_quota_training_is_skipped_with_the_reason_on_the_job(tmp_path: Path) -> None:
    pipeline = embedded(tmp_path, ENABLE_QUOTA_ENFORCEMENT="true", CLOUDFOLIO_QUOTA_TRAININGS_PER_WEEK="1")
    pipeline.backends.usage.count_training("octocat")  # this week's one training is spent
    registry = pipeline.registry
    with InProcessWorkers(pipeline, threads=2, roles=("all", "train")):
        job_id = pipeline.submit_refresh("octocat").job_id
        wait_for_job(pipeline.backends.jobs, job_id)
        skipped = wait_until(lambda: pipeline.backends.jobs.get(job_id).extra.get("training_skipped"), 60)
    assert "trainings_per_week quota (1 of 1)" in skipped
    fingerprint = _content_fingerprint(pipeline)
    assert not pipeline.models.exists("octocat", fingerprint)
    assert registry.get_sample_value("cloudfolio_quota_exceeded_total",
                                     {"quota": "trainings_per_week", "action": "refused"}) == 1
    assert pipeline.backends.usage.get("octocat").trainings == 1, "a skipped training is not counted"
    assert pipeline.request_training("j", "octocat", fingerprint, "b", documented=3), "the reservation is released"
    pipeline.close()
