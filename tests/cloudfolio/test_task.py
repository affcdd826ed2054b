"""``cloudfolio train``, single-task mode, as a real process: exit codes, timeouts, --from-queue, its span."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest

from cloudfolio.devserver.waiting import wait_for_job
from services.core.settings import Settings
from services.queue.pipeline import build_pipeline
from services.queue.workers import InProcessWorkers
from tests.cloudfolio.conftest import WEBHOOK_SECRET
from tests.services.queue.test_training_actor import TINY, embedded
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.services import ROOT
from tests.support.webhook_receiver import CompletionReceiver


def run_train(tmp_path: Path, *args: str, command: str = "train", **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_") and k != "TASK_DATA"}
    full.update({"CLOUDFOLIO_DATA_DIR": str(tmp_path), **TINY, **env})
    return subprocess.run([sys.executable, "-m", "cloudfolio", command, *args], env=full, capture_output=True,
                          text=True, timeout=300)


COMPLETION_SCHEMA = json.loads((ROOT / "docs" / "task-envelope.schema.json").read_text("utf-8"))["$defs"]["completion"]


def completion(process: subprocess.CompletedProcess) -> dict:
    """The completion the task printed as its last line (the webhook's body), checked against its schema."""
    body = json.loads(process.stdout.strip().splitlines()[-1])
    jsonschema.validate(body, COMPLETION_SCHEMA)
    return body


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
    assert completion(first)["result"]["status"] == "trained"
    again = run_train(refreshed, TASK_DATA=json.dumps({"username": "octocat"}))
    assert again.returncode == 0 and completion(again)["result"]["status"] == "skipped: cached"
    assert completion(again)["task_id"] == "train-octocat", "the bare form gets a task id"


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
        assert first.returncode == 0 and completion(first)["result"]["status"] == "trained", first.stderr[-2000:]
        assert completion(first)["task_id"] == "0" * 32, "a queued task is named by its job"
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


def webhook_env(receiver: CompletionReceiver, **extra: str) -> dict[str, str]:
    return {"CLOUDFOLIO_TASK_WEBHOOK_SECRET": WEBHOOK_SECRET, "CLOUDFOLIO_TASK_WEBHOOK_ALLOW_HTTP": "true", **extra}


def task_data(task_id: str, task_type: str, username: str, url: str | None, **payload: object) -> str:
    envelope = {"task_id": task_id, "task_type": task_type, "payload": {"username": username, **payload}}
    return json.dumps({**envelope, **({"webhook_url": url} if url else {})})


def test_each_task_type_reports_success_and_failure_to_a_signed_webhook(
        refreshed: Path, completions: CompletionReceiver) -> None:
    env = webhook_env(completions)
    rebuilt = run_train(refreshed, command="task", TASK_DATA=task_data("r-1", "refresh", "yungryce", completions.url,
                                                                       force=True), **env)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    trained = run_train(refreshed, command="task", TASK_DATA=task_data("t-1", "train", "yungryce", completions.url),
                        **env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    missing = run_train(refreshed, command="task", TASK_DATA=task_data("t-2", "train", "octocat", completions.url,
                                                                       namespace="shadow"), **env)
    assert missing.returncode == 1 and "refresh it first" in missing.stderr
    unknown = run_train(refreshed, command="task", TASK_DATA=task_data("r-2", "refresh", "no-such-user-42",
                                                                       completions.url), **env)
    assert unknown.returncode == 1
    bodies = {body["task_id"]: body for body in completions.verified()}
    assert len(completions.deliveries) == 4 and set(bodies) == {"r-1", "t-1", "t-2", "r-2"}, "all signed correctly"
    assert bodies["r-1"]["status"] == "succeeded" and bodies["r-1"]["result"]["status"] == "refreshed"
    assert bodies["r-1"]["result"]["repos_count"] > 0 and bodies["r-1"]["result"]["job_id"]
    assert bodies["t-1"]["status"] == "succeeded" and bodies["t-1"]["result"]["status"] == "trained"
    assert bodies["t-2"]["status"] == "failed" and "refresh it first" in bodies["t-2"]["error"]
    assert bodies["r-2"]["status"] == "failed" and "result" not in bodies["r-2"]
    for body in bodies.values():
        assert body["task_type"] in ("train", "refresh") and body["duration_s"] >= 0
        assert body["started_at"] <= body["finished_at"]
        assert body == completion({"r-1": rebuilt, "t-1": trained, "t-2": missing, "r-2": unknown}[body["task_id"]])


def test_a_task_over_its_timeout_reports_timed_out_before_it_exits(refreshed: Path,
                                                                    completions: CompletionReceiver) -> None:
    slow = run_train(refreshed, "--timeout", "0.5", command="task",
                     TASK_DATA=task_data("t-slow", "train", "octocat", completions.url), **webhook_env(completions))
    assert slow.returncode == 1 and "did not finish within 0.5s" in slow.stderr
    [body] = completions.verified()
    assert body["status"] == "timed_out" and body["task_id"] == "t-slow" and body["duration_s"] < 3


def test_a_webhook_that_fails_or_is_down_changes_neither_the_exit_code_nor_the_result(
        refreshed: Path, completions: CompletionReceiver) -> None:
    completions.fail_with = [500] * 10
    env = webhook_env(completions, CLOUDFOLIO_TASK_WEBHOOK_ATTEMPTS="3")
    answered_500 = run_train(refreshed, command="task", TASK_DATA=task_data("t-1", "train", "octocat",
                                                                            completions.url), **env)
    assert answered_500.returncode == 0 and completion(answered_500)["result"]["status"] == "trained"
    assert completions.tries == 3 and completions.deliveries == [], "three tries, then it gave up"
    down = run_train(refreshed, command="task", TASK_DATA=task_data("t-2", "train", "octocat",
                                                                    "http://127.0.0.1:9/done"), **env)
    assert down.returncode == 0 and completion(down)["result"]["status"] == "skipped: cached"
    assert "not delivered" in down.stderr and "Traceback" not in down.stderr


def test_malformed_envelopes_exit_2_run_nothing_and_report_what_they_can(
        refreshed: Path, completions: CompletionReceiver) -> None:
    env = webhook_env(completions)
    for raw in (json.dumps({"task_type": "train", "payload": {"username": "octocat"}}),
                task_data("t-1", "explode", "octocat", None),
                task_data("t-2", "train", "octocat", None, namespace="nowhere"),
                task_data("t-3", "train", "octocat", "http://backend.example/done")):
        refused = run_train(refreshed, command="task", TASK_DATA=raw, **env)
        assert refused.returncode == 2 and "invalid task" in refused.stderr, (raw, refused.stderr[-1000:])
        assert "Traceback" not in refused.stderr and completion(refused)["status"] == "rejected"
    rejected = run_train(refreshed, command="task", TASK_DATA=task_data("t-4", "explode", "octocat", completions.url),
                         **env)
    assert rejected.returncode == 2
    [body] = completions.verified()
    assert (body["task_id"], body["status"]) == ("t-4", "rejected") and "unknown task_type" in body["error"]


AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STORAGE_DOWN = {"CLOUDFOLIO_STORAGE": "azure", "CLOUDFOLIO_STORAGE_RETRIES": "0", "CLOUDFOLIO_STORAGE_TIMEOUT": "1",
                "CLOUDFOLIO_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1"}  # nothing on port 1


@pytest.mark.parametrize("task_type", ["train", "refresh"])
def test_an_unreachable_storage_is_exit_3_reported_as_failed_and_keeps_its_key(
        task_type: str, tmp_path: Path, completions: CompletionReceiver) -> None:
    down = run_train(tmp_path, command="task", TASK_DATA=task_data("t-down", task_type, "octocat", completions.url),
                     **webhook_env(completions), **STORAGE_DOWN)
    assert down.returncode == 3, down.stderr[-2000:]
    [body] = completions.verified()
    assert body["status"] == "failed" and "Unavailable" in body["error"]
    assert "Traceback" not in down.stderr and AZURITE_KEY not in down.stdout + down.stderr + json.dumps(body)
