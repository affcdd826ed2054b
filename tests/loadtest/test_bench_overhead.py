"""The status-poll section of the overhead benchmark runs and reports each job size."""

from __future__ import annotations

from loadtest.bench_overhead import status_poll_cost


def test_the_status_poll_section_reports_every_size_in_milliseconds() -> None:
    section = status_poll_cost(sizes=(3, 7), polls=2)
    assert [row[0] for row in section.rows] == ["3", "7"]
    for row in section.rows:
        document, listing = float(row[1]), float(row[2])
        assert document > 0 and listing > 0 and row[3].startswith("x")
