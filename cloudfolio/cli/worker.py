"""``cloudfolio worker``, ``cloudfolio queues`` and ``cloudfolio dlq replay``: the queue side."""

from __future__ import annotations

import argparse
import sys

from cloudfolio.cli.common import load_settings
from cloudfolio.cli.exits import RET_OK, RET_USAGE
from cloudfolio.cli.worker_supervisor import supervise
from cloudfolio.cpus import available_cpus
from cloudfolio.memory import watch_memory
from cloudfolio.telemetry import configure_telemetry, shutdown_telemetry
from services.core.settings import Settings
from services.queue.admin import queue_depths, replay_dead_letters
from services.queue.broker_probe import wait_for_broker
from services.queue.pipeline import build_pipeline
from services.queue.workers import DEFAULT_SHUTDOWN_TIMEOUT, ROLES, run_worker_process


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of 1 or more (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def default_worker_processes(settings: Settings, roles: list[str]) -> int:
    """``CLOUDFOLIO_WORKER_PROCESSES``, else one per available CPU (one for the train role: torch
    already uses every core, and each process would hold its own model)."""
    if settings.worker_processes:
        return settings.worker_processes
    return 1 if "train" in roles else available_cpus()


def worker_processes(args: argparse.Namespace, settings: Settings, roles: list[str]) -> int:
    """``--processes``, else the default for the roles."""
    return args.processes or default_worker_processes(settings, roles)


def worker_commands(roles: list[str], threads: int, processes: int, health_port: int,
                    shutdown_timeout: float) -> list[list[str]]:
    """The command lines of ``processes`` single-process workers; process i serves health on port + i."""
    commands = []
    for index in range(processes):
        command = [sys.executable, "-m", "cloudfolio", "worker", *roles, "--threads", str(threads), "--processes", "1",
                   "--health-port", str(health_port + index if health_port else 0),
                   "--shutdown-timeout", f"{shutdown_timeout:g}"]
        commands.append(command)
    return commands


def cmd_worker(args: argparse.Namespace) -> int:
    roles = args.roles or ["all"]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        print(f"unknown worker role(s): {', '.join(unknown)}; choose from sync, merge, train, all", file=sys.stderr)
        return RET_USAGE
    settings = load_settings(args)
    if not settings.broker_url:
        print("cloudfolio worker needs CLOUDFOLIO_BROKER_URL (amqp://...); without it, `cloudfolio serve` "
              "runs the workers in-process", file=sys.stderr)
        return RET_USAGE
    health_port = settings.worker_health_port if args.health_port is None else args.health_port
    threads = args.threads or settings.worker_threads
    processes = worker_processes(args, settings, roles)
    wait_for_broker(settings.broker_url, settings.broker_connect_timeout)
    if processes > 1:
        print(f"worker: {processes} processes x {threads} threads", file=sys.stderr, flush=True)
        return supervise(worker_commands(roles, threads, processes, health_port, args.shutdown_timeout))
    configure_telemetry(settings, "worker")
    watch_memory(settings, "worker")
    try:
        return run_worker_process(build_pipeline(settings), roles, threads=threads, health_port=health_port,
                                  shutdown_timeout=args.shutdown_timeout)
    finally:
        shutdown_telemetry()


def cmd_queues(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    if not settings.broker_url:
        print("no CLOUDFOLIO_BROKER_URL: the embedded broker's queues live inside `cloudfolio serve`", file=sys.stderr)
        return RET_USAGE
    depths = queue_depths(settings.broker_url, [settings.plan_queue, settings.sync_queue, settings.merge_queue,
                                                 settings.training_queue])
    print(f"{'queue':<32} {'messages':>9} {'consumers':>9}")
    for depth in depths:
        messages = "-" if depth.messages is None else str(depth.messages)
        consumers = "-" if depth.consumers is None else str(depth.consumers)
        print(f"{depth.name:<32} {messages:>9} {consumers:>9}")
    return RET_OK


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    if not settings.broker_url:
        print("dlq replay needs CLOUDFOLIO_BROKER_URL", file=sys.stderr)
        return RET_USAGE
    pipeline = build_pipeline(settings)
    try:
        known = set(pipeline.queues.values())
        if args.queue not in known:
            print(f"unknown queue {args.queue!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
            return RET_USAGE
        moved = replay_dead_letters(pipeline.broker, settings.broker_url, args.queue, args.limit)
    finally:
        pipeline.close()
    print(f"replayed {moved} message(s) from {args.queue}.XQ to {args.queue}")
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser(
        "worker", help="consume queue messages (needs CLOUDFOLIO_BROKER_URL)",
        description="Run queue workers over RabbitMQ for the given roles: sync (plan_refresh on the "
        "refresh-plan queue, first, and sync_repo on github-sync), merge (merge_bundle), train (train_model; "
        "imports torch), or all (sync and merge). Serves /health and /metrics on CLOUDFOLIO_WORKER_HEALTH_PORT "
        "and fails overdue jobs "
        "(CLOUDFOLIO_JOB_DEADLINE). SIGTERM or SIGINT stops it gracefully: running messages finish, "
        "prefetched ones go back to RabbitMQ. At start it waits up to CLOUDFOLIO_BROKER_CONNECT_TIMEOUT "
        "seconds (default 30) for RabbitMQ and exits 3 if it never answers; once running, it reconnects on "
        "its own after a broker restart.",
    )
    worker.add_argument("roles", nargs="*", metavar="ROLE",
                        help="sync, merge, train, or all (= sync and merge): which queues to consume (default: all)")
    worker.add_argument("--threads", type=at_least_one,
                        help="worker threads per process (default: CLOUDFOLIO_WORKER_THREADS)")
    worker.add_argument("--processes", type=at_least_one, metavar="N",
                        help="worker processes (default: CLOUDFOLIO_WORKER_PROCESSES, else one per CPU this process "
                             "may use, 1 for train). With N > 1 process i serves health on the health port + i; "
                             "if one exits on its own, the others are stopped and the worker exits with its code")
    worker.add_argument("--health-port", type=int, help="port of /health and /metrics (0: off)")
    worker.add_argument("--shutdown-timeout", type=float, default=DEFAULT_SHUTDOWN_TIMEOUT,
                        help="seconds to let running messages finish on SIGTERM "
                             f"(default {DEFAULT_SHUTDOWN_TIMEOUT:g})")
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
