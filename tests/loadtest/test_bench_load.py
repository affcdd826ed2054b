"""The refresh benchmark's reading of the router's own histogram."""

from __future__ import annotations

from loadtest.bench_load import server_p99_bound

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
