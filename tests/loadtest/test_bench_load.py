"""The refresh benchmark's reading of the router's own histogram and its percentiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.bench_common import ms, quantile
from loadtest.bench_load import percentiles, server_p99_bound

INF = float("inf")


def test_the_bound_holds_99_percent_of_the_refreshes_between_two_readings() -> None:
    before = {0.005: 100.0, 0.01: 100.0, 0.025: 100.0, 0.1: 100.0, INF: 100.0}
    # 1,000 more refreshes: 980 within 5 ms, 15 within 25 ms, 5 slower than 100 ms
    after = {0.005: 1080.0, 0.01: 1085.0, 0.025: 1095.0, 0.1: 1095.0, INF: 1100.0}
    assert server_p99_bound(before, after) == "<= 25"
    after_slow = {**after, 0.025: 1085.0, 0.1: 1090.0}  # 15 above 25 ms: over 1 %
    assert server_p99_bound(before, after_slow) == "<= 100"
    after_slowest = {**after, 0.025: 1085.0, 0.1: 1085.0}  # 15 slower than the largest bound
    assert server_p99_bound(before, after_slowest) == "> 100"
    assert server_p99_bound(after, after) == "-"


def test_steady_percentiles_leave_out_the_first_seconds(tmp_path: Path) -> None:
    timings = tmp_path / "timings.txt"
    first = 1_000.0
    # the first second: every user's first refresh at once, slow; afterwards 100 refreshes of 1..100 ms
    lines = [f"{first + i / 100:.3f} 500.00" for i in range(50)]
    lines += [f"{first + 10 + i / 10:.3f} {i + 1:.2f}" for i in range(100)]
    timings.write_text("\n".join(lines) + "\n")
    assert percentiles(timings) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert percentiles(timings, skip_seconds=0)["p99"] == 500.0
    empty = tmp_path / "empty.txt"
    empty.touch()
    assert percentiles(empty) == {}


def test_one_nearest_rank_rule_for_every_benchmark() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [quantile(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert quantile([3.0, 1.0, 2.0], 0.0) == 1.0 and quantile([7.0], 0.99) == 7.0
    assert ms([0.001 * v for v in range(1, 21)], 0.95) == pytest.approx(19.0)
