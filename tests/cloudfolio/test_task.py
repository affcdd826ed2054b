"""``cloudfolio train``, single-task mode, as a real process: exit codes, timeouts, --from-queue, its span."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_for_job
from services.core.settings import Settings
from services.queue.pipeline import build_pipeline
from services.queue.workers import InProcessWorkers
from tests.services.queue.test_training_actor import TINY, embedded
from tests.support.otlp_receiver import OtlpReceiver


def run_train(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_") and k != "TASK_DATA"}
    full.update({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, **env})
    return subprocess.run([sys.executable, "-m", "cloudfolio", "train", *args], env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def refreshed(tmp_path: Path) -> Path:
    pipeline = embedded(tmp_path)
    with InProcessWorkers(pipeline, threads=2):
        wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("octocat").job_id)
    pipeline.close()
    return tmp_path


def test_single_task_mode_trains_and_exits_0_then_finds_it_cached(refreshed: Path) -> None:
    task = refreshed / "task.json"
    task.write_text(json.dumps({"username": "octocat"}))
    first = run_train(refreshed, "--task-file", str(task))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Loading weights" not in first.stderr and "it/s]" not in first.stderr, "no progress bars in logs"
    assert json.loads(first.stdout.strip().splitlines()[-1])["status"] == "trained"
    again = run_train(refreshed, TASK_DATA=json.dumps({"username": "octocat"}))
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1])["status"] == "skipped: cached"


def test_single_task_mode_exit_codes_for_bad_tasks_failures_and_timeouts(refreshed: Path) -> None:
    assert run_train(refreshed).returncode == 2
    assert run_train(refreshed, TASK_DATA="{not json").returncode == 2
    assert run_train(refreshed, TASK_DATA='{"username": "../x"}').returncode == 2
    missing = run_train(refreshed, TASK_DATA='{"username": "yungryce"}')
    assert missing.returncode == 1 and "refresh it first" in missing.stderr
    failing = run_train(refreshed, TASK_DATA='{"username": "octocat"}',
                        CLOUDFOLIO_TRAIN_BASE_MODEL=str(refreshed / "no-such-model"))
    assert failing.returncode == 1 and "training failed" in failing.stderr
    slow = run_train(refreshed, "--timeout", "0.5", TASK_DATA='{"username": "octocat"}')
    assert slow.returncode == 1 and "did not finish within 0.5s" in slow.stderr


@pytest.mark.integration
def test_from_queue_takes_one_message_acks_it_and_dead_letters_failures(refreshed: Path, rabbitmq_url: str,
                                                                         otlp: OtlpReceiver) -> None:
    import pika

    from cloudfolio.devserver.processes import QueueEnv, delete_queues

    env = QueueEnv(refreshed, "http://127.0.0.1:9", broker_url=rabbitmq_url)
    queue = env.queue_names[2]
    pipeline = build_pipeline(Settings.from_env({**env.env(), **TINY, "CLOUDFOLIO_REPO_SOURCE": "sample"}))
    try:
        sent_trace, sent_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]  # as the merge's span would send it
        for username in ("octocat", "yungryce"):  # yungryce has no bundle here: that one must fail
            message = pipeline.actors.train_model.message_with_options(
                kwargs={"job_id": "0" * 32, "username": username, "content_fingerprint": "0" * 32,
                        "bundle_fingerprint": "0" * 32}, traceparent=f"00-{sent_trace}-{sent_span}-01")
            pipeline.send(message)
        extra = {"CLOUDFOLIO_BROKER_URL": rabbitmq_url, "CLOUDFOLIO_TRAINING_QUEUE": queue,
                 "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url}
        first = run_train(refreshed, "--from-queue", **extra)
        assert first.returncode == 0 and '"status": "trained"' in first.stdout, first.stderr[-2000:]
        second = run_train(refreshed, "--from-queue", **extra)
        assert second.returncode == 1 and "refresh it first" in second.stderr
        # each run was one train_model span continuing its message's trace, exported before the exit
        spans = [s for s in otlp.trace(sent_trace) if s.name == "train_model"]
        assert sorted(s.attributes["cloudfolio.username"] for s in spans) == ["octocat", "yungryce"], spans
        for span in spans:
            assert span.parent_id == sent_span and span.kind == "consumer" and span.service == "cloudfolio-task"
            assert span.attributes["cloudfolio.job_id"] == "0" * 32
            assert span.status_code == (2 if span.attributes["cloudfolio.username"] == "yungryce" else 0)
        empty = run_train(refreshed, "--from-queue", **extra)
        assert empty.returncode == 0 and "is empty" in empty.stdout
        channel = pika.BlockingConnection(pika.URLParameters(rabbitmq_url)).channel()
        assert channel.queue_declare(f"{queue}.XQ", passive=True).method.message_count == 1
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        pipeline.close()
        delete_queues(rabbitmq_url, env.queue_names)
