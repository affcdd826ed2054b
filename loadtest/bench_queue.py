"""Queue throughput over RabbitMQ: ``sync_repo`` messages per second with 1 and 2 worker processes.

Two message kinds, measured side by side in one run:

- ``no-op``: ``sync_repo`` for a job id that does not exist, so the actor reads the job (a storage
  miss) and returns: broker, worker and middleware overhead;
- ``sync``: real syncs of sample-portfolio repos from the local source into local storage.

Messages are enqueued first, then the workers start, and the clock runs from worker start until
their ``messages_processed_total`` reaches N. Prints a table and, with ``--record``, appends it to
docs/BENCHMARKS.md. Targets only 127.0.0.1.

    python -m loadtest.bench_queue --messages 2000 --record
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pika
from dramatiq.common import dq_name, xq_name

from services.core.settings import Settings
from services.queue.pipeline import build_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processed(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('messages_processed_total{actor="sync_repo"'))


def run_case(broker_url: str, kind: str, messages: int, processes: int, threads: int) -> float:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    env.update({
        "CLOUDFOLIO_BROKER_URL": broker_url, "CLOUDFOLIO_DATA_DIR": str(data_dir),
        "CLOUDFOLIO_SYNC_QUEUE": f"{prefix}-sync", "CLOUDFOLIO_MERGE_QUEUE": f"{prefix}-merge",
        "CLOUDFOLIO_TRAINING_QUEUE": f"{prefix}-training", "CLOUDFOLIO_LOG_LEVEL": "warning",
    })
    pipeline = build_pipeline(Settings.from_env(env))
    repos = pipeline.backends.source.list_repos("yungryce")
    if kind == "sync":
        job = pipeline.backends.jobs.create("yungryce")
        pipeline.backends.jobs.set_total(job.job_id, messages + 1)  # never completes: no merge in the timing
        job_id = job.job_id
    else:
        job_id = uuid.uuid4().hex  # unknown job: the actor returns after one storage read
    for index in range(messages):
        pipeline.send(pipeline.sync.sync_repo.message(job_id, "yungryce", repos[index % len(repos)], "live"))
    ports = [_free_port() for _ in range(processes)]
    workers = [subprocess.Popen([sys.executable, "-m", "cloudfolio", "worker", "sync", "--threads", str(threads),
                                 "--health-port", str(port)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
    try:
        for port in ports:  # wait for health before the clock starts
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("worker did not start") from None
                    time.sleep(0.05)
        started = time.monotonic()
        while sum(_processed(port) for port in ports) < messages:
            if time.monotonic() - started > 300:
                raise RuntimeError("benchmark did not finish in 300 s")
            time.sleep(0.02)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        pipeline.close()
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for name in (f"{prefix}-sync", f"{prefix}-merge", f"{prefix}-training"):
            for queue in (name, dq_name(name), xq_name(name)):
                channel.queue_delete(queue)
        connection.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return messages / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="append the table to docs/BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    for kind in ("no-op", "sync"):
        for processes in (1, 2):
            rate = run_case(args.broker_url, kind, args.messages, processes, args.threads)
            rows.append((kind, processes, rate))
            print(f"{kind:>6} sync_repo, {processes} worker process(es) x {args.threads} threads: {rate:8.0f} msg/s",
                  flush=True)
    table = ["| message | worker processes | threads each | messages | msg/s |", "| --- | --- | --- | --- | --- |"]
    table += [f"| {kind} `sync_repo` | {p} | {args.threads} | {args.messages} | {rate:.0f} |" for kind, p, rate in rows]
    if args.record:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        section = (f"\n## Queue throughput ({datetime.now(UTC):%Y-%m-%d}, {machine})\n\n"
                   f"Command: `python -m loadtest.bench_queue --messages {args.messages} --record`; RabbitMQ on "
                   "127.0.0.1, local storage, sample-portfolio source. Measured side by side in one run.\n\n"
                   + "\n".join(table) + "\n")
        path = ROOT / "docs" / "BENCHMARKS.md"
        if not path.exists():
            path.write_text("# Benchmarks\n\nNumbers measured on this project's machines; each section names "
                            "the command that produced it.\n", "utf-8")
        with path.open("a", encoding="utf-8") as handle:
            handle.write(section)
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
