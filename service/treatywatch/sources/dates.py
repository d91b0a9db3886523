"""Dates as list pages and APIs write them: ISO, DD.MM.YYYY, RFC 2822, and "5 декабря 2025" in six languages."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from zoneinfo import ZoneInfo

_MONTHS: dict[str, int] = {}
for _names in (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
):
    for _i, _n in enumerate(_names.split(), start=1):
        _MONTHS.setdefault(_n, _i)

_WORDY = re.compile(r"(\d{1,2})(?:er|\.)?\s+(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{4})(?:\s*(?:г\.?|года))?", re.U)
_WORDY_EN = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2}))?$")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def parse_date(text: str | None, tz: str = "UTC") -> datetime | None:
    """Best effort; None when the text holds no date. Naive results are placed in `tz` (the page's zone)."""
    if not text:
        return None
    text = text.strip()
    zone = ZoneInfo(tz)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=zone)
    except ValueError:
        pass
    m = _DOTTED.match(text)
    if m:
        d, mo, y, hh, mm = m.groups()
        return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), tzinfo=zone)
    try:
        value = email.utils.parsedate_to_datetime(text)
        if value is not None:
            return value if value.tzinfo else value.replace(tzinfo=zone)
    except (TypeError, ValueError, IndexError):
        pass
    low = text.lower()
    m = _WORDY.search(low)
    day = month = year = None
    if m and m.group(2) in _MONTHS:
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
    else:
        m2 = _WORDY_EN.search(low)
        if m2 and m2.group(1) in _MONTHS:
            day, month, year = int(m2.group(2)), _MONTHS[m2.group(1)], int(m2.group(3))
    if day is None or month is None or year is None:
        return None
    t = _TIME.search(low)
    try:
        return datetime(year, month, day, int(t.group(1)) if t else 0, int(t.group(2)) if t else 0, tzinfo=zone)
    except ValueError:
        return None
