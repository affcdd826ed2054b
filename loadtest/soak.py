"""Soak test: the whole stack under steady load for a long time, with the memory of every process.

Starts the stack (GitHub double, legacy, queue workers over RabbitMQ, router; ``loadtest.stack``),
warms every portfolio, runs Locust's front-end mix (``loadtest/locustfile.py``) for ``--duration``
seconds, and samples the resident memory (RSS) of every stack process every ``--sample-every``
seconds. Writes into ``--out``: ``rss.csv``, ``rss.png`` (RSS over time per process),
``summary.json`` (requests, error rate, latency, and per process the RSS at start and end and the
slope of a least-squares line through the samples after the warm-up, in MB per hour). With
``--tracemalloc SECONDS`` each process also traces its Python allocations (``cloudfolio.memory``) and
the summary names the source lines that grew most, to tell a cache filling from a leak. With
``--heap-stats SECONDS`` each process writes its RSS and its C heap's in-use and free bytes instead
(no tracing cost; ``services.core.heap_usage``): a leak raises in-use, fragmentation raises free, and
neither rising under a rising RSS points at pymalloc's arenas. With ``--mappings`` each RSS sample also
splits every process's resident memory by kind of mapping (thread stacks, malloc arenas, heap,
files, other anonymous memory; ``loadtest.mappings``) into ``mappings.csv``, and the summary gives
each kind's first, last and slope, which pins a rising RSS to what rises. ``--record``
also writes docs/SOAK-RESULTS.md. Exits 1 when the error rate is above ``--max-error-rate``.

    python -m loadtest.soak --users 100 --duration 600 --record
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from loadtest.mappings import CLASSES, resident_by_class
from loadtest.run import ROOT, _run_locust, summarise
from loadtest.stack import running_stack, warm


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="concurrent Locust users (default 100)")
    parser.add_argument("--spawn-rate", type=float, default=20, help="users started per second (default 20)")
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--sample-every", type=float, default=10, help="seconds between RSS samples (default 10)")
    parser.add_argument("--warmup", type=float, default=120, help="seconds left out of the slope (default 120)")
    parser.add_argument("--portfolio-users", type=int, default=20, help="GitHub users served (default 20)")
    parser.add_argument("--repos", type=int, default=10, help="repos per portfolio (default 10)")
    parser.add_argument("--github-latency", type=float, default=0.05, help="seconds per GitHub call (default 0.05)")
    parser.add_argument("--queue-pct", type=float, default=50, help="QUEUE_TRAFFIC_PCT (default 50)")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--out", default="out/soak", help="folder for the reports (default out/soak)")
    parser.add_argument("--max-error-rate", type=float, default=0.0, help="fail above this (default 0)")
    parser.add_argument("--tracemalloc", type=float, default=0, metavar="SECONDS",
                        help="trace each process's Python allocations and snapshot the top growth every SECONDS "
                             "into OUT/memory (slows the stack; summary.json gets the top lines); 0: off (default)")
    parser.add_argument("--heap-stats", type=float, default=0, metavar="SECONDS",
                        help="every SECONDS each process writes its RSS and C heap (in use, free) into OUT/memory, "
                             "without tracing; summary.json gets first, last and slope; 0: off (default)")
    parser.add_argument("--mappings", action="store_true",
                        help="with each RSS sample, split every process's resident memory by kind of mapping "
                             "(/proc/PID/smaps; Linux) into OUT/mappings.csv; summary.json gets first, last, slope")
    parser.add_argument("--worker", action="append", default=[], metavar="ROLES",
                        help="one worker process consuming ROLES (comma-separated: sync, merge, all); repeatable, "
                             "to bisect memory by role (default: one worker of all)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for every stack process (A/B runs, e.g. PYTHONMALLOC=malloc; "
                             "repeatable)")
    parser.add_argument("--record", action="store_true", help="also write docs/SOAK-RESULTS.md and docs/soak/")
    return parser


def worker_names(groups: list[tuple[str, ...]] | None) -> list[str]:
    """Names of the worker processes in the reports: ``worker``, or ``worker-<roles>`` per group."""
    return ["-".join(["worker", *roles]) for roles in groups] if groups else ["worker"]


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, bytes) points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points) or 1.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600 / 2**20


class RssSampler(threading.Thread):
    """Samples the RSS of named processes (and their children) every ``every`` seconds."""

    def __init__(self, pids: dict[str, int], every: float, mappings: bool = False) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids, self.every, self.mappings = pids, every, mappings
        self.rows: list[dict[str, float]] = []
        self.mapping_rows: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        self.started_at = time.monotonic()

    def sample(self) -> None:
        row = {"seconds": round(time.monotonic() - self.started_at, 1)}
        for name, pid in self.pids.items():
            try:
                process = psutil.Process(pid)
                family = [process, *process.children(recursive=True)]
                row[name] = sum(p.memory_info().rss for p in family)
            except psutil.Error:
                row[name] = float("nan")
                continue
            if self.mappings:  # one row per member of the family, its resident kB per mapping class
                self.mapping_rows.extend({"seconds": row["seconds"], "process": name, "pid": member.pid, **totals}
                                         for member in family
                                         if (totals := resident_by_class(member.pid)) is not None)
        self.rows.append(row)

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.every)


def allocation_growth(folder: Path, warmup: float, top: int = 5) -> dict[str, Any]:
    """Per process file of ``cloudfolio.memory.AllocationWatch``: each figure it wrote (RSS, C heap in
    use and free, traced Python memory) first and last and its slope after ``warmup`` seconds, and
    the lines that grew most by the last snapshot when it traced."""
    growth: dict[str, Any] = {}
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not rows:
            continue
        grown: dict[str, Any] = {"seconds": rows[-1]["seconds"]}
        for figure in ("rss_mb", "heap_in_use_mb", "heap_free_mb", "traced_mb"):
            if figure in rows[-1]:
                points = [(r["seconds"], r[figure] * 2**20) for r in rows if r["seconds"] >= warmup and figure in r]
                grown[figure] = [rows[0].get(figure), rows[-1][figure]]
                grown[f"{figure}_slope_per_hour"] = round(slope_mb_per_hour(points), 1)
        if "top" in rows[-1]:
            grown["top"] = rows[-1]["top"][:top]
        growth[path.stem] = grown
    return growth


def mapping_growth(rows: list[dict[str, Any]], warmup: float) -> dict[str, Any]:
    """Per process (summed over its family) each mapping class's first and last MB and slope after
    ``warmup`` seconds."""
    by_time: dict[str, dict[float, dict[str, float]]] = {}
    for row in rows:
        sums = by_time.setdefault(row["process"], {}).setdefault(row["seconds"], dict.fromkeys(CLASSES, 0.0))
        for kind in CLASSES:
            sums[kind] += row[kind]
    growth: dict[str, Any] = {}
    for name, samples in by_time.items():
        times = sorted(samples)
        growth[name] = {kind: {
            "first_mb": round(samples[times[0]][kind] / 1024, 1), "last_mb": round(samples[times[-1]][kind] / 1024, 1),
            "slope_mb_per_hour_after_warmup": round(slope_mb_per_hour(
                [(t, samples[t][kind] * 1024) for t in times if t >= warmup]), 1),
        } for kind in CLASSES}
    return growth


def plot(rows: list[dict[str, float]], names: list[str], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4.5))
    for name in names:
        axis.plot([r["seconds"] for r in rows], [r[name] / 2**20 for r in rows], label=name)
    axis.set_xlabel("seconds under load")
    axis.set_ylabel("RSS (MB)")
    axis.set_title("CloudFolio soak: resident memory per process")
    axis.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def report(args: argparse.Namespace, out: Path, sampler: RssSampler, names: list[str]) -> dict[str, Any]:
    with (out / "rss.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["seconds", *names])
        writer.writeheader()
        writer.writerows(sampler.rows)
    plot(sampler.rows, names, out / "rss.png")
    summary = summarise(out / "locust_stats.csv", args.duration)
    summary["rss"] = {name: {
        "start_mb": round(sampler.rows[0][name] / 2**20, 1), "end_mb": round(sampler.rows[-1][name] / 2**20, 1),
        "max_mb": round(max(r[name] for r in sampler.rows) / 2**20, 1),
        "slope_mb_per_hour_after_warmup": round(slope_mb_per_hour(
            [(r["seconds"], r[name]) for r in sampler.rows if r["seconds"] >= args.warmup]), 1),
    } for name in names}
    if sampler.mapping_rows:
        with (out / "mappings.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["seconds", "process", "pid", *CLASSES])
            writer.writeheader()
            writer.writerows(sampler.mapping_rows)
        summary["mappings"] = mapping_growth(sampler.mapping_rows, args.warmup)
    if args.tracemalloc or args.heap_stats:
        summary["allocations"] = allocation_growth(out / "memory", args.warmup)
    summary["settings"] = {k: v for k, v in vars(args).items() if k != "broker_url"}
    summary["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    usernames = [f"soak{uuid.uuid4().hex[:4]}-{i}" for i in range(args.portfolio_users)]
    extra = {"QUEUE_TRAFFIC_PCT": f"{args.queue_pct:g}", "CLOUDFOLIO_LEGACY_RETRY_AFTER": "2",
             **dict(item.split("=", 1) for item in args.set)}
    if args.tracemalloc or args.heap_stats:
        extra |= {"CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR": str(out / "memory"),
                  "CLOUDFOLIO_MEMORY_SNAPSHOT_SECONDS": f"{args.tracemalloc or args.heap_stats:g}",
                  "CLOUDFOLIO_MEMORY_TRACE_PYTHON": "true" if args.tracemalloc else "false"}
    groups = [tuple(item.split(",")) for item in args.worker] or None
    try:
        with running_stack(broker_url=args.broker_url, github_latency=args.github_latency,
                           github_generate=dict.fromkeys(usernames, args.repos),
                           extra=extra, logs_to=out / "logs", worker_groups=groups) as stack:
            names = ["legacy", *worker_names(groups), "router"]
            pids = {name: process.process.pid for name, process in zip(names, stack.processes, strict=True)}
            warm(stack.router, usernames)
            sampler = RssSampler(pids, args.sample_every, mappings=args.mappings)
            sampler.start()
            locust_args = argparse.Namespace(shape="fixed", duration=args.duration, users=args.users,
                                             spawn_rate=args.spawn_rate)
            print(f"soak: {args.users} users for {args.duration}s; RSS every {args.sample_every:g}s", flush=True)
            ok = _run_locust(locust_args, stack.router, usernames, out)
            sampler.stopped.set()
            sampler.sample()
    except KeyboardInterrupt as stop:
        # the stack's processes and Locust are stopped by now (running_stack, subprocess.run)
        print(f"soak: interrupted ({stop}); every process it started is stopped, nothing was reported",
              file=sys.stderr)
        return 130
    if not ok:
        return 1
    summary = report(args, out, sampler, names)
    for name, rss in summary["rss"].items():
        print(f"{name:<8} RSS {rss['start_mb']:>7.1f} -> {rss['end_mb']:>7.1f} MB (max {rss['max_mb']:.1f}), "
              f"slope after warm-up {rss['slope_mb_per_hour_after_warmup']:+.1f} MB/h")
    for name, grown in summary.get("allocations", {}).items():
        figures = ", ".join(f"{figure.removesuffix('_mb')} {grown[figure][0]} -> {grown[figure][1]} MB "
                            f"({grown[figure + '_slope_per_hour']:+.1f} MB/h)"
                            for figure in ("rss_mb", "heap_in_use_mb", "heap_free_mb", "traced_mb") if figure in grown)
        lines = ", ".join(f"{t['where'].rsplit('site-packages/', 1)[-1]} {t['delta_kb']:+} KB"
                          for t in grown.get("top", [])[:3])
        print(f"{name:<16} {figures}" + (f"; top growth: {lines}" if lines else ""))
    for name, kinds in summary.get("mappings", {}).items():
        print(f"{name:<16} " + ", ".join(f"{kind} {k['first_mb']} -> {k['last_mb']} MB "
                                         f"({k['slope_mb_per_hour_after_warmup']:+.1f} MB/h)"
                                         for kind, k in kinds.items() if k["last_mb"] or k["first_mb"]))
    print(f"requests {summary['aggregated']['requests']}, error rate {summary['error_rate']:.4%}, "
          f"p95 {summary['aggregated']['p95_ms']:.0f} ms")
    if args.record:
        record(summary, out)
    return 1 if summary["error_rate"] > args.max_error_rate else 0


def record(summary: dict[str, Any], out: Path) -> None:
    target = ROOT / "docs" / "soak"
    target.mkdir(parents=True, exist_ok=True)
    (target / "rss.png").write_bytes((out / "rss.png").read_bytes())
    (target / "summary.json").write_text(json.dumps(summary, indent=2))
    settings, agg = summary["settings"], summary["aggregated"]
    lines = [
        "# Soak results", "",
        f"{datetime.now(UTC):%Y-%m-%d}, {summary['machine']}. Command: `python -m loadtest.soak --users "
        f"{settings['users']} --duration {settings['duration']} --record`: the whole stack as processes (GitHub "
        f"double at {settings['github_latency'] * 1000:.0f} ms per call, legacy, one worker process over RabbitMQ, "
        f"router), {settings['queue_pct']:g} % of users on the queue path, Locust's front-end mix.", "",
        f"Requests: {agg['requests']}, failures: {agg['failures']} (error rate {summary['error_rate']:.4%}); "
        f"p50 {agg['p50_ms']:.0f} ms, p95 {agg['p95_ms']:.0f} ms, p99 {agg['p99_ms']:.0f} ms; {agg['rps']:.1f} req/s.",
        "", "| process | RSS at start MB | at end MB | max MB | slope after warm-up MB/h |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {name} | {r['start_mb']} | {r['end_mb']} | {r['max_mb']} | {r['slope_mb_per_hour_after_warmup']:+.1f} |"
          for name, r in summary["rss"].items()],
        "", "![RSS per process](soak/rss.png)", "",
    ]
    (ROOT / "docs" / "SOAK-RESULTS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
