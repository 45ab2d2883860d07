"""Small inline SVG charts for the status page: no library, no script, no network.

Each function returns one `<svg>` element as text, every label escaped; colours come from the
page's CSS classes (`s0`, `s1`, ...), so a chart looks the same wherever the page is opened.
Numbers are drawn, never computed here: the caller passes what the page's tables show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 180
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 34


@dataclass(frozen=True)
class Series:
    """One line or one set of bars: its name (the legend) and one value per x."""

    name: str
    values: Sequence[float | None]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _nice_top(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value` (1 for nothing; the
    figures drawn are counts and hours to two places, so 0.01 is the finest)."""
    if value <= 0:
        return 1.0
    value = max(value, 0.01)
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


def _frame(title: str, top: float, unit: str, x_labels: Sequence[tuple[float, str]],
           body: list[str], legend: Sequence[str], *, centred: bool = False) -> str:
    """The svg element: y axis from 0 to `top`, x labels at given x positions (0..1), those
    at the edges kept inside the chart unless `centred` (under bars)."""
    inner_w, inner_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{_e(title)}</title>"]
    for fraction in (0, 0.5, 1):
        y = _TOP + inner_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{_e(_number(top * fraction))}</text>")
    if unit:
        parts.append(f'<text class="axis" x="4" y="{_TOP - 2}">{_e(unit)}</text>')
    for x, label in x_labels:
        anchor = "middle" if centred else "start" if x < 0.1 else "end" if x > 0.9 \
            else "middle"
        parts.append(f'<text class="axis" x="{_LEFT + inner_w * x:.1f}" y="{HEIGHT - 18}" '
                     f'text-anchor="{anchor}">{_e(label)}</text>')
    parts.extend(body)
    x = _LEFT
    for index, name in enumerate(legend):
        parts.append(f'<rect class="s{index}" x="{x}" y="{HEIGHT - 11}" width="10" '
                     f'height="10"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{HEIGHT - 2}">{_e(name)}</text>')
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def step_chart(title: str, xs: Sequence[float], series: Sequence[Series],
               x_labels: Sequence[tuple[float, str]], unit: str = "") -> str:
    """Lines over time, each value held until the next x (a count changes in steps). `xs`
    are positions from 0 to 1; a None value breaks the line."""
    inner_w, inner_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    top = _nice_top(max((v for s in series for v in s.values if v is not None), default=0))
    body = []
    for index, line in enumerate(series):
        runs: list[list[str]] = [[]]
        previous_y: float | None = None
        for x, value in zip(xs, line.values, strict=True):
            if value is None:
                runs.append([])
                previous_y = None
                continue
            px, py = _LEFT + inner_w * x, _TOP + inner_h * (1 - value / top)
            if previous_y is not None:
                runs[-1].append(f"{px:.1f},{previous_y:.1f}")
            runs[-1].append(f"{px:.1f},{py:.1f}")
            previous_y = py
        for points in runs:
            if points:
                body.append(f'<polyline class="line s{index}" points="{" ".join(points)}">'
                            f"<title>{_e(line.name)}</title></polyline>")
    return _frame(title, top, unit, x_labels, body, [s.name for s in series])


def bar_chart(title: str, groups: Sequence[str], series: Sequence[Series],
              unit: str = "") -> str:
    """Grouped vertical bars: one group per label (a day), one bar per series in it, each
    with a tooltip of its exact value."""
    inner_w, inner_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    top = _nice_top(max((v for s in series for v in s.values if v is not None), default=0))
    slot = inner_w / max(len(groups), 1)
    bar = max(min(slot * 0.8 / max(len(series), 1), 24.0), 1.0)
    body = []
    for g, group in enumerate(groups):
        for index, line in enumerate(series):
            value = line.values[g] or 0
            height = inner_h * value / top
            x = _LEFT + slot * g + (slot - bar * len(series)) / 2 + bar * index
            body.append(f'<rect class="s{index}" x="{x:.1f}" y="{_TOP + inner_h - height:.1f}" '
                        f'width="{bar:.1f}" height="{height:.1f}"><title>{_e(group)}: '
                        f"{_e(line.name)} {_e(_number(value))}</title></rect>")
    every = -(-len(groups) // 7)  # at most seven labels under the bars, never overlapping
    labels = [((slot * g + slot / 2) / inner_w, group) for g, group in enumerate(groups)
              if g % every == 0]
    return _frame(title, top, unit, labels, body, [s.name for s in series], centred=True)


def hbar_chart(title: str, rows: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars, one per labelled value, the value written at the bar's end."""
    row_h, label_w = 22, 240
    height = max(len(rows), 1) * row_h + 8
    top = max((v for _, v in rows), default=0) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{_e(title)}</title>"]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * row_h
        width = (WIDTH - label_w - 60) * value / top
        shown = label if len(label) <= 36 else label[:35] + "…"
        parts.append(f'<text class="axis" x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                     f"{_e(shown)}</text>")
        parts.append(f'<rect class="s1" x="{label_w}" y="{y + 3}" width="{width:.1f}" '
                     f'height="{row_h - 6}"><title>{_e(label)}: {_e(_number(value))}</title>'
                     "</rect>")
        parts.append(f'<text class="axis" x="{label_w + width + 4:.1f}" y="{y + 15}">'
                     f"{_e(_number(value))}</text>")
    parts.append("</svg>")
    return "".join(parts)
