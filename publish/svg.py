"""Small inline SVG charts for the report: no library, no script, nothing fetched (the page must open offline).

Each function returns one ``<svg>`` element as a string. Every label is escaped; every number is formatted
here. Colours are fixed per series so that a reader (and a screenshot test) can tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 880
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 44, 56
TITLE_Y, LEGEND_Y = 16, 34
AXIS_COLOUR = "#555555"
GRID_COLOUR = "#e3e3e3"
TEXT_STYLE = 'font-family="sans-serif" font-size="11" fill="#333333"'
Y_TICKS = 5
MAX_X_LABELS = 12
EMPTY_HEIGHT = 44


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]  # one per x position; None: no value there


def nice_step(maximum: float, ticks: int = Y_TICKS) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) so that ``ticks`` steps reach ``maximum``."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def format_number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def _frame(height: int, title: str, body: list[str], chart_id: str) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{MARGIN_LEFT}" y="{TITLE_Y}" font-family="sans-serif" font-size="13" font-weight="bold" '
        f'fill="#222222">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _y_axis(top: float, bottom: float, maximum: float, unit: str = "") -> tuple[list[str], float]:
    """Grid lines and labels of a y axis from 0; returns them and the axis' top value."""
    step = nice_step(maximum)
    ceiling = step * max(1, math.ceil(maximum / step))
    parts = []
    value = 0.0
    while value <= ceiling + step / 2:
        y = bottom - (bottom - top) * value / ceiling
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {TEXT_STYLE}>'
            f"{format_number(value)}{escape(unit)}</text>"
        )
        value += step
    return parts, ceiling


def _x_labels(labels: Sequence[str], xs: Sequence[float], baseline: float) -> list[str]:
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    parts = []
    for index, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if index % every and index != len(labels) - 1:
            continue
        parts.append(
            f'<text x="{x:.1f}" y="{baseline + 14:.1f}" text-anchor="end" transform="rotate(-30 {x:.1f} '
            f'{baseline + 14:.1f})" {TEXT_STYLE}>{escape(label)}</text>'
        )
    return parts


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], float(MARGIN_LEFT)
    for s in series:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{s.colour}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" {TEXT_STYLE}>{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name) + 6 * sum(1 for c in s.name if ord(c) > 0x2E80)
    return parts


def empty_chart(title: str, message: str, chart_id: str) -> str:
    body = [f'<text x="{MARGIN_LEFT}" y="{LEGEND_Y}" {TEXT_STYLE}>{escape(message)}</text>']
    return _frame(EMPTY_HEIGHT, title, body, chart_id)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, chart_id: str, height: int = 260
) -> str:
    """Lines with a dot at each value, x positions evenly spaced (one per label)."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return empty_chart(title, "no data", chart_id)
    top, bottom = MARGIN_TOP + 12, height - MARGIN_BOTTOM
    grid, ceiling = _y_axis(top, bottom, max(values))
    xs = _positions(len(labels))
    body = [*grid, *_x_labels(labels, xs, bottom), *_legend(series, LEGEND_Y)]
    for s in series:
        points = [
            (x, bottom - (bottom - top) * v / ceiling)
            for x, v in zip(xs, s.values, strict=True)
            if v is not None
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(
            f'<polyline class="series" points="{path}" fill="none" stroke="{s.colour}" stroke-width="2"/>'
        )
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.colour}"/>' for x, y in points]
    return _frame(height, title, body, chart_id)


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    height: int = 260,
    all_zero: str = "no data",
) -> str:
    """One bar per label, the series stacked in order; ``all_zero`` is said instead when every value is 0."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not labels:
        return empty_chart(title, "no data", chart_id)
    if not any(totals):
        return empty_chart(title, all_zero, chart_id)
    top, bottom = MARGIN_TOP + 12, height - MARGIN_BOTTOM
    grid, ceiling = _y_axis(top, bottom, max(totals))
    xs = _positions(len(labels))
    width = max(1.0, (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / len(labels) * 0.8)
    body = [*grid, *_x_labels(labels, xs, bottom), *_legend(series, LEGEND_Y)]
    for index, x in enumerate(xs):
        base = float(bottom)
        for s in series:
            value = s.values[index] or 0
            if not value:
                continue
            h = (bottom - top) * value / ceiling
            body.append(
                f'<rect x="{x - width / 2:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{s.colour}"><title>{escape(labels[index])} {escape(s.name)}: {format_number(value)}'
                "</title></rect>"
            )
            base -= h
    return _frame(height, title, body, chart_id)


def status_strip(
    title: str, labels: Sequence[str], statuses: Sequence[str], colours: dict[str, str], *, chart_id: str
) -> str:
    """A row of coloured squares, one per label (a run's health), with a legend of the statuses present."""
    if not labels:
        return empty_chart(title, "no data", chart_id)
    height = 80
    xs = _positions(len(labels))
    size = max(3.0, min(18.0, (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / len(labels) * 0.8))
    present = [Series(status, colours.get(status, "#999999"), ()) for status in dict.fromkeys(statuses)]
    body = _legend(present, LEGEND_Y)
    body += [
        f'<rect x="{x - size / 2:.1f}" y="46" width="{size:.1f}" height="{size:.1f}" '
        f'fill="{colours.get(status, "#999999")}"><title>{escape(label)}: {escape(status)}</title></rect>'
        for x, label, status in zip(xs, labels, statuses, strict=True)
    ]
    return _frame(height, title, body, chart_id)


def heatmap(
    title: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    chart_id: str,
) -> str:
    """Rows x columns of cells shaded by a value in [0, 1] (white to dark blue; a blank cell has no value).

    Used for field coverage per run: a parser going wrong shows as a pale cell in a dark row.
    """  # fmt: skip
    if not row_labels or not column_labels:
        return empty_chart(title, "no data", chart_id)
    label_width, cell_height, top = 130, 16, 90
    cell_width = (WIDTH - label_width - MARGIN_RIGHT) / len(column_labels)
    height = top + cell_height * len(row_labels) + 10
    body = []
    every = max(1, math.ceil(len(column_labels) / MAX_X_LABELS))
    for j, label in enumerate(column_labels):
        if j % every and j != len(column_labels) - 1:
            continue
        x = label_width + cell_width * (j + 0.5)
        body.append(
            f'<text x="{x:.1f}" y="{top - 6}" transform="rotate(-30 {x:.1f} {top - 6})" {TEXT_STYLE}>'
            f"{escape(label)}</text>"
        )
    for i, row in enumerate(row_labels):
        y = top + cell_height * i
        body.append(
            f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" {TEXT_STYLE}>{escape(row)}</text>'
        )
        for j, value in enumerate(values[i]):
            if value is None:
                continue
            body.append(
                f'<rect x="{label_width + cell_width * j:.1f}" y="{y}" width="{max(cell_width - 1, 1):.1f}" '
                f'height="{cell_height - 1}" fill="{shade(value)}"><title>{escape(row)}, '
                f"{escape(column_labels[j])}: {value:.0%}</title></rect>"
            )
    return _frame(height, title, body, chart_id)


def shade(value: float) -> str:
    """White (0) to dark blue (1)."""
    value = min(1.0, max(0.0, value))
    low, high = (255, 255, 255), (8, 48, 107)
    r, g, b = (round(a + (z - a) * value) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _positions(count: int) -> list[float]:
    span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    return [MARGIN_LEFT + span * (i + 0.5) / count for i in range(count)]
