"""The load-test driver: a short real run (the whole stack, Locust), and its pass/fail rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.run import summarise, threshold_failures

ROOT = Path(__file__).resolve().parents[2]
HEADER = ",".join([
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
    "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s", "50%", "66%",
    "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
])
STATS = HEADER + """
GET,GET /bundles/[user] (queue),100,0,5,6,1,40,1000,10.0,0,5,6,7,8,9,12,20,30,40,40,40
POST,POST force 202 (legacy),50,1,60,70,30,300,200,5.0,0.1,60,70,80,90,100,150,200,250,300,300,300
,Aggregated,150,1,8,27,1,300,733,15.0,0.1,8,9,10,12,60,100,150,200,300,300,300
"""


def test_summary_splits_per_path_and_judges_thresholds(tmp_path: Path) -> None:
    stats = tmp_path / "locust_stats.csv"
    stats.write_text(STATS)
    summary = summarise(stats, 60)
    assert summary["aggregated"]["requests"] == 150 and round(summary["error_rate"], 4) == round(1 / 150, 4)
    assert summary["paths"]["queue"] == {"requests": 100, "failures": 0, "p95_ms_max": 12.0, "rps": 10.0}
    assert summary["paths"]["legacy"]["failures"] == 1
    assert threshold_failures(summary, 0.01, 1000) == []
    assert threshold_failures(summary, 0.001, 1000) == ["error rate 0.6667% > 0.1000%"]
    assert threshold_failures(summary, 0.01, 50) == ["p95 100 ms > 50 ms"]
    empty = {"aggregated": {"requests": 0, "p95_ms": 0}, "error_rate": 1.0}
    assert "no requests were made" in threshold_failures(empty, 1, 1e9)


@pytest.mark.integration
def test_a_short_real_run_writes_every_report(rabbitmq_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "loadtest.run", "--users", "5", "--spawn-rate", "5",
                             "--duration", "8", "--portfolio-users", "4", "--repos", "3", "--github-latency", "0.01",
                             "--broker-url", rabbitmq_url, "--out", str(out), "--max-p95-ms", "5000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["aggregated"]["requests"] > 0 and summary["error_rate"] == 0
    assert set(summary["paths"]) <= {"queue", "legacy", "other"} and summary["endpoints"]
    for name in ("locust_stats.csv", "locust_stats_history.csv", "report.html", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    assert "Aggregated" in result.stdout


def test_step_shape_ramps_10_50_100_then_stops() -> None:
    # importing locust monkey-patches the process with gevent: check the shape in a child process
    script = (
        "from loadtest.shapes import StepRamp\n"
        "shape = StepRamp(); shape.step_seconds = 10\n"
        "ticks = []\n"
        "for elapsed in (0, 9.9, 10, 25, 29.9, 30):\n"
        "    shape.get_run_time = lambda elapsed=elapsed: elapsed\n"
        "    ticks.append(shape.tick())\n"
        "print(ticks)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-1000:]
    expected = "[(10, 20.0), (10, 20.0), (50, 20.0), (100, 20.0), (100, 20.0), None]"
    assert result.stdout.strip().splitlines()[-1] == expected
