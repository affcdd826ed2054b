"""``cloudfolio train``: single-task mode for scale-to-zero jobs (one training task, then exit).

The task comes from ``--task-file``, ``TASK_DATA``, or one ``train_model`` message taken from the
training queue (acked on success, dead-lettered on failure or a malformed message). Exit codes:
0 trained or already cached (or too few documented repos), 1 failed or timed out, 2 a bad task.
Work that overruns ``WORKER_TASK_TIMEOUT`` cannot be interrupted, so the process ends itself.
With an exporter configured (docs/OBSERVABILITY.md) the run is one ``train_model`` span; a task
taken from the queue continues the trace its message carries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from cloudfolio.cli.common import add_data_dir, load_settings
from cloudfolio.cli.exits import RET_FAILED, RET_OK, RET_USAGE
from cloudfolio.telemetry import configure_telemetry, shutdown_telemetry
from services.core import tracing
from services.core.backends import Backends, build_backends
from services.core.settings import Settings
from services.queue.delivery import Delivery, take_one
from services.queue.single_task import FAILED, TIMED_OUT, run_with_deadline
from services.train.task import InvalidTask, NoBundle, TrainTask, parse_train_task, run_train_task
from services.train.trainer import TrainOutcome

NO_TASK = ("no task: give --task-file F, set TASK_DATA to a JSON object like {\"username\": \"yungryce\"}, "
           "or use --from-queue")


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
        return json.dumps(delivery.kwargs), delivery
    if not args.task_file:
        return settings.task_data, None
    try:
        return Path(args.task_file).read_text("utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InvalidTask(f"cannot read --task-file {args.task_file}: {reason}") from None


def cmd_train(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    configure_telemetry(settings, "task")
    try:
        return _train(args, settings)
    finally:
        shutdown_telemetry()


def _traced(backends: Backends, task: TrainTask, delivery: Delivery | None) -> Callable[[], TrainOutcome]:
    """The training run as one ``train_model`` span; a queued task continues its message's trace."""
    carried = tracing.extract(delivery.message.options) if delivery is not None else None
    kind = tracing.SpanKind.CONSUMER if delivery is not None else tracing.SpanKind.INTERNAL
    job_id = str(delivery.kwargs.get("job_id")) if delivery is not None and delivery.kwargs.get("job_id") else None

    def run() -> TrainOutcome:
        with tracing.span("train_model", kind=kind, context=carried, username=task.username, job_id=job_id,
                          mode=task.namespace.value):
            return run_train_task(backends, task)

    return run


def _train(args: argparse.Namespace, settings: Settings) -> int:
    source = _raw_task(args, settings)
    if isinstance(source, int):
        return source
    raw, delivery = source
    if not raw.strip():
        print(NO_TASK, file=sys.stderr)
        return RET_USAGE
    try:
        task = parse_train_task(raw)
    except InvalidTask as exc:
        print(str(exc), file=sys.stderr)
        if delivery is not None:
            delivery.reject()  # a malformed message would fail every time: dead-letter it
        return RET_USAGE
    backends = build_backends(settings)
    timeout = args.timeout or settings.worker_task_timeout
    finished = run_with_deadline(_traced(backends, task, delivery), timeout,
                                 delivery.keep_alive if delivery is not None else None)
    if finished.state == TIMED_OUT:
        print(f"training did not finish within {timeout}s (WORKER_TASK_TIMEOUT); giving up", file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        sys.stdout.flush()
        shutdown_telemetry()  # the spans that ended go out; the unfinished training span cannot
        os._exit(RET_FAILED)  # the training thread cannot be interrupted; end the process
    if finished.state == FAILED:
        no_bundle = isinstance(finished.error, NoBundle)
        print(str(finished.error) if no_bundle else f"training failed: {finished.error_text}", file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        return RET_FAILED
    if delivery is not None:
        delivery.ack()
    result = finished.value
    print(json.dumps({"status": result.status, "fingerprint": result.fingerprint,
                      "pairs": result.metadata.get("pairs"), "loss": result.metadata.get("loss"),
                      "device": result.metadata.get("device")}))
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="run one training task and exit (single-task mode for scale-to-zero jobs)",
        description="Fine-tune the model for a user's current bundle and exit: 0 when a model exists afterwards "
        "(trained, or already cached) or the bundle has too few documented repos to train, 1 on failure or "
        "timeout, 2 for a bad task. The task is JSON {\"username\": ..., \"namespace\": \"live\"} from "
        "--task-file or TASK_DATA; the wall-clock limit is WORKER_TASK_TIMEOUT seconds.")
    train.add_argument("--task-file", help="file holding the task JSON (default: the TASK_DATA variable)")
    train.add_argument("--from-queue", action="store_true",
                       help="take one train_model message from the training queue instead (acked on success, "
                            "dead-lettered on failure); for the event-driven Container Apps Job")
    train.add_argument("--timeout", type=float, help="seconds before giving up (default: WORKER_TASK_TIMEOUT)")
    add_data_dir(train)
    train.set_defaults(func=cmd_train)
