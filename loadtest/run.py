"""One-command load test: the whole stack on loopback, Locust headless, a report.

Starts a GitHub API double (the test server, with a fixed latency per call) serving generated
portfolios, the legacy orchestrator, queue workers over RabbitMQ and the router, each as its own
process; warms every portfolio on both paths; runs Locust (``loadtest/locustfile.py``) headless;
and writes into ``--out``: Locust's CSV files and HTML report, ``summary.json`` (per endpoint and
per path: requests, failures, p50/p95/p99, req/s) and ``latency.png`` (percentiles and throughput
over time). Exits 1 when the error rate or the aggregated p95 exceed ``--max-error-rate`` /
``--max-p95-ms``, 3 when RabbitMQ is not reachable. Every loop is bounded and every address is
127.0.0.1.

Run from the repository root:

    python -m loadtest.run --users 100 --duration 120 --out out/loadtest
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.waiting import WaitTimeout
from loadtest.stack import running_stack, warm

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="concurrent Locust users (default 100)")
    parser.add_argument("--spawn-rate", type=float, default=20, help="users started per second (default 20)")
    parser.add_argument("--duration", type=int, default=120, help="seconds of load (default 120)")
    parser.add_argument("--shape", choices=["fixed", "step"], default="fixed",
                        help="fixed user count, or the 10 -> 50 -> 100 step ramp (duration split in three)")
    parser.add_argument("--portfolio-users", type=int, default=20, help="GitHub users served (default 20)")
    parser.add_argument("--repos", type=int, default=10, help="repos per portfolio (default 10)")
    parser.add_argument("--github-latency", type=float, default=0.1, help="seconds per GitHub call (default 0.1)")
    parser.add_argument("--queue-pct", type=float, default=50, help="QUEUE_TRAFFIC_PCT (default 50)")
    parser.add_argument("--shadow", action="store_true", help="turn shadow mirroring on")
    parser.add_argument("--worker-processes", type=int, default=1, help="cloudfolio worker processes (default 1)")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--out", default="out/loadtest", help="folder for the reports (default out/loadtest)")
    parser.add_argument("--max-error-rate", type=float, default=0.001, help="fail above this (default 0.001)")
    parser.add_argument("--max-p95-ms", type=float, default=2000, help="fail above this aggregated p95 (default 2000)")
    return parser


def _num(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def summarise(stats_csv: Path, duration: float) -> dict[str, Any]:
    rows = list(csv.DictReader(stats_csv.open()))
    endpoints, paths = [], {}
    aggregated = None
    for row in rows:
        entry = {"name": row["Name"], "method": row["Type"], "requests": int(_num(row["Request Count"])),
                 "failures": int(_num(row["Failure Count"])), "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"]),
                 "p99_ms": _num(row["99%"]), "rps": round(_num(row["Requests/s"]), 2)}
        if row["Name"] == "Aggregated":
            aggregated = entry
            continue
        endpoints.append(entry)
        path = "queue" if "(queue)" in row["Name"] else "legacy" if "(legacy)" in row["Name"] else "other"
        bucket = paths.setdefault(path, {"requests": 0, "failures": 0, "p95_ms_max": 0.0, "rps": 0.0})
        bucket["requests"] += entry["requests"]
        bucket["failures"] += entry["failures"]
        bucket["rps"] = round(bucket["rps"] + entry["rps"], 2)
        bucket["p95_ms_max"] = max(bucket["p95_ms_max"], entry["p95_ms"])
    aggregated = aggregated or {"requests": 0, "failures": 0, "p50_ms": 0, "p95_ms": 0, "p99_ms": 0, "rps": 0}
    error_rate = aggregated["failures"] / aggregated["requests"] if aggregated["requests"] else 1.0
    return {"duration_seconds": duration, "aggregated": aggregated, "error_rate": error_rate,
            "endpoints": endpoints, "paths": paths}


def threshold_failures(summary: dict[str, Any], max_error_rate: float, max_p95_ms: float) -> list[str]:
    """Why the run fails its thresholds (empty when it passes). No requests at all is a failure."""
    failed = []
    if summary["aggregated"]["requests"] == 0:
        failed.append("no requests were made")
    if summary["error_rate"] > max_error_rate:
        failed.append(f"error rate {summary['error_rate']:.4%} > {max_error_rate:.4%}")
    if summary["aggregated"]["p95_ms"] > max_p95_ms:
        failed.append(f"p95 {summary['aggregated']['p95_ms']:.0f} ms > {max_p95_ms:.0f} ms")
    return failed


def plot(history_csv: Path, target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(history_csv.open()) if r.get("Name") == "Aggregated"]
    if not rows:
        return
    start = _num(rows[0]["Timestamp"])
    times = [_num(r["Timestamp"]) - start for r in rows]
    figure, (latency, throughput) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for column, label in (("50%", "p50"), ("95%", "p95"), ("99%", "p99")):
        latency.plot(times, [_num(r[column]) for r in rows], label=label)
    latency.set_ylabel("latency (ms)")
    latency.legend()
    latency.set_title("CloudFolio router under load")
    throughput.plot(times, [_num(r["Requests/s"]) for r in rows], color="tab:green", label="req/s")
    throughput.plot(times, [_num(r["User Count"]) for r in rows], color="tab:gray", linestyle="--", label="users")
    throughput.set_xlabel("seconds")
    throughput.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def _run_locust(args: argparse.Namespace, host: str, usernames: list[str], out: Path) -> bool:
    files = "loadtest/locustfile.py" + (",loadtest/shapes.py" if args.shape == "step" else "")
    command = [sys.executable, "-m", "locust", "-f", files, "--headless", "--host", host, "--csv",
               str(out / "locust"), "--csv-full-history", "--html", str(out / "report.html"), "--only-summary",
               "--exit-code-on-error", "0", "--stop-timeout", "10", "-t", f"{args.duration}s"]
    if args.shape == "fixed":
        command += ["-u", str(args.users), "-r", f"{args.spawn_rate:g}"]
    locust_env = {**os.environ, "CLOUDFOLIO_LOADTEST_USERS": ",".join(usernames),
                  "CLOUDFOLIO_LOADTEST_STEP_SECONDS": str(max(1, args.duration // 3))}
    print(f"running Locust: {args.users if args.shape == 'fixed' else 'step 10->50->100'} users for "
          f"{args.duration}s", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=locust_env, capture_output=True, text=True,
                            timeout=args.duration + 120)
    (out / "locust.log").write_text(result.stdout + result.stderr)
    if result.returncode not in (0, 1) or not (out / "locust_stats.csv").exists():
        print(result.stderr[-3000:], file=sys.stderr)
        return False
    return True


def _report(args: argparse.Namespace, out: Path) -> int:
    summary = summarise(out / "locust_stats.csv", args.duration)
    summary["settings"] = {k: v for k, v in vars(args).items() if k != "broker_url"}
    summary["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot(out / "locust_stats_history.csv", out / "latency.png")
    agg = summary["aggregated"]
    print(f"{'endpoint':<58} {'reqs':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'req/s':>7}")
    for entry in summary["endpoints"] + [dict(agg, name="Aggregated")]:
        print(f"{entry['name'][:58]:<58} {entry['requests']:>7} {entry['failures']:>5} {entry['p50_ms']:>6.0f} "
              f"{entry['p95_ms']:>6.0f} {entry['p99_ms']:>6.0f} {entry['rps']:>7.1f}")
    print(f"error rate {summary['error_rate']:.4%}; reports in {out}")
    failed = threshold_failures(summary, args.max_error_rate, args.max_p95_ms)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(args.broker_url)).close()
    except Exception as exc:
        print(f"RabbitMQ is not reachable at {args.broker_url}: {exc!r}", file=sys.stderr)
        return 3
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    github = FakeGitHub()
    prefix = f"lt{uuid.uuid4().hex[:6]}"
    usernames = [f"{prefix}-{i}" for i in range(args.portfolio_users)]
    for username in usernames:
        github.add_generated_user(username, args.repos)
    extra = {"QUEUE_TRAFFIC_PCT": f"{args.queue_pct:g}", "ENABLE_QUEUE_SHADOW": "true" if args.shadow else "false",
             "CLOUDFOLIO_LEGACY_RETRY_AFTER": "2", "CLOUDFOLIO_GITHUB_MAX_RETRIES": "2"}
    try:
        with running_stack(broker_url=args.broker_url, github_latency=args.github_latency,
                           worker_processes=args.worker_processes, github=github, extra=extra) as stack:
            print(f"stack up: router {stack.router}, {len(usernames)} portfolios x {args.repos} repos, GitHub latency "
                  f"{args.github_latency * 1000:.0f} ms; warming bundles", flush=True)
            try:
                warm(stack.router, usernames)
            except WaitTimeout as exc:
                print(str(exc), file=sys.stderr)
                return 1
            if not _run_locust(args, stack.router, usernames, out):
                return 1
    except KeyboardInterrupt as stop:
        print(f"load test: interrupted ({stop}); every process it started is stopped", file=sys.stderr)
        return 130
    return _report(args, out)


if __name__ == "__main__":
    sys.exit(main())
