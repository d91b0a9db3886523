"""Dates as list pages and APIs write them: ISO, DD.MM.YYYY, RFC 2822, and "5 декабря 2025" in six languages.

A date is one field of an item: one that no datetime can hold (year 10000, 31 February, an epoch past year 9999, a
zone pushing 9999-12-31 past the end of the calendar) costs its item that field only, never the feed."""

from __future__ import annotations

import calendar
import email.utils
import logging
import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..items import to_utc

log = logging.getLogger("treatywatch.sources")

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
_NUMBER = re.compile(r"[+-]?\d+")
# digit runs that start with a year: YYYY, YYYYMM, YYYYMMDD and ISO basic date-times up to YYYYMMDDhhmmss
_YEAR_RUNS = frozenset({4, 6, 8, 10, 12, 14})
# epochs this large are milliseconds (1e11 seconds is the year 5138), as JavaScript writes them
_MILLISECONDS = 100_000_000_000
# a raw value is quoted in the log up to this many characters, and this many of them per line
_SHOWN_CHARS = 60
_SHOWN_VALUES = 3
# a date written longer than this is not a date (a list page's whole row picked by a loose selector, a hostile blob)
_MAX_DATE_CHARS = 200


def year_is_written(text: str, year: int) -> bool:
    """Whether the text writes this year (or one either side: a zone moves a date across New Year). Date parsers
    guess where a year is too long for them: feedparser reads "10000-01-01" as 2010-12-01 and "99999-01-01" as
    9999-12-01, email.utils "Jan 10000" as year 1000; a reading whose year the text does not hold is a misreading.
    Texts without any four-digit number (two-digit years, "06 Dec 25") cannot be checked and pass."""
    runs = []
    for token in _NUMBER.findall(text):
        if token[0] in "+-":
            if len(token) == 5:
                continue  # a zone offset: +0300
            token = token[1:]
        if len(token) >= 4:
            runs.append(token)
    return not runs or any(len(r) in _YEAR_RUNS and year - 1 <= int(r[:4]) <= year + 1 for r in runs)


def parse_date(text: str | None, tz: str = "UTC") -> datetime | None:
    """Best effort; None when the text holds no date, or none a datetime can hold. Naive results are placed in
    `tz` (the page's zone). Never raises on the text."""
    if not text:
        return None
    text = text.strip()
    value = _parse(text, ZoneInfo(tz))
    return value if value is not None and year_is_written(text, value.year) else None


def _parse(text: str, zone: ZoneInfo) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=zone)
    except ValueError:
        pass
    m = _DOTTED.match(text)
    if m:
        d, mo, y, hh, mm = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), tzinfo=zone)
        except ValueError:  # 31.02.2026
            return None
    try:
        value = email.utils.parsedate_to_datetime(text)
        if value is not None:
            return value if value.tzinfo else value.replace(tzinfo=zone)
    except (TypeError, ValueError, IndexError, OverflowError):
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
    except (ValueError, OverflowError):
        return None


class DateFields:
    """The dates of one response, each read into UTC or None. A value that is there but is no date a datetime can
    hold costs its item the date only; all such values of the response go into one warning naming the source and
    the raw values (`report`), so a feed of 500 broken dates logs one line a poll, not 500."""

    def __init__(self, source_id: str, tz: str = "UTC") -> None:
        self.source_id = source_id
        self.tz = tz
        self.unreadable: list[str] = []

    def _bad(self, raw: object) -> None:
        shown = repr(raw)
        self.unreadable.append(shown if len(shown) <= _SHOWN_CHARS else shown[:_SHOWN_CHARS] + "…")

    def text(self, raw: str | None) -> datetime | None:
        """A date written as text (ISO, RFC 2822, DD.MM.YYYY, "5 декабря 2025"), in the source's zone if it has
        none."""
        if raw is None or not raw.strip():
            return None
        utc = to_utc(parse_date(raw, self.tz)) if len(raw) <= _MAX_DATE_CHARS else None
        if utc is None:
            self._bad(raw)
        return utc

    def value(self, raw: object) -> datetime | None:
        """A JSON value: a number is a Unix time (seconds, or milliseconds when that large), a string is text.
        0 is no date (APIs write it for "unknown"; as 1970 it would make the item too old to alert)."""
        if raw is None or raw == "" or raw == 0:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            self._bad(raw)
            return None
        if isinstance(raw, str):
            return self.text(raw)
        try:
            seconds = raw / 1000 if abs(raw) >= _MILLISECONDS else raw
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, ValueError, OSError):  # 1e20, nan, inf
            self._bad(raw)
            return None

    def parsed(self, when: time.struct_time | None, raw: str | None) -> datetime | None:
        """feedparser's reading of a date (a UTC struct_time) with the text it read it from."""
        if when is None:
            if raw and raw.strip():
                self._bad(raw)
            return None
        try:
            if raw is None or year_is_written(raw, when.tm_year):
                return datetime.fromtimestamp(calendar.timegm(when), tz=UTC)
        except (OverflowError, ValueError, OSError):  # year 0, or a year past 9999 in the struct
            pass
        self._bad(raw)
        return None

    def report(self) -> None:
        """One warning for the whole response, naming the source and the raw values (the first few)."""
        if not self.unreadable:
            return
        n = len(self.unreadable)
        shown = ", ".join(self.unreadable[:_SHOWN_VALUES]) + (
            f" and {n - _SHOWN_VALUES} more" if n > _SHOWN_VALUES else ""
        )
        log.warning(
            "source %s: %d item%s kept without a date; not a date: %s",
            self.source_id,
            n,
            "s" if n > 1 else "",
            shown,
            extra={"source": self.source_id},
        )
