"""Bar charts as inline SVG drawn on the server: the report page needs no JavaScript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe & Ito, "Color Universal Design"), one colour per series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

WIDTH_PX = 720
HEIGHT_PX = 300
LEFT_PX, RIGHT_PX, TOP_PX, BOTTOM_PX = 56, 170, 36, 64  # plot margins: axis labels, legend
TICKS = 4  # horizontal grid lines above zero
MAX_BAR_PX = 64  # a lone month should not fill the chart


def stacked_bars(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    percent: bool = False,
) -> Markup:
    """One bar per category, one coloured segment per series; each segment has a tooltip."""
    plot_w = WIDTH_PX - LEFT_PX - RIGHT_PX
    plot_h = HEIGHT_PX - TOP_PX - BOTTOM_PX
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    top = _nice_ceiling(max(totals, default=0.0), percent)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {WIDTH_PX} {HEIGHT_PX}" width="{WIDTH_PX}" height="{HEIGHT_PX}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT_PX}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(TICKS + 1):
        value = top * k / TICKS
        y = TOP_PX + plot_h - plot_h * k / TICKS
        parts.append(
            f'<line x1="{LEFT_PX}" x2="{LEFT_PX + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{LEFT_PX - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end">{escape(_fmt(value, percent))}</text>'
        )
    if not categories:
        parts.append(
            f'<text x="{LEFT_PX + plot_w / 2}" y="{TOP_PX + plot_h / 2}" '
            'text-anchor="middle" font-size="13">no data in this period</text>'
        )
    slot = plot_w / max(len(categories), 1)
    bar_w = min(max(slot * 0.7, 1.0), MAX_BAR_PX)
    for i, category in enumerate(categories):
        x = LEFT_PX + i * slot + (slot - bar_w) / 2
        base: float = TOP_PX + plot_h
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            tip = f"{category} · {name}: {_fmt(value, percent)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
        label_y = TOP_PX + plot_h + 14
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{label_y}" font-size="11" text-anchor="end" '
            f'transform="rotate(-35 {x + bar_w / 2:.1f} {label_y})">{escape(category)}</text>'
        )
    for j, name in enumerate(series):
        y = TOP_PX + 14 + j * 18
        lx = WIDTH_PX - RIGHT_PX + 16
        parts.append(
            f'<rect x="{lx}" y="{y - 10}" width="12" height="12" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{lx + 18}" y="{y}" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _nice_ceiling(value: float, percent: bool) -> float:
    """A round top for the axis: 1, 2, 2.5 or 5 times a power of ten, at least the value."""
    if percent:
        return 1.0 if value <= 0 else min(1.0, _nice_ceiling(value * 100, False) / 100)
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.1f} %"
    return f"{value:g}"
