"""Small line charts as plain SVG, rendered on the server (no script, no charting library, no CDN).

:func:`line_chart` draws one line per serving path over a fixed time span ending now; an interval
without a value (no requests) breaks the line rather than drawing a zero. Each path's group carries
``data-path`` and ``data-points`` (its number of values), and the chart a text summary (the latest
value per path) for screen readers and tests. Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT, PAD = 320, 110, 4
#: The lines' classes (coloured by pages.css) per path, in legend order.
LINES = {"queue": "line-queue", "legacy": "line-legacy"}


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    segments: list[list[tuple[float, float]]] = [[]]
    for at, value in points:
        if value is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((at, value))
    return [segment for segment in segments if segment]


def line_chart(title: str, series: dict[str, Sequence[tuple[float, float | None]]], *, now: float, span: float,
               shown: Callable[[float], str]) -> str:
    """An SVG figure: ``series`` is ``{path: [(unix time, value or None), ...]}``; ``shown`` formats a value."""
    values = [value for points in series.values() for _at, value in points if value is not None]
    top = max(values, default=0.0) or 1.0
    start = now - span

    def x(at: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * min(max((at - start) / span, 0.0), 1.0)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    groups, latest = [], []
    for path, css in LINES.items():
        points = series.get(path, [])
        known = [(at, value) for at, value in points if value is not None]
        lines = []
        for segment in _segments(points):
            if len(segment) == 1:  # a single value: a dot, so it is not lost
                at, value = segment[0]
                lines.append(f'<circle cx="{x(at):.1f}" cy="{y(value):.1f}" r="2"/>')
            else:
                coordinates = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in segment)
                lines.append(f'<polyline points="{coordinates}"/>')
        groups.append(f'<g class="{css}" data-path="{path}" data-points="{len(known)}">{"".join(lines)}</g>')
        latest.append(f"{path} {shown(known[-1][1]) if known else '–'}")
    summary = escape(f"{title}: latest {', '.join(latest)}")
    empty = "" if values else (f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="empty">'
                               "no requests yet</text>")
    peak = escape(shown(max(values)) if values else "–")
    return (f'<figure class="chart"><figcaption>{escape(title)} <span class="peak">max {peak}</span>'
            f'</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{summary}">'
            f'<title>{summary}</title><rect class="frame" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>'
            f'{"".join(groups)}{empty}</svg><p class="axis"><span>{span / 60:g} min ago</span><span>now</span></p>'
            f'<p class="summary">{summary}</p></figure>')
