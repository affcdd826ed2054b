"""``cloudfolio task`` (alias ``cloudfolio train``): single-task mode for scale-to-zero containers.

One task, then exit. The task is an envelope (:mod:`services.core.tasks`) from ``--task-file`` or
``TASK_DATA``, or one ``train_model`` message taken from the training queue with ``--from-queue``
(acked on success, dead-lettered on failure or a malformed message). Handlers by ``task_type``:

- ``train``: fine-tune the user's current bundle (:func:`services.train.task.run_train_task`);
- ``refresh``: rebuild the user's bundle in this process, no broker
  (:func:`services.queue.one_off.run_refresh_task`).

Exit codes: 0 succeeded (trained, already cached, too few documented repos, refreshed), 1 failed or
timed out, 2 a bad task (nothing run), 3 a dependency unreachable. The task runs under
``WORKER_TASK_TIMEOUT``; work that overruns cannot be interrupted, so the process reports the
timeout and ends itself. With a ``webhook_url`` the completion
(:mod:`services.core.completion`) is posted, signed, on success, failure, timeout and refusal, before
the exit; the same JSON is the last line of standard output. With an exporter configured
(docs/OBSERVABILITY.md) the run is one span (``train_model`` or ``refresh_bundle``); a task taken from
the queue continues the trace its message carries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudfolio.cli.common import add_data_dir, load_settings
from cloudfolio.cli.exits import RET_CONNECT, RET_FAILED, RET_OK, RET_USAGE
from cloudfolio.telemetry import configure_telemetry, shutdown_telemetry
from services.core import tracing
from services.core.backends import build_backends
from services.core.completion import FAILED, REJECTED, SUCCEEDED, TIMED_OUT, CompletionWebhook
from services.core.errors import DependencyUnavailable
from services.core.redaction import redact_text
from services.core.settings import Settings
from services.core.tasks import REFRESH, TRAIN, InvalidTask, TaskEnvelope, parse_envelope
from services.queue.delivery import Delivery, take_one
from services.queue.one_off import run_refresh_task
from services.queue.single_task import FAILED as WORK_FAILED
from services.queue.single_task import TIMED_OUT as WORK_TIMED_OUT
from services.queue.single_task import run_with_deadline
from services.train.task import NoBundle, run_train_task

NO_TASK = ("no task: give --task-file F, set TASK_DATA to an envelope like {\"task_id\": \"t1\", \"task_type\": "
           "\"train\", \"payload\": {\"username\": \"yungryce\"}}, or use --from-queue")
SPANS = {TRAIN: "train_model", REFRESH: "refresh_bundle"}


def _raw_task(args: argparse.Namespace, settings: Settings) -> tuple[str, Delivery | None] | int:
    """The task text and the delivery it came in (if any), or an exit code."""
    if args.from_queue:
        if not settings.broker_url:
            print("--from-queue needs CLOUDFOLIO_BROKER_URL", file=sys.stderr)
            return RET_USAGE
        delivery = take_one(settings.broker_url, settings.training_queue)
        if delivery is None:
            print(f"the {settings.training_queue} queue is empty: nothing to do")
            return RET_OK
        kwargs = delivery.kwargs  # a train_model message: its job names the task
        envelope = {"task_id": str(kwargs.get("job_id") or delivery.message.message_id), "task_type": TRAIN,
                    "payload": {"username": kwargs.get("username")}}
        return json.dumps(envelope), delivery
    if not args.task_file:
        return settings.task_data, None
    try:
        return Path(args.task_file).read_text("utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InvalidTask(f"cannot read --task-file {args.task_file}: {reason}") from None


def cmd_task(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    configure_telemetry(settings, "task")
    try:
        return _task(args, settings)
    finally:
        shutdown_telemetry()


def _handler(settings: Settings, task: TaskEnvelope) -> Callable[[], dict[str, Any]]:
    if task.task_type == REFRESH:
        return lambda: run_refresh_task(settings, task)

    def train() -> dict[str, Any]:
        outcome = run_train_task(build_backends(settings), task)
        return {"status": outcome.status, "fingerprint": outcome.fingerprint, "pairs": outcome.metadata.get("pairs"),
                "loss": outcome.metadata.get("loss"), "device": outcome.metadata.get("device")}

    return train


def _traced(work: Callable[[], dict[str, Any]], task: TaskEnvelope,
            delivery: Delivery | None) -> Callable[[], dict[str, Any]]:
    """The run as one span; a queued task continues its message's trace."""
    carried = tracing.extract(delivery.message.options) if delivery is not None else None
    kind = tracing.SpanKind.CONSUMER if delivery is not None else tracing.SpanKind.INTERNAL
    job_id = task.task_id if delivery is not None else None

    def run() -> dict[str, Any]:
        with tracing.span(SPANS[task.task_type], kind=kind, context=carried, username=task.username, job_id=job_id,
                          mode=task.namespace.value):
            return work()

    return run


