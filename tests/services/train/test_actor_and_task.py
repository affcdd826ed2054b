"""The train_model actor through the embedded pipeline, its DLQ, and single-task mode's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.jobs import COMPLETED
from services.core.runtime import build_runtime
from services.core.settings import Settings
from services.pipeline import Pipeline
from services.workers import InProcessWorkers
from tests.support.queue_harness import wait_for_job, wait_until

TINY = {"CLOUDFOLIO_TRAIN_MAX_PAIRS": "8", "CLOUDFOLIO_TRAIN_EPOCHS": "1", "CLOUDFOLIO_TRAIN_BATCH_SIZE": "4",
        "CLOUDFOLIO_TRAIN_WARMUP_STEPS": "1", "CLOUDFOLIO_RETRY_MIN_BACKOFF_MS": "20",
        "CLOUDFOLIO_RETRY_MAX_BACKOFF_MS": "40"}


def embedded(tmp_path: Path, **env: str) -> Pipeline:
    return Pipeline(build_runtime(Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, **env})))


def test_a_merge_hands_off_and_the_actor_trains_once(tmp_path: Path) -> None:
    pipeline = embedded(tmp_path)
    with InProcessWorkers(pipeline, threads=2, roles=("all", "train")):
        job = wait_for_job(pipeline.runtime.jobs, pipeline.submit_refresh("octocat").job_id)
        assert job.status == COMPLETED
        models = pipeline.models
        fingerprint = _content_fingerprint(pipeline)
        wait_until(lambda: models.exists("octocat", fingerprint), timeout=240)
        assert models.metadata("octocat", fingerprint)["pairs"] == 8
        forced = wait_for_job(pipeline.runtime.jobs, pipeline.submit_refresh("octocat", force=True).job_id)
        assert forced.status == COMPLETED
    assert not pipeline.request_training("j", "octocat", fingerprint, "b"), "a model exists: no new request"
    pipeline.runtime.close()


def _content_fingerprint(pipeline: Pipeline) -> str:
    from services.core.fingerprints import content_fingerprint

    return content_fingerprint(pipeline.runtime.cache("live").load_bundle("octocat").data)


def test_a_training_that_raises_is_retried_once_then_dead_lettered(tmp_path: Path) -> None:
    pipeline = embedded(tmp_path, CLOUDFOLIO_TRAIN_DEVICE="cuda")  # no GPU here: every attempt fails
    registry = pipeline.runtime.registry
    with InProcessWorkers(pipeline, threads=2, roles=("all", "train")):
        job = wait_for_job(pipeline.runtime.jobs, pipeline.submit_refresh("octocat").job_id)
        wait_until(lambda: registry.get_sample_value("messages_processed_total",
                                                     {"actor": "train_model", "outcome": "failed"}) == 1, 60)
    assert registry.get_sample_value("messages_processed_total", {"actor": "train_model", "outcome": "retry"}) == 1
    assert job.status == COMPLETED, "a failed training never breaks the job"
    fingerprint = _content_fingerprint(pipeline)
    assert not pipeline.models.exists("octocat", fingerprint)
    assert "CUDA" in pipeline.models.failure("octocat", fingerprint)["error"]
    assert len(pipeline.runtime.broker.dead_letters) == 1
    pipeline.runtime.close()


def run_train(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_") and k != "TASK_DATA"}
    full.update({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, **env})
    return subprocess.run([sys.executable, "-m", "services.cli", "train", *args], env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def refreshed(tmp_path: Path) -> Path:
    pipeline = embedded(tmp_path)
    with InProcessWorkers(pipeline, threads=2):
        wait_for_job(pipeline.runtime.jobs, pipeline.submit_refresh("octocat").job_id)
    pipeline.runtime.close()
    return tmp_path


def test_single_task_mode_trains_and_exits_0_then_finds_it_cached(refreshed: Path) -> None:
    task = refreshed / "task.json"
    task.write_text(json.dumps({"username": "octocat"}))
    first = run_train(refreshed, "--task-file", str(task))
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout.strip().splitlines()[-1])["status"] == "trained"
    again = run_train(refreshed, TASK_DATA=json.dumps({"username": "octocat"}))
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["status"] == "skipped: cached"


def test_single_task_mode_exit_codes_for_bad_tasks_failures_and_timeouts(refreshed: Path) -> None:
    assert run_train(refreshed).returncode == 2
    assert run_train(refreshed, TASK_DATA="{not json").returncode == 2
    assert run_train(refreshed, TASK_DATA='{"username": "../x"}').returncode == 2
    missing = run_train(refreshed, TASK_DATA='{"username": "yungryce"}')
    assert missing.returncode == 1 and "refresh it first" in missing.stderr
    failing = run_train(refreshed, TASK_DATA='{"username": "octocat"}', CLOUDFOLIO_TRAIN_DEVICE="cuda")
    assert failing.returncode == 1 and "training failed" in failing.stderr
    slow = run_train(refreshed, "--timeout", "0.5", TASK_DATA='{"username": "octocat"}')
    assert slow.returncode == 1 and "did not finish within 0.5s" in slow.stderr


@pytest.mark.integration
def test_from_queue_takes_one_message_acks_it_and_dead_letters_failures(refreshed: Path, rabbitmq_url: str) -> None:
    import pika

    from tests.support.queue_harness import QueueEnv, delete_queues

    env = QueueEnv(refreshed, "http://127.0.0.1:9", broker_url=rabbitmq_url)
    queue = env.queue_names[2]
    pipeline = Pipeline(build_runtime(Settings.from_env({**env.env(), **TINY, "CLOUDFOLIO_REPO_SOURCE": "sample"})))
    try:
        for username in ("octocat", "yungryce"):  # yungryce has no bundle here: that one must fail
            pipeline.send(pipeline.train.message(job_id="0" * 32, username=username, content_fingerprint="0" * 32,
                                                 bundle_fingerprint="0" * 32))
        extra = {"CLOUDFOLIO_BROKER_URL": rabbitmq_url, "CLOUDFOLIO_TRAINING_QUEUE": queue}
        first = run_train(refreshed, "--from-queue", **extra)
        assert first.returncode == 0 and '"status": "trained"' in first.stdout, first.stderr[-2000:]
        second = run_train(refreshed, "--from-queue", **extra)
        assert second.returncode == 1 and "refresh it first" in second.stderr
        empty = run_train(refreshed, "--from-queue", **extra)
        assert empty.returncode == 0 and "is empty" in empty.stdout
        channel = pika.BlockingConnection(pika.URLParameters(rabbitmq_url)).channel()
        assert channel.queue_declare(f"{queue}.XQ", passive=True).method.message_count == 1
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        pipeline.runtime.close()
        delete_queues(rabbitmq_url, env.queue_names)
