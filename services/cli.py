"""The ``cloudfolio`` command line: one entry point, a sub-command per job.

Exit codes (as Dramatiq's CLI names them): 0 ok, 1 failed, 2 bad usage or configuration,
3 a dependency (broker, storage, source) could not be reached.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from services.core.errors import CloudfolioError, InvalidName, SettingsError
from services.core.logs import configure_logging
from services.core.settings import VARIABLES, Settings

RET_OK, RET_FAILED, RET_USAGE, RET_CONNECT = 0, 1, 2, 3

log = logging.getLogger("cloudfolio.cli")


def _load_settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    settings = Settings.from_env(**overrides)
    level = settings.log_level
    if getattr(args, "verbose", None) is False and level in ("debug", "info"):
        level = "warning"  # keep a command's own output (a progress bar) readable
    configure_logging(level, settings.log_format)
    return settings


# -- serve ------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import contextlib

    import uvicorn

    from router.app import create_app
    from router.context import build_context
    from services.core.runtime import build_runtime
    from services.legacy.app import create_legacy_app
    from services.legacy.orchestrator import LegacyOrchestrator
    from services.legacy.training import inline_trainer
    from services.pipeline import Pipeline
    from services.workers import InProcessWorkers

    settings = _load_settings(args)
    runtime = build_runtime(settings)
    runtime.storage.check()
    pipeline = Pipeline(runtime)
    legacy_url, legacy_app, orchestrator = settings.legacy_url, None, None
    if not legacy_url:
        # embedded default: the legacy replica runs in this process under /legacy, and the router
        # still talks to it over HTTP (loopback), exactly as it talks to the real Function App
        orchestrator = LegacyOrchestrator(runtime.storage, runtime.source, runtime.jobs,
                                          inline_trainer(settings, runtime.storage))
        legacy_app = create_legacy_app(orchestrator, function_key=settings.legacy_function_key,
                                       retry_after=settings.legacy_retry_after)
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        legacy_url = f"http://{host}:{settings.port}/legacy"
    context = build_context(settings, pipeline, legacy_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        # embedded default: the queue workers run in this process; with a broker URL they are
        # separate `cloudfolio worker` processes
        roles = ("all", "train")  # the embedded default trains in-process too
        workers = InProcessWorkers(pipeline, roles=roles).start() if runtime.broker_bundle.embedded else None
        try:
            yield
        finally:
            await context.close()
            if workers is not None:
                workers.stop()
            if orchestrator is not None:
                orchestrator.close()
            runtime.close()

    app = create_app(context, lifespan=lifespan, legacy_app=legacy_app)
    mode = "in-process workers" if runtime.broker_bundle.embedded else f"broker {_redact(settings.broker_url)}"
    legacy = "in-process legacy" if orchestrator is not None else f"legacy {settings.legacy_url}"
    print(f"CloudFolio router on http://{settings.host}:{settings.port} "
          f"(storage: {runtime.storage!r}, source: {settings.repo_source}, {mode}, {legacy}, "
          f"flags: {settings.flag_store})", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return RET_OK


def cmd_legacy(args: argparse.Namespace) -> int:
    import uvicorn

    from services.core.components import make_source, make_storage
    from services.core.jobs import JobStore
    from services.core.sweeper import Sweeper
    from services.legacy.app import create_legacy_app
    from services.legacy.orchestrator import LegacyOrchestrator
    from services.legacy.training import inline_trainer

    settings = _load_settings(args)
    storage = make_storage(settings)
    storage.check()
    jobs = JobStore(storage, settings.job_ttl)
    orchestrator = LegacyOrchestrator(storage, make_source(settings, storage), jobs, inline_trainer(settings, storage))
    # an orchestration whose process died would read "Running" forever: fail it after the deadline
    sweeper = Sweeper(jobs, settings.job_deadline).start()
    app = create_legacy_app(orchestrator, function_key=settings.legacy_function_key,
                            retry_after=settings.legacy_retry_after)
    port = args.port or 7071
    print(f"CloudFolio legacy orchestrator on http://{settings.host}:{port} (storage: {storage!r})", file=sys.stderr)
    try:
        uvicorn.run(app, host=settings.host, port=port, log_level=settings.log_level, access_log=False)
    finally:
        sweeper.stop()
        orchestrator.close()
    return RET_OK


# -- refresh ----------------------------------------------------------------------------------
def cmd_refresh(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from services.core.jobs import TERMINAL, JobNotFound
    from services.core.names import validate_username
    from services.core.runtime import build_runtime
    from services.pipeline import Pipeline
    from services.workers import InProcessWorkers

    settings = _load_settings(args)
    username = validate_username(args.username)
    pipeline = Pipeline(build_runtime(settings))
    jobs = pipeline.runtime.jobs
    workers = InProcessWorkers(pipeline).start() if pipeline.runtime.broker_bundle.embedded else None
    deadline = time.monotonic() + args.timeout
    bar = None
    try:
        job = pipeline.submit_refresh(username, force=args.force)
        where = "in this process" if workers else "by the workers on " + _redact(settings.broker_url)
        print(f"job {job.job_id} queued ({where})", file=sys.stderr)
        while True:
            try:
                job = jobs.get(job.job_id)
            except JobNotFound:
                print("the job expired before it finished", file=sys.stderr)
                return RET_FAILED
            if bar is None and job.total is not None:
                bar = tqdm(total=job.total, desc=f"syncing {username}", unit="repo", disable=args.quiet,
                           mininterval=0.2)
            if bar is not None:
                bar.n = jobs.progress(job.job_id).done
                bar.refresh()
            if job.status in TERMINAL:
                break
            if time.monotonic() > deadline:
                print(f"gave up waiting after {args.timeout:.0f}s; the job goes on (id {job.job_id})",
                      file=sys.stderr)
                return RET_FAILED
            time.sleep(0.1)
    finally:
        if bar is not None:
            bar.close()
        if workers is not None:
            workers.stop()
        pipeline.runtime.close()
    if job.status != "completed":
        print(f"refresh failed: {'; '.join(job.reasons)}", file=sys.stderr)
        return RET_FAILED
    print(f"bundle fingerprint: {job.bundle_fingerprint}")
    if job.total == 0:
        print(f"repos: {job.repos_count} (up to date, nothing synced)")
    else:
        print(f"repos: {job.repos_count} ({job.total - len(job.failed_repos)} synced, "
              f"{len(job.failed_repos)} failed)")
    for failure in job.failed_repos:
        print(f"  failed: {failure['repo']}: {failure['error']}", file=sys.stderr)
    return RET_OK


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl() if url else ""


# -- worker, queues, dlq ----------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> int:
    from services.core.runtime import build_runtime
    from services.pipeline import Pipeline
    from services.workers import run_worker_process, run_worker_processes

    roles = args.roles or ["all"]
    unknown = sorted(set(roles) - {"sync", "merge", "train", "all"})
    if unknown:
        print(f"unknown worker role(s): {', '.join(unknown)}; choose from sync, merge, train, all",
              file=sys.stderr)
        return RET_USAGE
    settings = _load_settings(args)
    if not settings.broker_url:
        print("cloudfolio worker needs CLOUDFOLIO_BROKER_URL (amqp://...); without it, `cloudfolio serve` "
              "runs the workers in-process", file=sys.stderr)
        return RET_USAGE
    health_port = settings.worker_health_port if args.health_port is None else args.health_port
    if args.processes > 1:
        argv = ["worker", *roles, "--threads", str(args.threads or settings.worker_threads)]
        return run_worker_processes(argv, args.processes, health_port)
    pipeline = Pipeline(build_runtime(settings))
    return run_worker_process(pipeline, roles, threads=args.threads or settings.worker_threads,
                              health_port=health_port, shutdown_timeout=args.shutdown_timeout)


def cmd_queues(args: argparse.Namespace) -> int:
    from services.core.queue_admin import queue_depths

    settings = _load_settings(args)
    if not settings.broker_url:
        print("no CLOUDFOLIO_BROKER_URL: the embedded broker's queues live inside `cloudfolio serve`", file=sys.stderr)
        return RET_USAGE
    depths = queue_depths(settings.broker_url, [settings.sync_queue, settings.merge_queue, settings.training_queue])
    print(f"{'queue':<32} {'messages':>9} {'consumers':>9}")
    for depth in depths:
        messages = "-" if depth.messages is None else str(depth.messages)
        consumers = "-" if depth.consumers is None else str(depth.consumers)
        print(f"{depth.name:<32} {messages:>9} {consumers:>9}")
    return RET_OK


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from services.core.queue_admin import replay_dead_letters
    from services.core.runtime import build_runtime
    from services.pipeline import Pipeline

    settings = _load_settings(args)
    if not settings.broker_url:
        print("dlq replay needs CLOUDFOLIO_BROKER_URL", file=sys.stderr)
        return RET_USAGE
    pipeline = Pipeline(build_runtime(settings))
    known = set(pipeline.queues.values())
    if args.queue not in known:
        print(f"unknown queue {args.queue!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return RET_USAGE
    moved = replay_dead_letters(pipeline.runtime.broker, settings.broker_url, args.queue, args.limit)
    pipeline.runtime.close()
    print(f"replayed {moved} message(s) from {args.queue}.XQ to {args.queue}")
    return RET_OK


# -- train (single-task mode) -----------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    import json
    import threading

    from services.core.cache import BundleCache
    from services.core.components import make_storage
    from services.core.keys import CacheKeys, Namespace
    from services.core.names import validate_username
    from services.train.store import ModelStore
    from services.train.trainer import params_from_settings, train_bundle

    settings = _load_settings(args)
    delivery = None
    if args.from_queue:
        from services.core.queue_admin import take_one

        if not settings.broker_url:
            print("--from-queue needs CLOUDFOLIO_BROKER_URL", file=sys.stderr)
            return RET_USAGE
        delivery = take_one(settings.broker_url, settings.training_queue)
        if delivery is None:
            print(f"the {settings.training_queue} queue is empty: nothing to do")
            return RET_OK
        raw = json.dumps(delivery.kwargs)
    else:
        raw = Path(args.task_file).read_text("utf-8") if args.task_file else settings.task_data
    if not raw.strip():
        print("no task: give --task-file F, set TASK_DATA to a JSON object like {\"username\": \"yungryce\"}, "
              "or use --from-queue", file=sys.stderr)
        return RET_USAGE
    try:
        task = json.loads(raw)
        username = validate_username(task["username"])
        namespace = Namespace(task.get("namespace", "live"))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"invalid task: {exc}", file=sys.stderr)
        if delivery is not None:
            delivery.reject()  # a malformed message would fail every time: dead-letter it
        return RET_USAGE
    timeout = args.timeout or settings.worker_task_timeout
    storage = make_storage(settings)
    cached = BundleCache(storage, CacheKeys(namespace)).load_bundle(username)
    if cached is None:
        print(f"no {namespace.value} bundle for {username}: refresh it first", file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        return RET_FAILED
    store = ModelStore(storage, settings.data_path / "model-cache", namespace)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = train_bundle(store, username, cached.data, params_from_settings(settings))
        except Exception as exc:
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=run, name="train-task", daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout
    while worker.is_alive() and time.monotonic() < deadline:
        if delivery is not None:
            delivery.keep_alive(min(1.0, max(0.0, deadline - time.monotonic())))  # AMQP heartbeats
        else:
            worker.join(min(1.0, max(0.0, deadline - time.monotonic())))
    if worker.is_alive():
        print(f"training did not finish within {timeout}s (WORKER_TASK_TIMEOUT); giving up", file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        sys.stdout.flush()
        os._exit(RET_FAILED)  # the training thread cannot be interrupted; end the process
    if "error" in outcome:
        print(f"training failed: {outcome['error']}", file=sys.stderr)
        if delivery is not None:
            delivery.reject()
        return RET_FAILED
    if delivery is not None:
        delivery.ack()
    result = outcome["result"]
    print(json.dumps({"status": result.status, "fingerprint": result.fingerprint,
                      "pairs": result.metadata.get("pairs"), "loss": result.metadata.get("loss"),
                      "device": result.metadata.get("device")}))
    return RET_OK


# -- rollout ----------------------------------------------------------------------------------
def _human() -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()}"


def _rollout_store(args: argparse.Namespace):
    from router.context import make_flag_store

    settings = _load_settings(args)
    return settings, make_flag_store(settings)


def cmd_rollout_status(args: argparse.Namespace) -> int:
    import json

    from router.flags import parse_flags

    _settings, store = _rollout_store(args)
    raw = store.read()
    flags, problems = parse_flags(raw)
    print(json.dumps({"store": store.name, "flags": flags.as_dict(), "raw": raw, "problems": problems}, indent=2))
    return RET_OK


def cmd_rollout_set(args: argparse.Namespace) -> int:
    from rollout.runbook import RolloutLocked, set_percentage

    _settings, store = _rollout_store(args)
    try:
        set_percentage(store, args.percentage, actor=_human(), reason=args.reason)
    except RolloutLocked as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return RET_FAILED
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return RET_USAGE
    print(f"QUEUE-TRAFFIC-PCT set to {args.percentage:g} in the {store.name} store")
    return RET_OK


def cmd_rollout_shadow(args: argparse.Namespace) -> int:
    from rollout.flag_stores import ENABLE_QUEUE_SHADOW, SHADOW_SAMPLE_PCT

    _settings, store = _rollout_store(args)
    values = {ENABLE_QUEUE_SHADOW: "true" if args.state == "on" else "false"}
    if args.sample is not None:
        if not 0 <= args.sample <= 100:
            print("--sample must be between 0 and 100", file=sys.stderr)
            return RET_USAGE
        values[SHADOW_SAMPLE_PCT] = f"{args.sample:g}"
    store.write(values, actor=_human(), reason=args.reason)
    print(f"shadow {args.state}" + (f", sampling {args.sample:g} %" if args.sample is not None else ""))
    return RET_OK


def cmd_rollout_rollback(args: argparse.Namespace) -> int:
    import json

    from rollout.notify import WebhookNotifier
    from rollout.runbook import InvalidAlert, RollbackReason, parse_common_alert, rollback

    settings, store = _rollout_store(args)
    if args.alert:
        try:
            text = sys.stdin.read() if args.alert == "-" else Path(args.alert).read_text("utf-8")
            reason = parse_common_alert(json.loads(text))
        except (InvalidAlert, ValueError) as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return RET_USAGE
        if reason is None:
            print(json.dumps({"action": "ignored", "why": "the alert is Resolved"}))
            return RET_OK
    else:
        reason = RollbackReason(metric="manual", value=None, threshold=None, window="-",
                                alert_id=f"manual by {_human()}: {args.reason}", source="cli")
    notifier = None
    if settings.notify_webhook_url:
        notifier = WebhookNotifier(settings.notify_webhook_url, settings.notify_style)
    result = rollback(store, reason, notifier=notifier, dry_run=args.dry_run,
                      actor=_human() if not args.alert else "azure-monitor-alert")
    print(json.dumps(result.as_dict(), indent=2))
    return RET_OK


def cmd_rollout_reenable(args: argparse.Namespace) -> int:
    from rollout.runbook import reenable

    _settings, store = _rollout_store(args)
    if reenable(store, args.reason, actor=_human()):
        print("lock cleared; the percentage is unchanged (raise it with `cloudfolio rollout set`)")
    else:
        print("the rollout was not locked")
    return RET_OK


def cmd_rollout_watch(args: argparse.Namespace) -> int:
    import json
    import signal
    import threading

    from rollout.alerts import ErrorRateEvaluator
    from rollout.notify import WebhookNotifier
    from rollout.watch import Watcher

    settings, store = _rollout_store(args)
    urls = [u.strip() for u in settings.router_metrics_urls.split(",") if u.strip()]
    watcher = Watcher(
        store=store,
        evaluator=ErrorRateEvaluator(settings.alert_window, settings.alert_threshold, settings.alert_min_requests),
        urls=urls,
        notifier=WebhookNotifier(settings.notify_webhook_url, settings.notify_style)
        if settings.notify_webhook_url else None,
        dry_run=args.dry_run,
        state_path=settings.data_path / "alert-state.json" if args.once else None,
    )

    def report(verdict, result) -> None:
        print(json.dumps({"verdict": verdict.as_dict(), "rollback": result.as_dict() if result else None}),
              flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watcher.run(settings.alert_interval, stop, report, iterations=1 if args.once else args.iterations)
    return RET_OK


# -- config -----------------------------------------------------------------------------------
def cmd_config(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    width = max(len(var.env) for var in VARIABLES)
    for env, value, is_default in settings.describe():
        print(f"{env:<{width}}  {value or '(empty)'}{'' if is_default else '   [set]'}")
    return RET_OK


def add_server_arguments(parser: argparse.ArgumentParser, default_port: str) -> None:
    parser.add_argument("--host", help="address to listen on (default: CLOUDFOLIO_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port to listen on (default: {default_port})")
    parser.add_argument("--data-dir", help="folder for local state (default: CLOUDFOLIO_DATA_DIR or ./.cloudfolio)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudfolio",
        description="CloudFolio gateway: builds portfolio bundles from GitHub repos and migrates traffic "
        "from the legacy orchestrator to queue workers. With no configuration everything runs in one "
        "process on the sample portfolio (users yungryce and octocat); see `cloudfolio config` for the "
        "environment variables.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (router) on the configured backends",
                                description="Run the router's HTTP API (OpenAPI at /openapi.json, docs at /docs). With "
                                "no configuration everything runs in this process: local storage under "
                                "./.cloudfolio, the sample portfolio, in-process queue workers, the legacy "
                                "replica under /legacy, and flags in ./.cloudfolio/flags.json (seeded from "
                                "QUEUE_TRAFFIC_PCT, ENABLE_QUEUE_SHADOW, SHADOW_SAMPLE_PCT, ROLLOUT_STICKINESS).")
    add_server_arguments(serve, "CLOUDFOLIO_PORT or 8000")
    serve.set_defaults(func=cmd_serve)

    legacy = commands.add_parser(
        "legacy", help="run the legacy orchestrator replica (Durable-Functions-style HTTP API)",
        description="Run the legacy orchestrator on its own: POST /api/orchestrator_start, Durable's status "
        "API under /runtime/webhooks/durabletask/instances/, GET /api/bundles/{username}. It runs the "
        "synchronous pipeline (stale detection, thread-pool fan-out, merge) and writes under legacy/. Point "
        "the router at it with CLOUDFOLIO_LEGACY_URL.")
    add_server_arguments(legacy, "7071, as Azure Functions")
    legacy.set_defaults(func=cmd_legacy)

    refresh = commands.add_parser("refresh", help="build a user's bundle now and wait for it",
                                  description="Submit a refresh job for USERNAME and wait for it: plan (list "
                                  "repos, find stale ones), sync each stale repo, merge the bundle, then print "
                                  "its fingerprint and repo count. With no CLOUDFOLIO_BROKER_URL the queue "
                                  "workers run in this process; with one, `cloudfolio worker` processes do "
                                  "the work.")
    refresh.add_argument("username", help="GitHub login (sample portfolio: yungryce or octocat)")
    refresh.add_argument("--force", action="store_true", help="sync every repo, not only stale ones")
    refresh.add_argument("--data-dir", help="folder for local state (default: ./.cloudfolio)")
    refresh.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    refresh.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job (default 600)")
    refresh.add_argument("-v", "--verbose", action="store_true", help="log what the actors do")
    refresh.set_defaults(func=cmd_refresh)

    worker = commands.add_parser(
        "worker", help="consume queue messages (needs CLOUDFOLIO_BROKER_URL)",
        description="Run queue workers over RabbitMQ for the given roles: sync (plan_refresh, sync_repo on "
        "the github-sync queue), merge (merge_bundle), train (train_model; imports torch), or all (sync and "
        "merge). Serves /health and /metrics on "
        "CLOUDFOLIO_WORKER_HEALTH_PORT and fails overdue jobs (CLOUDFOLIO_JOB_DEADLINE). SIGTERM or "
        "SIGINT stops it gracefully: running messages finish, prefetched ones go back to RabbitMQ.",
    )
    worker.add_argument("roles", nargs="*", metavar="ROLE",
                        help="sync, merge, train, or all (= sync and merge): which queues to consume (default: all)")
    worker.add_argument("--threads", type=int, help="worker threads per process (default: CLOUDFOLIO_WORKER_THREADS)")
    worker.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    worker.add_argument("--health-port", type=int, help="port of /health and /metrics (0: off)")
    worker.add_argument("--shutdown-timeout", type=float, default=25.0,
                        help="seconds to let running messages finish on SIGTERM (default 25)")
    worker.set_defaults(func=cmd_worker)

    queues = commands.add_parser("queues", help="print the depth of each queue, its delay and dead-letter queue",
                                 description="Ready messages and consumers of the sync, merge and training "
                                 "queues, their .DQ (delayed retries) and .XQ (dead letters), from RabbitMQ.")
    queues.set_defaults(func=cmd_queues)

    dlq = commands.add_parser("dlq", help="dead-letter queue tools", description="Dead-letter queue tools.")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    replay = dlq_commands.add_parser("replay", help="move dead-lettered messages back to their queue",
                                     description="Move messages from QUEUE.XQ back to QUEUE with their retry "
                                     "count reset, for another try (e.g. after GitHub recovered).")
    replay.add_argument("queue", help="the queue whose dead letters to replay (e.g. github-sync)")
    replay.add_argument("--limit", type=int, help="replay at most this many (default: all)")
    replay.set_defaults(func=cmd_dlq_replay)

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
    train.add_argument("--data-dir", help="folder for local state (default: ./.cloudfolio)")
    train.set_defaults(func=cmd_train)

    rollout = commands.add_parser(
        "rollout", help="read and change rollout flags; roll back; watch the error rate",
        description="Rollout control against the configured flag store (CLOUDFOLIO_FLAG_STORE: file, env or "
        "keyvault). See docs/ROLLBACK-PLAYBOOK.md.")
    rollout_commands = rollout.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)

    def add(name: str, func: object, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = rollout_commands.add_parser(name, help=help_text, description=description)
        sub.add_argument("--data-dir", help="folder for local state (default: ./.cloudfolio)")
        sub.set_defaults(func=func)
        return sub

    add("status", cmd_rollout_status, "show the flags in force", "Print the flags as stored and as the router "
        "reads them (invalid values fail safe and are listed under problems).")
    setter = add("set", cmd_rollout_set, "set the queue percentage", "Set QUEUE-TRAFFIC-PCT. Raising it while "
                 "the rollout is locked (after a rollback) is refused: re-enable first.")
    setter.add_argument("percentage", type=float, help="0-100")
    setter.add_argument("--reason", required=True, help="why (kept in the change history)")
    shadow = add("shadow", cmd_rollout_shadow, "switch shadow mirroring on or off",
                 "Set ENABLE-QUEUE-SHADOW (and optionally SHADOW-SAMPLE-PCT).")
    shadow.add_argument("state", choices=["on", "off"])
    shadow.add_argument("--sample", type=float, help="percentage of requests to mirror")
    shadow.add_argument("--reason", required=True, help="why")
    back = add("rollback", cmd_rollout_rollback, "roll back now: 0 %% to the queue path, locked, notified",
               "The runbook's one action: QUEUE-TRAFFIC-PCT=0, ROLLOUT-LOCK set with the reason, notification "
               "to CLOUDFOLIO_NOTIFY_WEBHOOK_URL. Idempotent. --alert takes an Azure Monitor common-alert-schema "
               "body (a file, or - for stdin); anything else is refused, a Resolved alert is ignored.")
    reason = back.add_mutually_exclusive_group(required=True)
    reason.add_argument("--reason", help="why, for a manual rollback")
    reason.add_argument("--alert", help="common-alert-schema JSON file, or - for stdin")
    back.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
    again = add("reenable", cmd_rollout_reenable, "clear the rollback lock (a human decision)",
                "Clear ROLLOUT-LOCK. The percentage stays at its value; raise it with `rollout set` afterwards.")
    again.add_argument("--reason", required=True, help="what was fixed")
    watch = add("watch", cmd_rollout_watch, "evaluate the queue path's error rate and roll back when unhealthy",
                "Scrape CLOUDFOLIO_ROUTER_METRICS_URLS every CLOUDFOLIO_ALERT_INTERVAL seconds; when the queue "
                "path's error rate over CLOUDFOLIO_ALERT_WINDOW exceeds CLOUDFOLIO_ALERT_THRESHOLD with at least "
                "CLOUDFOLIO_ALERT_MIN_REQUESTS requests, run the rollback. No data or too few requests is "
                "'unknown': never healthy, never a rollback. Prints one JSON verdict per evaluation.")
    watch.add_argument("--once", action="store_true", help="evaluate once and exit (cron); samples persist")
    watch.add_argument("--dry-run", action="store_true", help="report rollbacks without doing them")
    watch.add_argument("--iterations", type=int, help=argparse.SUPPRESS)

    config = commands.add_parser(
        "config", help="print every setting and its current value (secrets masked)",
        description="Print every environment variable CloudFolio reads, with the value in force (secrets "
        "shown as ****) and [set] where it differs from the default. Invalid values are reported with "
        "the variable's name and exit code 2. README's configuration table lists the same variables.",
    )
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"cloudfolio: configuration error: {exc}", file=sys.stderr)
        return RET_USAGE
    except InvalidName as exc:
        print(f"cloudfolio: {exc}", file=sys.stderr)
        return RET_USAGE
    except CloudfolioError as exc:
        print(f"cloudfolio: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RET_CONNECT if "Unavailable" in type(exc).__name__ else RET_FAILED
    except KeyboardInterrupt:
        return RET_FAILED


if __name__ == "__main__":
    sys.exit(main())
