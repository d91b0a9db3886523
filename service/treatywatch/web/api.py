"""The JSON API's shapes and its query parameters: what /api/* answers, also what the HTML pages render from.

Every list is paged with `limit`/`offset`; the body stays a plain JSON list (scripts written against the first
API keep working) and the total travels in `X-Total-Count`, the neighbouring pages in a `Link` header (RFC 8288),
as GitHub's API does. Text from feeds and servers loses its control and bidi characters here too (`plain`), as in
every other channel: rows stored before items were cleaned still hold them, and JSON readers display them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from apscheduler.triggers.cron import CronTrigger

from ..config.policy import age_limit, baseline_status
from ..desk import triage_json
from ..errors import StoreError
from ..filters import ITEM_STATES, DeskFilter
from ..items import Item
from ..matching import Match
from ..matching.explain import match_to_dict
from ..notify.render import clean, clean_marked
from ..store import AlertView
from ..views import delivery_row, iso, source_rows

if TYPE_CHECKING:
    from ..app import App
    from ..config.models import Config

BROKEN_AFTER = 5  # failures in a row after which a source counts as broken (readiness, the console's flag)
MAX_LIMIT = 200  # a page of the JSON API: bounded, so one request cannot make the server build everything
MAX_OFFSET = 10_000
DELIVERY_STATUSES = ("pending", "failed", "dead", "sent", "skipped")


class BadRequest(Exception):
    """A parameter or body the server will not take: answered with `status` (400, 413 too large, 415 wrong
    type) and the reason, never a stack trace."""

    def __init__(self, reason: str, status: int = 400) -> None:
        self.status = status
        super().__init__(reason)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class Page:
    """One page of a listing: the rows, where it starts, and how many there are in all."""

    rows: list[dict]
    limit: int
    offset: int
    total: int

    def headers(self, path: str, query: Mapping[str, str]) -> dict[str, str]:
        """X-Total-Count and a Link header with first/prev/next pages (relative URLs, the query kept)."""

        def url(offset: int) -> str:
            return f"<{path}?{urlencode({**query, 'limit': self.limit, 'offset': offset})}>"

        links = [f'{url(0)}; rel="first"']
        if self.offset > 0:
            links.append(f'{url(max(0, self.offset - self.limit))}; rel="prev"')
        if self.offset + self.limit < self.total:
            links.append(f'{url(self.offset + self.limit)}; rel="next"')
        return {"X-Total-Count": str(self.total), "Link": ", ".join(links)}


def paging(query: Mapping[str, str], default: int = 50) -> tuple[int, int]:
    return int_param(query, "limit", default, 1, MAX_LIMIT), int_param(query, "offset", 0, 0, MAX_OFFSET)


def readiness(app: App) -> list[str]:
    """Why the service is not ready; empty when it is. Only broken-for-good states count: one source failing
    among working ones is shown on the console, not a reason to pull the instance from rotation."""
    reasons = []
    if app.reload_error is not None:
        reasons.append(f"last configuration reload failed: {app.reload_error.splitlines()[0]}")
    try:
        with app.store.transaction():
            pass  # BEGIN IMMEDIATE: takes the write lock, as a poll's commit will
    except StoreError as exc:
        return [*reasons, f"store not writable: {exc}"]  # nothing else can be read from it either
    # one aggregate, not every source's row: a probe every few seconds on a desk of 50,000 sources
    sources = app.store.sources_health(BROKEN_AFTER)
    if sources.enabled and sources.failing == sources.enabled:
        named = app.store.failing_sources(BROKEN_AFTER, READY_NAMES)
        more = f" … ({sources.failing} in all)" if sources.failing > len(named) else ""
        reasons.append(f"every enabled source failed {BROKEN_AFTER}+ times in a row: {', '.join(named)}{more}")
    return reasons


READY_NAMES = 10  # broken sources /readyz names, at most
STALE_AFTER = 3  # intervals without a success after which a polled source is stale


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def interval(row: Mapping[str, Any], trigger: CronTrigger | None, now: datetime) -> float | None:
    """Seconds between two polls: the interval, or for a cron schedule the gap between its next two runs."""
    if trigger is not None:
        first = trigger.get_next_fire_time(None, now)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return (second - first).total_seconds() if first and second else None
    return float(row["every_seconds"]) if row.get("every_seconds") else None


def health(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What the console adds to a source row: health (disabled, paused, new, ok, failing, broken), the next poll
    as schedule and backoff put it, and `stale`: polled, but no success within STALE_AFTER intervals of the last
    success, or of the first poll for a source that never succeeded (one failure is `failing`, not stale)."""
    attempt, success, due = _at(row["last_attempt"]), _at(row["last_success"]), _at(row["next_due"])
    trigger = CronTrigger.from_crontab(row["cron"], timezone=UTC) if row.get("cron") else None
    gap = interval(row, trigger, now)
    failures = row["consecutive_failures"]
    polling = row["enabled"] and not row.get("paused")
    if not row["enabled"]:
        state = "disabled"
    elif row.get("paused"):
        state = "paused"
    elif attempt is None:
        state = "new"
    else:
        state = "broken" if failures >= BROKEN_AFTER else "failing" if failures else "ok"
    next_poll: datetime | None = None
    if polling:
        if due is not None:  # backing off after a failure (the retry), or an operator's "poll now"
            next_poll = due
        elif attempt is not None and trigger is not None:
            next_poll = trigger.get_next_fire_time(attempt, attempt)
        elif attempt is not None and gap:
            next_poll = attempt + timedelta(seconds=gap)
        else:
            next_poll = now  # never polled: at the daemon's start
    since = success or _at(row.get("first_attempt")) or attempt
    stale = bool(
        polling and since is not None and gap is not None and (now - since).total_seconds() > STALE_AFTER * gap
    )
    return {"health": state, "stale": stale, "next_poll": iso(next_poll), "broken_after": BROKEN_AFTER}


