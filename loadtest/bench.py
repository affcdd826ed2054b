"""One benchmark run: the queue path side by side with the legacy replica and bare baselines, with goals.

Sections, in order (``--only`` picks some):

- ``e2e``: end-to-end refresh, legacy replica vs queue path, at 10, 50 and 200 repos, without and
  with training, the queue workers in their default number of processes (``loadtest.bench_paths``);
- ``threads``: the queue path at 50 and 200 repos with 8, 16, 32 and 64 sync worker threads;
- ``overhead``: per-repo cost of the queue path against a no-op actor on the same RabbitMQ, in the
  worker processes ``cloudfolio worker`` runs by default (one per CPU) and in one, with the local
  storage on the temp folder's disk and in memory (/dev/shm, where it is a tmpfs), and a status
  poll's cost reading the job document against listing the repo markers (``loadtest.bench_overhead``),
  and the dashboard's recent jobs by a head per job against the newest ids (``loadtest.bench_jobs``);
- ``router``: cached GET through the router against a bare Starlette app serving the same bytes
  from memory and from the same storage (``loadtest.bench_router``; needs wrk);
- ``tracing``: the same cached GET through routers exporting spans over OTLP/HTTP (default
  sampler, a trace in ten, every request) against one without an exporter (``loadtest.bench_router``; needs wrk);
- ``load``: the refresh answer's percentiles at 100 users, refresh-only and burst mixes, and the
  time until every accepted job completed (``loadtest.bench_load``).

Prints every table, then the goals with met / NOT met; ``--record`` writes the whole run into
docs/BENCHMARKS.md between its ``bench`` markers, replacing the previous run. Exits 3 when
RabbitMQ is not reachable, 130 when SIGTERM or SIGINT stops it (after each started section has
removed its processes and queues), 0 otherwise (a goal not met is a result, not an error). Everything runs
on 127.0.0.1. From the repository root:

    python -m loadtest.bench --record          (about 15 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from loadtest.bench_common import BROKER, Section

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:begin (written by python -m loadtest.bench --record) -->", "<!-- bench:end -->"
SECTIONS = ("e2e", "threads", "overhead", "router", "tracing", "load")


def _worker_defaults() -> tuple[int, int]:
    """Threads per worker process and worker processes, as `cloudfolio worker` would pick them here."""
    from cloudfolio.cli.worker import default_worker_processes
    from services.core.settings import Settings

    settings = Settings.from_env()  # the environment, as `cloudfolio worker` reads it
    return settings.worker_threads, default_worker_processes(settings, ["all"])


def plan(args: argparse.Namespace) -> list[tuple[str, Callable[[], Section]]]:
    from loadtest import bench_jobs, bench_load, bench_overhead, bench_paths, bench_router

    threads, processes = _worker_defaults()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = dict(kv.split("=", 1) for kv in args.set)
    steps = {
        "e2e": [lambda: bench_paths.end_to_end(sizes, threads, processes, training=False, repeat=args.repeat,
                                               settings=settings),
                lambda: bench_paths.end_to_end(sizes, threads, processes, training=True, repeat=1, settings=settings)],
        "threads": [lambda size=size: bench_paths.worker_threads(size, [8, 16, 32, 64], args.repeat, threads,
                                                                 processes, settings)
                    for size in sorted({50, max(sizes)})],
        "overhead": [lambda: bench_overhead.per_repo_overhead(args.messages, threads, processes, settings),
                     lambda: bench_overhead.status_poll_cost(), lambda: bench_jobs.recent_jobs_cost()],
        "router": [lambda: bench_router.cached_get()],
        "tracing": [lambda: bench_router.tracing_overhead()],
        "load": [lambda: bench_load.refresh_under_load(["refresh", "burst"], seconds=args.load_seconds,
                                                       settings=settings)],
    }
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    return [(name, step) for name in chosen for step in steps[name]]


def render(sections: list[Section], command: str, minutes: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [BEGIN, f"## One run of `{command}` ({datetime.now(UTC):%Y-%m-%d}, {machine}, {minutes:.0f} min)", ""]
    lines += [section.markdown() for section in sections]
    lines += ["### Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {g.text} | {g.measured} | {'met' if g.met else '**NOT met**'} |" for s in sections for g in s.goals]
    return "\n".join(lines + ["", END])


def record(text: str) -> None:
    current = DOC.read_text("utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current)
    else:  # the newest run goes first, under the title; older sections keep their own dates
        title, _, rest = current.partition("\n")
        updated = f"{title}\n\n{text}\n{rest}"
    DOC.write_text(updated, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated sections to run (default all: {', '.join(SECTIONS)})")
    parser.add_argument("--sizes", default="10,50,200", help="portfolio sizes for e2e (default 10,50,200)")
    parser.add_argument("--repeat", type=int, default=3, help="refreshes per e2e/threads point, median (default 3)")
    parser.add_argument("--messages", type=int, default=2000, help="repos for the overhead section (default 2000)")
    parser.add_argument("--load-seconds", type=int, default=60, help="Locust seconds per mix (default 60)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every process of the e2e, threads and load sections' stacks "
                             "(A/B runs; repeatable)")
    parser.add_argument("--record", action="store_true", help="write the run into docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.only and (unknown := set(args.only.split(",")) - set(SECTIONS)):
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(BROKER)).close()
    except Exception as exc:
        print(f"RabbitMQ is not reachable at 127.0.0.1:5672: {type(exc).__name__}", file=sys.stderr)
        return 3
    from loadtest.stack import interrupted_by_signals

    started = time.monotonic()
    sections, name = [], "start"
    try:
        with interrupted_by_signals():  # every section's finally then stops its processes and queues
            for name, step in plan(args):
                print(f"\n[{name}] running", flush=True)
                sections.append(step())
    except KeyboardInterrupt as stop:
        print(f"bench: interrupted ({stop}) during [{name}]; its processes and queues are removed, nothing was "
              "recorded", file=sys.stderr)
        return 130
    command = "python -m loadtest.bench" + (f" --only {args.only}" if args.only else "")
    text = render(sections, command, (time.monotonic() - started) / 60)
    print("\n" + text)
    if args.record:
        record(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
