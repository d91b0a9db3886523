"""Rows the Store hands out: typed values, so no caller ever sees a dict of columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..items import Item
from ..matching import Match
from .base import Row, dt


@dataclass(frozen=True)
class SourceState:
    id: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    next_due: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    items_last_seen: int | None = None
    empty_flag: bool = False
    total_items: int = 0
    # a paging source's place in its backlog between polls (opaque to the store; the source type reads it)
    cursor: str | None = None
    # paused from the console or the CLI (store/sources.py): when and by whom; None runs. A poll never writes these
    paused_at: datetime | None = None
    paused_by: str | None = None
    # the source's first poll, set by the store at the first save (_save_state): how long one that never
    # succeeded has been failing
    first_attempt: datetime | None = None

    @classmethod
    def from_row(cls, r: Row) -> SourceState:
        """A `sources` row (either engine's) as the state."""
        return cls(
            r["id"],
            r["etag"],
            r["last_modified"],
            dt(r["last_attempt"]),
            dt(r["last_success"]),
            dt(r["next_due"]),
            r["consecutive_failures"],
            r["last_error"],
            r["items_last_seen"],
            bool(r["empty_flag"]),
            r["total_items"],
            r["cursor"],
            dt(r["paused_at"]),
            r["paused_by"],
            dt(r["first_attempt"]),
        )

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class SourcesHealth:
    """The enabled sources' health summed up in one query (metrics past settings.metrics_sources_max, and /readyz:
    reading every source's row at each scrape cost 0.76 s of the daemon at 50,000 sources)."""

    enabled: int  # sources enabled (planned by a daemon, or polled)
    failing: int  # sources failing now (at least `failing_after` failed polls in a row)
    worst: int  # the most failed polls in a row of any
    empty: int  # sources that had items and returned none
    oldest_success: datetime | None  # the oldest last success


@dataclass(frozen=True)
class KnownItem:
    id: int
    content_hash: str
    revision: int


@dataclass(frozen=True)
class StoredItem:
    id: int
    item: Item
    revision: int
    first_seen: datetime


@dataclass(frozen=True)
class ReportView:
    """One report of an alert: the item and why it matched."""

    item_id: int
    item: Item
    match: Match
    added_at: datetime
    # raised each time the item's document names agreements the alert lacked: a channel that had an older version
    # gets the report again, in a follow-up whose `text_names` line says what the act's text names
    version: int = 0
    text_names: tuple[TextName, ...] = ()


@dataclass(frozen=True)
class TextName:
    """An agreement an item's document (the act's text) names that its title did not, and where (page, line)."""

    id: str
    title: str
    reasons: tuple[str, ...] = ()

    def line(self) -> str:
        return f"{self.title} ({'; '.join(self.reasons)})" if self.reasons else self.title


@dataclass(frozen=True)
class AlertView:
    id: int
    watch_id: str
    watches: tuple[str, ...]
    severity: str
    title: str
    agreements: tuple[str, ...]
    created_at: datetime
    reports: tuple[ReportView, ...]


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    kind: str
    subscriber_id: str
    channel: str
    channel_label: str
    mode: str
    status: str
    attempts: int
    next_attempt: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Triage:
    """Where an alert stands on the desk: its state, who has it, and whether (until when, by whom) it is muted."""

    state: str = "open"  # open | acknowledged | resolved
    assignee: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    muted_until: datetime | None = None
    muted_by: str | None = None


@dataclass(frozen=True)
class Mute:
    kind: str  # alert | watch | agreement | source
    target: str
    until: datetime
    note: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class DeskEvent:
    """One change made on the desk, with who made it and when: the history shown beside an alert."""

    id: int
    kind: str
    target: str
    action: str
    detail: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class Verdict:
    """An analyst's word on an alert, one of its reports, or an item that should have fired a watch."""

    subject: str  # alert:N | report:N:ITEM | miss:ITEM:WATCH
    alert_id: int | None
    item_id: int | None
    watch_id: str
    verdict: str  # correct | false_alarm | miss
    note: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class AlertLoss:
    """A stored alert some of whose reports its watch would no longer fire on (impact.py)."""

    alert_id: int
    watch: str
    title: str
    lost: int  # reports that stop firing the alert's watch
    reports: int  # all its reports

    @property
    def gone(self) -> bool:
        """Every report stops: the alert would not have been opened (by this watch)."""
        return self.lost >= self.reports

    def to_json(self) -> dict[str, object]:
        return {"alert_id": self.alert_id, "watch": self.watch, "title": self.title, "lost_reports": self.lost,
                "reports": self.reports, "gone": self.gone}  # fmt: skip