def sources(app: App, source_id: str | None = None) -> list[dict]:
    """Every configured source (or the one `source_id`: a NotFoundError if not configured), as `sources --json`
    shows it, with its health, its baseline state (pending: the next successful poll is quiet; done; off) and its
    age limit in seconds (None: none). One source reads one row: a source's page on a desk of 50,000."""
    config = app.config
    if source_id is None:
        return _finished(app, source_rows(config, app.store.source_states()))
    one = {source_id: app.store.source_state(source_id)}
    return _finished(app, source_rows(config, one, [config.source(source_id)]))


def _finished(app: App, listed: list[dict]) -> list[dict]:
    """source_rows' rows with their health and their rules (baseline, age limit)."""
    now, config = app.clock(), app.config
    rows = []
    for row in listed:
        cfg = config.source(row["id"])
        rules = {
            "baseline": row.get("baseline") or baseline_status(config, cfg, _at(row["last_success"])),
            "ignore_older_than": age_limit(config, cfg),
        }
        rows.append(row | health(row, now) | rules)
    return rows


def attention(app: App) -> tuple[list[dict], int]:
    """The sources that need attention (needs_attention, in the configuration's order) and how many sources are
    failing or broken: a large desk's overview. Only the rows that may need it are read and weighed
    (store.attention_candidates: stale means no success within STALE_AFTER gaps, so within STALE_AFTER of the
    shortest gap at least), not every source's row and health: 1.2 s a refresh at 50,000 sources."""
    config, now = app.config, app.clock()
    gap = shortest_gap(config, now)
    states = app.store.attention_candidates(now - timedelta(seconds=STALE_AFTER * gap) if gap else None)
    rows = _finished(app, source_rows(config, states, [s for s in config.sources if s.id in states]))
    return [r for r in rows if needs_attention(r)], failing_count(rows)


def failing_count(rows: list[dict]) -> int:
    """How many of the rows are failing or broken: the overview's red count."""
    return sum(r["health"] in ("failing", "broken") for r in rows)


def shortest_gap(config: Config, now: datetime) -> float | None:
    """The shortest time between two polls of any configured source, as health() reads each (a cron's next two
    runs); None when there is none."""
    gaps = {float(s.every.seconds) for s in config.sources if s.every.seconds}
    for cron in {s.every.cron for s in config.sources if s.every.cron}:
        gaps.add(interval({}, CronTrigger.from_crontab(cron, timezone=UTC), now) or 0.0)
    return min((g for g in gaps if g > 0), default=None)


# what `health=` takes on the sources page and /api/sources: a health, `stale`, or `attention` (what the overview
# of a large desk lists: any of the flags an operator acts on)
SOURCE_HEALTH = ("disabled", "paused", "new", "ok", "failing", "broken")
SOURCE_VIEWS = (*SOURCE_HEALTH, "stale", "attention")


def needs_attention(row: Mapping[str, Any]) -> bool:
    """Failing, broken, paused, stale, empty where it had items, or behind on a backlog."""
    return row["health"] in ("failing", "broken", "paused") or bool(
        row.get("stale") or row.get("empty_flag") or row.get("backlog")
    )


def select_sources(rows: list[dict], query: Mapping[str, str]) -> list[dict]:
    """The rows `health=` (SOURCE_VIEWS) and `q=` (a part of the id, any case) let through."""
    view, text = query.get("health") or "", (query.get("q") or "").strip().casefold()
    if view and view not in SOURCE_VIEWS:
        raise BadRequest(f"health must be one of {', '.join(SOURCE_VIEWS)}, got {view!r}")
    if view == "attention":
        rows = [r for r in rows if needs_attention(r)]
    elif view == "stale":
        rows = [r for r in rows if r.get("stale")]
    elif view:
        rows = [r for r in rows if r["health"] == view]
    return [r for r in rows if text in r["id"].casefold()] if text else rows


