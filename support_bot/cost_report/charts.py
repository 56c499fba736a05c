"""The cost report's charts, drawn server-side as SVG: no JavaScript, nothing fetched.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that sums it up
for screen readers; every bar carries its own ``<title>`` (a tooltip), and the tables
beside the charts hold every number. Positions are computed from the Decimal amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from routing.models import Tier
from support_bot.cost_report.report import DayLine, Line, Totals

ZERO = Decimal(0)
# Okabe-Ito colours: told apart with the common colour-vision deficiencies, and readable
# on the admin's light and dark themes.
TIER_COLOURS = {0: "#999999", 1: "#009e73", 2: "#e69f00", 3: "#cc79a7"}
SPENT, BASELINE, CACHE, TIER0 = "#0072b2", "#d55e00", "#56b4e9", "#009e73"
TIER_SHORT = {
    0: "Tier 0 (shop data)",
    1: "Tier 1 (cheap)",
    2: "Tier 2 (mid)",
    3: "Tier 3 (premium)",
}


@dataclass(frozen=True)
class Chart:
    svg: SafeString
    legend: list[tuple[str, str]]  # (colour, label)


def usd(amount: Decimal, places: int = 4) -> str:
    return f"${amount:,.{places}f}"


def daily_cost_chart(days: list[DayLine]) -> Chart:
    """Cost per day, each day's bar stacked by tier."""
    width, height, left, right, top, bottom = 960, 300, 70, 12, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    tiers = sorted({tier for day in days for tier, cost in day.cost_by_tier.items() if cost})
    step, top_value = _axis(max((d.totals.cost_usd for d in days), default=ZERO))
    slot = Decimal(plot_w) / max(len(days), 1)
    parts = _y_grid(left, top, plot_w, plot_h, step, top_value)
    label_every = max(1, -(-len(days) // 10))
    for index, day in enumerate(days):
        x = left + slot * index
        base = Decimal(top + plot_h)
        for tier in tiers:
            cost = day.cost_by_tier.get(tier, ZERO)
            if not cost:
                continue
            h = cost / top_value * plot_h
            base -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}, {}: {}</title></rect>",
                    _px(x + slot * Decimal("0.14")),
                    _px(base),
                    _px(max(slot * Decimal("0.72"), Decimal(1))),
                    _px(h),
                    TIER_COLOURS[tier],
                    day.day.isoformat(),
                    TIER_SHORT[tier],
                    usd(cost),
                )
            )
        if index % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle">{} {}</text>',
                    _px(x + slot / 2),
                    top + plot_h + 18,
                    f"{day.day:%b}",
                    day.day.day,
                )
            )
    busiest = max(days, key=lambda d: d.totals.cost_usd, default=None)
    desc = "No cost in this period."
    if busiest is not None and busiest.totals.cost_usd:
        total = sum((d.totals.cost_usd for d in days), ZERO)
        desc = (
            f"Cost per day from {days[0].day} to {days[-1].day}, stacked by tier: "
            f"{usd(total)} in all, the most on {busiest.day} ({usd(busiest.totals.cost_usd)}). "
            "The table “By day” lists every day."
        )
    return Chart(
        svg=_svg("chart-daily", width, height, "Cost per day, by tier", desc, parts),
        legend=[(TIER_COLOURS[tier], Tier(tier).label) for tier in tiers],
    )


def tier_cost_chart(lines: list[Line]) -> Chart:
    """Cost of each tier, as horizontal bars."""
    bars = [
        (TIER_SHORT[int(line.key)], line.totals.cost_usd, TIER_COLOURS[int(line.key)])
        for line in lines
    ]
    desc = "; ".join(f"{label}: {usd(value)}" for label, value, _ in bars) or "No calls."
    return Chart(svg=_bar_chart("chart-tiers", "Cost by tier", desc, bars), legend=[])


def savings_chart(totals: Totals) -> Chart:
    """What was spent, next to the premium baseline and what caching and tier 0 avoided."""
    bars = [("Spent", totals.cost_usd, SPENT)]
    if totals.baseline_usd is not None:
        bars.append(("All on the premium model", totals.baseline_usd, BASELINE))
    bars += [
        ("Avoided by cache hits", totals.cache_avoided_usd, CACHE),
        ("Avoided by tier-0 answers", totals.tier0_avoided_usd, TIER0),
    ]
    desc = "; ".join(f"{label}: {usd(value)}" for label, value, _ in bars)
    return Chart(svg=_bar_chart("chart-savings", "Spend and savings", desc, bars), legend=[])


def _bar_chart(
    chart_id: str, title: str, desc: str, bars: list[tuple[str, Decimal, str]]
) -> SafeString:
    width, label_w, value_w, row_h, pad = 560, 200, 96, 34, 8
    height = pad * 2 + row_h * max(len(bars), 1)
    longest = max((value for _, value, _ in bars), default=ZERO) or Decimal(1)
    room = Decimal(width - label_w - value_w)
    parts = []
    for index, (label, value, colour) in enumerate(bars):
        y = pad + row_h * index
        w = value / longest * room
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}">{}</text>',
                label_w - 8,
                y + row_h // 2 + 4,
                label,
                label_w,
                y + 6,
                _px(w),
                row_h - 12,
                colour,
                label,
                usd(value),
                _px(label_w + w + 6),
                y + row_h // 2 + 4,
                usd(value),
            )
        )
    return _svg(chart_id, width, height, title, desc, parts)


def _axis(highest: Decimal, ticks: int = 4) -> tuple[Decimal, Decimal]:
    """A round tick step (1, 2 or 5 x 10ⁿ) and the axis top it gives for ``highest``."""
    if highest <= 0:
        return Decimal("0.01"), Decimal("0.04")
    raw = highest / ticks
    unit = Decimal(10) ** raw.adjusted()
    step = next(m * unit for m in (1, 2, 5, 10) if raw <= m * unit)
    count = (highest / step).to_integral_value(rounding=ROUND_CEILING)
    return step, step * count


def _y_grid(
    left: int, top: int, plot_w: int, plot_h: int, step: Decimal, top_value: Decimal
) -> list[SafeString]:
    places = max(2, -step.adjusted())
    parts = []
    value = ZERO
    while value <= top_value:
        y = top + plot_h - value / top_value * plot_h
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="currentColor" '
                'stroke-opacity="0.18"/><text x="{}" y="{}" text-anchor="end">{}</text>',
                left,
                left + plot_w,
                _px(y),
                _px(y),
                left - 8,
                _px(y + 4),
                usd(value, places),
            )
        )
        value += step
    return parts


def _svg(
    chart_id: str, width: int, height: int, title: str, desc: str, parts: list[SafeString]
) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" id="{}" class="cost-chart" role="img" '
        'viewBox="0 0 {} {}" width="100%" aria-labelledby="{}-title {}-desc" '
        'font-size="12" fill="currentColor">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        chart_id,
        width,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        desc,
        format_html_join("", "{}", ((part,) for part in parts)),
    )


def _px(value: Decimal | int) -> str:
    return f"{value:.1f}"
