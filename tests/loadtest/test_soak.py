"""The soak's memory summary: every figure a process wrote, first and last, and its slope after warm-up."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.soak import allocation_growth, worker_names


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
