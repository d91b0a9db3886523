"""Alerts per day per watch: counted in the operator's time zone, laid out as stacked bars for an inline SVG.

Pure: takes the alert times the store gives and the current time, returns values. The SVG itself is written by a
template (escaped by Jinja), so no JavaScript library and nothing fetched from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = 30
MAX_DAYS = 366
# distinguishable on white and for the common colour blindnesses (Okabe-Ito, then darker extras)
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d00", "#555555")


def window_start(now: datetime, zone: ZoneInfo, days: int) -> datetime:
    """Midnight, in the operator's zone, of the first day shown: what the store is asked for."""
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=zone)


@dataclass(frozen=True)
class PerDay:
    timezone: str
    days: list[date]
    watches: dict[str, list[int]]  # watch id -> alerts opened on each day, in the order of `days`

    def totals(self) -> list[int]:
        return [sum(col) for col in zip(*self.watches.values(), strict=True)] if self.watches else [0] * len(self.days)

    def to_json(self) -> dict:
        return {
            "timezone": self.timezone,
            "days": [d.isoformat() for d in self.days],
            "watches": self.watches,
            "totals": self.totals(),
        }


def per_day(times: list[tuple[datetime, str]], now: datetime, zone: ZoneInfo, days: int = DAYS) -> PerDay:
    """Count alerts by local day and watch; days without alerts are zeros, watches are sorted by id."""
    first = window_start(now, zone, days).date()
    span = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(span)}
    counts: dict[str, list[int]] = {}
    for at, watch in times:
        i = index.get(at.astimezone(zone).date())
        if i is not None:
            counts.setdefault(watch, [0] * days)[i] += 1
    return PerDay(str(zone), span, dict(sorted(counts.items())))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    day: date
    watch: str
    count: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: float
    bottom: float
    left: float
    bars: list[Bar]
    legend: list[tuple[str, str, int]]  # watch, colour, alerts in the window
    ticks: list[Tick]
    labels: list[Label]
    total: int
    days: int


def layout(data: PerDay, width: int = 640, height: int = 220) -> Chart:
    """Stacked bars, one column per day, a segment per watch; a y scale with round ticks."""
    left, right, top, bottom = 32.0, 8.0, 8.0, float(height - 24)
    totals = data.totals()
    peak = max(totals, default=0)
    step = _tick_step(peak)
    scale_max = max(step * -(-peak // step), 1)
    column = (width - left - right) / max(len(data.days), 1)
    colors = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(data.watches)}
    bars = []
    for i, day in enumerate(data.days):
        base = bottom
        for watch, counts in data.watches.items():
            n = counts[i]
            if not n:
                continue
            h = (bottom - top) * n / scale_max
            base -= h
            bars.append(Bar(left + i * column + 1, base, max(column - 2, 1), h, colors[watch], day, watch, n))
    ticks = [Tick(bottom - (bottom - top) * v / scale_max, v) for v in range(0, scale_max + 1, step)]
    labels = [
        Label(left + (i + 0.5) * column, day.strftime("%d %b"))
        for i, day in enumerate(data.days)
        if i % 7 == (len(data.days) - 1) % 7  # weekly, ending on today
    ]
    legend = [(w, colors[w], sum(c)) for w, c in data.watches.items()]
    return Chart(width, height, top, bottom, left, bars, legend, ticks, labels, sum(totals), len(data.days))


def _tick_step(peak: int) -> int:
    """1, 2, 5, 10, 20, 50... so that the axis has at most about five lines."""
    step = 1
    while peak / step > 5:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if peak / step <= 5:
                break
    return step
