"""The soak's memory summary: every figure a process wrote, first and last, and its slope after warm-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from loadtest.mappings import CLASSES
from loadtest.soak import RssSampler, allocation_growth, mapping_growth, worker_names


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_heap_figures_get_first_last_and_a_slope_and_traced_runs_keep_their_top_lines(tmp_path: Path) -> None:
    write_rows(tmp_path / "worker-1.jsonl", [
        {"seconds": s, "rss_mb": 80 + s / 360, "heap_in_use_mb": 20.0, "heap_free_mb": 5 + s / 3600}
        for s in (60, 600, 1200, 1800, 2400, 3000, 3600)])
    write_rows(tmp_path / "router-2.jsonl", [
        {"seconds": s, "rss_mb": 60.0, "traced_mb": 9.0, "top": [{"where": "x.py:1", "delta_kb": 1}]}
        for s in (60, 3600)])
    growth = allocation_growth(tmp_path, warmup=120)
    worker = growth["worker-1"]
    assert worker["rss_mb"] == [80 + 60 / 360, 90.0] and worker["rss_mb_slope_per_hour"] == 10.0
    assert worker["heap_in_use_mb_slope_per_hour"] == 0.0 and worker["heap_free_mb_slope_per_hour"] == 1.0
    assert "traced_mb" not in worker and "top" not in worker
    assert growth["router-2"]["traced_mb"] == [9.0, 9.0] and growth["router-2"]["top"][0]["where"] == "x.py:1"


def test_worker_processes_are_named_after_their_roles() -> None:
    assert worker_names(None) == ["worker"]
    assert worker_names([("sync",), ("merge",)]) == ["worker-sync", "worker-merge"]


def test_mapping_classes_are_summed_over_a_process_family_and_get_a_slope() -> None:
    def row(seconds: float, pid: int, stacks_kb: float) -> dict[str, object]:
        return {"seconds": seconds, "process": "worker", "pid": pid, **dict.fromkeys(CLASSES, 0),
                "thread_stacks": stacks_kb, "heap": 2048}
    rows = [row(s, pid, 1024 + s / 3.6) for s in (0, 600, 1200, 1800, 3600) for pid in (10, 11)]
    growth = mapping_growth(rows, warmup=0)["worker"]
    stacks = growth["thread_stacks"]
    assert stacks["first_mb"] == 2.0 and stacks["last_mb"] == round(2 * (1 + 1000 / 1024), 1)
    assert growth["thread_stacks"]["slope_mb_per_hour_after_warmup"] == round(2 * 1000 / 1024, 1)
    assert growth["heap"] == {"first_mb": 4.0, "last_mb": 4.0, "slope_mb_per_hour_after_warmup": 0.0}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/smaps is Linux's")
def test_the_sampler_splits_each_member_of_a_process_family_by_mapping() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        def family() -> set[int]:  # servers other tests started are children of this process too
            return {os.getpid(), *(process.pid for process in psutil.Process().children(recursive=True))}

        sampler = RssSampler({"tests": os.getpid()}, every=1, mappings=True)
        before = family()
        sampler.sample()
        around = before | family()  # a member that came or went during the sample is one of either
    finally:
        child.kill()
        child.wait()
    pids = {row["pid"] for row in sampler.mapping_rows}
    assert {os.getpid(), child.pid} <= pids <= around
    assert all(set(CLASSES) <= set(row) and row["process"] == "tests" for row in sampler.mapping_rows)
    assert sum(row["files"] for row in sampler.mapping_rows) > 0
