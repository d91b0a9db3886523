"""One filter for the desk's lists (alerts, the outbox, items), read the same way from the console's query string,
the JSON API's and the command line's options, so `?watch=w&since=7d` and `--watch w --since 7d` mean one thing.

The store turns it into SQL (store/desk.py); this module only checks and normalises what people typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from .errors import FilterError

ALERT_STATES = ("open", "acknowledged", "resolved", "muted")  # muted: an alert mute still running
ITEM_STATES = ("alerted", "quiet", "unmatched")  # in an alert; matched without one; matched nothing
MAX_TEXT = 200  # characters of a text filter: a phrase, not a document


def _when(raw: str, now: datetime, end_of_day: bool) -> datetime:
    """2026-01-31 (a day, UTC: its start, or its end for `until`), an ISO time, or a span back from now (7d)."""
    from .config.common import parse_duration

    try:
        day = date.fromisoformat(raw)
    except ValueError:
        pass
    else:
        at = datetime.combine(day, time(0), UTC)
        return at + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else at
    try:
        at = datetime.fromisoformat(raw)
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return now - timedelta(seconds=min(parse_duration(raw), 100 * 365 * 86400.0))
    except ValueError:
        raise FilterError(f"'{raw}' is not a date (2026-01-31), a time (2026-01-31T08:00) or a span (7d)") from None


@dataclass(frozen=True)
class DeskFilter:
    """What to list. Every field is optional; given ones must all hold. `severity` is a minimum; `since`/`until`
    bound when the alert was opened (an item: first seen); `text` is searched in titles and summaries."""

    watch: str | None = None
    severity: str | None = None
    agreement: str | None = None
    source: str | None = None
    state: str | None = None
    assignee: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    @classmethod
    def parse(
        cls, values: Mapping[str, str | None], now: datetime, states: tuple[str, ...] = ALERT_STATES
    ) -> DeskFilter:
        """From a query string or CLI options; blank values are absent. A bad value is a FilterError."""
        from .config.models import LANGUAGES, SEVERITY_RANK  # here: the CLI's start-up never loads the models

        raw = {f.name: (values.get(f.name) or "").strip() or None for f in fields(cls)}
        if raw["severity"] is not None and raw["severity"] not in SEVERITY_RANK:
            raise FilterError(f"severity must be one of {', '.join(SEVERITY_RANK)}, got {raw['severity']!r}")
        if raw["state"] is not None and raw["state"] not in states:
            raise FilterError(f"state must be one of {', '.join(states)}, got {raw['state']!r}")
        if raw["language"] is not None and raw["language"] not in LANGUAGES:
            raise FilterError(f"language must be one of {', '.join(LANGUAGES)}, got {raw['language']!r}")
        if raw["text"] is not None and len(raw["text"]) > MAX_TEXT:
            raise FilterError(f"text: at most {MAX_TEXT} characters")
        for name in ("watch", "agreement", "source", "assignee"):
            if raw[name] is not None and len(raw[name] or "") > MAX_TEXT:
                raise FilterError(f"{name}: at most {MAX_TEXT} characters")
        since = _when(raw["since"], now, False) if raw["since"] else None
        until = _when(raw["until"], now, True) if raw["until"] else None
        strings = {k: v for k, v in raw.items() if k not in ("since", "until")}
        return cls(**strings, since=since, until=until)

    def query(self) -> dict[str, str]:
        """The filter as query parameters (for the console's links and pagers)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
        return out

    @property
    def empty(self) -> bool:
        return not self.query()


FILTER_NAMES = tuple(f.name for f in fields(DeskFilter))
