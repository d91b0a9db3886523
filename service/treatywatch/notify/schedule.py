"""When a delivery may go: now, after quiet hours, or at the subscriber's next digest time. Pure time maths."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def quiet_end(when: datetime, quiet_hours: str | None, tz: str) -> datetime:
    """`when` itself, or the end of the quiet period it falls in (periods may cross midnight)."""
    if not quiet_hours:
        return when
    start_s, end_s = quiet_hours.split("-")
    start, end = _hm(start_s), _hm(end_s)
    local = when.astimezone(ZoneInfo(tz))
    t = local.time().replace(second=0, microsecond=0)
    inside = (start <= t < end) if start <= end else (t >= start or t < end)
    if not inside:
        return when
    end_day = local.date()
    if start > end and t >= start:
        end_day += timedelta(days=1)
    end_local = datetime.combine(end_day, end, tzinfo=ZoneInfo(tz))
    return end_local.astimezone(when.tzinfo)


def next_digest(when: datetime, digest_at: list[str], tz: str) -> datetime:
    """The first digest time strictly after `when`, in the subscriber's zone."""
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    candidates = []
    for day in (0, 1):
        date = local.date() + timedelta(days=day)
        for t in digest_at:
            at = datetime.combine(date, _hm(t), tzinfo=zone)
            if at > local:
                candidates.append(at)
    return min(candidates).astimezone(when.tzinfo)
