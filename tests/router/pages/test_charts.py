"""The SVG line charts: a line per path, broken where there is no value, every label escaped."""

from __future__ import annotations

import re

from router.pages.charts import line_chart


def test_a_line_per_path_broken_where_an_interval_has_no_value() -> None:
    svg = line_chart("Error rate", {"queue": [(100, 0.1), (200, 0.2), (300, None), (400, 0.4), (500, 0.5)],
                                    "legacy": [(300, 0.0)]}, now=500, span=400, shown=lambda v: f"{v:.1f}")
    queue = re.search(r'<g class="line-queue" data-path="queue" data-points="4">(.*?)</g>', svg)
    assert queue is not None and queue.group(1).count("<polyline") == 2, "the gap splits the line in two"
    assert '<g class="line-legacy" data-path="legacy" data-points="1"><circle' in svg, "a lone value is a dot"
    assert "latest queue 0.5, legacy 0.0" in svg and "max 0.5" in svg
    first = re.search(r'points="([\d.]+),([\d.]+)', svg)
    assert first is not None and float(first.group(1)) == 4.0, "the oldest point of the span is at the left edge"


def test_no_values_say_so_and_labels_are_escaped() -> None:
    svg = line_chart("<b>p95</b>", {"queue": [(1, None)], "legacy": []}, now=10, span=10, shown=str)
    assert "no requests yet" in svg and "max –" in svg
    assert "<b>" not in svg and "&lt;b&gt;p95&lt;/b&gt;" in svg