def sources_page(app: App, query: Mapping[str, str], default: int = MAX_LIMIT) -> Page:
    """One page of the sources `select_sources` lets through, in the configuration's order. Offsets reach every
    source (a desk of 50,000 pages past the other listings' MAX_OFFSET)."""
    rows = select_sources(sources(app), query)
    limit = int_param(query, "limit", default, 1, MAX_LIMIT)
    offset = int_param(query, "offset", 0, 0, max(MAX_OFFSET, len(rows)))
    return Page(rows[offset : offset + limit], limit, offset, len(rows))


def plain(value: Any) -> Any:
    """Every string inside `value` without control and bidi characters (notify.render.clean)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def match_json(m: Match, title: str) -> dict:
    """A match as `match_to_dict`, plain; the snippet's marks and the title's hits keep pointing at their words."""
    out = plain(match_to_dict(m))
    text, marks = clean_marked(m.snippet.text, m.snippet.marks)
    out["snippet"] = {"text": text, "marks": [list(span) for span in marks], "link": m.snippet.link or None}
    for hit, place in zip(out["hits"], m.hits, strict=True):
        if place.field == "title" and title[place.start : place.end] == place.text:  # positions in this title
            ((hit["start"], hit["end"]),) = clean_marked(title, [(place.start, place.end)])[1]
    return out


def act_json(item: Item) -> dict | None:
    """A legal act's typed fields (calendar dates as YYYY-MM-DD, no time, no zone), with the line a desk reads
    ("Распоряжение № 28-р от 17.01.2026"); None for an item that is no act."""
    act = item.act
    return act.json() | {"label": act.label(item.language)} if act else None


def alert_json(a: AlertView) -> dict:
    """An alert with each report's structured explanation (hits, agreements with reasons, snippet), plain."""
    reports = [
        plain(
            {
                "item_id": r.item_id,
                "title": r.item.title,
                "link": r.item.link,
                "source": r.item.source_id,
                "published": iso(r.item.published),
                "act": act_json(r.item),
                "added_at": iso(r.added_at),
                "why": r.match.why(),
            }
        )
        | {"match": match_json(r.match, r.item.title)}
        for r in a.reports
    ]
    alert = {
        "id": a.id,
        "title": a.title,
        "severity": a.severity,
        "watch": a.watch_id,
        "watches": list(a.watches),
        "agreements": list(a.agreements),
        "created_at": iso(a.created_at),
        "updated_at": iso(last_report(a)),
        "report_count": len(a.reports),
    }
    return plain(alert) | {"reports": reports}


def last_report(a: AlertView) -> datetime:
    """When the alert last changed: its newest report (a follow-up), else its creation."""
    return max((r.added_at for r in a.reports), default=a.created_at)


def alerts_page(app: App, query: Mapping[str, str]) -> tuple[list[AlertView], Page]:
    """One page of the alerts the query's filter (filters.py: watch, severity, agreement, source, state, assignee,
    language, since, until, text) lets through, newest first, each with its triage."""
    limit, offset = paging(query)
    now = app.clock()
    ids, total = app.store.alert_ids(DeskFilter.parse(query, now), now, limit, offset)
    alerts = [app.store.alert(i) for i in ids]
    triage = app.store.triage_states(ids, now)
    rows = [alert_json(a) | {"triage": triage_json(triage[a.id])} for a in alerts]
    return alerts, Page(rows, limit, offset, total)


def items_page(app: App, query: Mapping[str, str]) -> Page:
    """Stored items through the same filter (state: alerted, quiet, unmatched), newest first."""
    limit, offset = paging(query)
    f = DeskFilter.parse(query, app.clock(), ITEM_STATES)
    found, total = app.store.item_rows(f, limit, offset)
    shown = [
        plain(
            {
                "id": s.id,
                "source": s.item.source_id,
                "title": s.item.title,
                "link": s.item.link,
                "language": s.item.language,
                "published": iso(s.item.published),
                "act": act_json(s.item),
                "first_seen": iso(s.first_seen),
            }
        )
        for s in found
    ]
    return Page(shown, limit, offset, total)


def deliveries_page(app: App, query: Mapping[str, str]) -> Page:
    status = query.get("status") or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}, got {status!r}")
    limit, offset = paging(query)
    f = DeskFilter.parse(query, app.clock())
    if not f.empty:  # the outbox of the alerts the filter lets through
        found, total = app.store.delivery_rows(f, app.clock(), status, limit, offset)
        return Page([delivery_row(d) for d in found], limit, offset, total)
    counts = app.store.counts()
    total = (
        counts.get(f"deliveries_{status}", 0)
        if status
        else sum(v for k, v in counts.items() if k.startswith("deliveries_"))
    )
    rows = [delivery_row(d) for d in app.store.deliveries(status, limit, offset)]
    return Page(rows, limit, offset, total)