class Report:
    """The completion of one task: printed as the last line and posted to the webhook, if any."""

    def __init__(self, settings: Settings, task_id: str | None, task_type: str | None, webhook_url: str | None):
        self.settings, self.task_id, self.task_type, self.webhook_url = settings, task_id, task_type, webhook_url
        self.started = datetime.now(UTC)

    def __call__(self, status: str, *, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        finished = datetime.now(UTC)
        body: dict[str, Any] = {"task_id": self.task_id, "task_type": self.task_type, "status": status,
                                "started_at": self.started.isoformat(), "finished_at": finished.isoformat(),
                                "duration_s": round((finished - self.started).total_seconds(), 3)}
        body.update({"result": result} if error is None else {"error": redact_text(error)[:2000]})
        print(json.dumps(body))
        sys.stdout.flush()
        if self.webhook_url and self.task_id:
            CompletionWebhook(self.webhook_url, self.settings.task_webhook_secret,
                              attempts=self.settings.task_webhook_attempts).send(body)


def _task(args: argparse.Namespace, settings: Settings) -> int:
    source = _raw_task(args, settings)
    if isinstance(source, int):
        return source
    raw, delivery = source
    if not raw.strip():
        print(NO_TASK, file=sys.stderr)
        return RET_USAGE
    try:
        task = parse_envelope(raw, allow_loopback_http=settings.task_webhook_allow_http)
    except InvalidTask as exc:
        print(str(exc), file=sys.stderr)
        if delivery is not None:
            delivery.reject()  # a malformed message would fail every time: dead-letter it
        Report(settings, exc.task_id, exc.task_type, exc.webhook_url)(REJECTED, error=str(exc))
        return RET_USAGE
    report = Report(settings, task.task_id, task.task_type, task.webhook_url)
    timeout = args.timeout or settings.worker_task_timeout
    finished = run_with_deadline(_traced(_handler(settings, task), task, delivery), timeout,
                                 delivery.keep_alive if delivery is not None else None)
    if finished.state == WORK_TIMED_OUT:
        print(f"the {task.task_type} task did not finish within {timeout:g}s (WORKER_TASK_TIMEOUT); giving up",
              file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        report(TIMED_OUT, error=f"no result within {timeout:g}s")
        shutdown_telemetry()  # the spans that ended go out; the unfinished task span cannot
        os._exit(RET_FAILED)  # the task's thread cannot be interrupted; end the process
    if finished.state == WORK_FAILED:
        error = finished.error
        work = "training" if task.task_type == TRAIN else "refresh"
        text = str(error) if isinstance(error, NoBundle) else f"{work} failed: {finished.error_text}"
        print(text, file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        report(FAILED, error=text)
        return RET_CONNECT if isinstance(error, DependencyUnavailable) else RET_FAILED
    if delivery is not None:
        delivery.ack()
    report(SUCCEEDED, result=finished.value)
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    task = commands.add_parser(
        "task", aliases=["train"], help="run one task (train, refresh) and exit: single-task mode for scale-to-zero "
                                        "containers",
        description="Run one task and exit. The task is an envelope {\"task_id\", "
        "\"task_type\": \"train\"|\"refresh\", \"payload\": {\"username\", \"namespace\"?, \"force\"? (refresh)}, "
        "\"webhook_url\"?} from --task-file or "
        "TASK_DATA (docs/task-envelope.schema.json; the bare {\"username\": ...} form is a train task). train "
        "fine-tunes the user's current bundle; refresh rebuilds it in this process without a broker. The limit is "
        "WORKER_TASK_TIMEOUT seconds. With webhook_url the completion {task_id, task_type, status: succeeded|failed|"
        "timed_out|rejected, started_at, finished_at, duration_s, result|error} is POSTed, signed with "
        "CLOUDFOLIO_TASK_WEBHOOK_SECRET (X-Cloudfolio-Signature-256), and printed as the last line. Exit codes: 0 "
        "succeeded, 1 failed or timed out, 2 a bad task, 3 a dependency unreachable.")
    task.add_argument("--task-file", help="file holding the task envelope (default: the TASK_DATA variable)")
    task.add_argument("--from-queue", action="store_true",
                      help="take one train_model message from the training queue instead (acked on success, "
                           "dead-lettered on failure); for the event-driven Container Apps Job")
    task.add_argument("--timeout", type=float, help="seconds before giving up (default: WORKER_TASK_TIMEOUT)")
    add_data_dir(task)
    task.set_defaults(func=cmd_task)
