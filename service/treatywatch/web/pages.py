"""The console's HTML pages: Jinja2 templates over the same values the JSON API answers with.

Escaping follows notify/render.py's one rule (feed text is untrusted): every text goes through `esc` (control and
bidi characters dropped, then HTML-escaped; autoescape catches anything written without it), links through
`link` (http/https only, else no link), snippets through `highlight` (matched words in <mark>, the rest escaped).
Feed text is also isolated in <bdi> (`bdi`; `highlight` does it too), so a right-to-left title cannot reorder the
line around it; lists cut it (`cut`: at most so many characters, an ellipsis, the whole in a tooltip) and the
alerts page shows it whole, wrapping anywhere (a 12,600-character unbroken title once made a page 44,654 px wide).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from ..config.models import LANGUAGES
from ..matching import Snippet
from ..notify.render import clean, escape_for, highlight, isolate, safe_link
from . import api
from . import chart as charts
from .tester import MAX_TEXT, TestResult

if TYPE_CHECKING:
    from ..app import App

REFRESH = 30  # seconds between live refreshes of the overview, alerts and outbox pages
OVERVIEW_SOURCES = 200  # the overview lists every source up to this many, then only those needing attention
ALERTS_PER_PAGE = 20
OUTBOX_STATUSES = ("dead", "failed", "pending")  # what needs a look; sent ones are in the JSON API


LIST_TEXT = 200  # characters of a title in a list; the alerts page has all of it
LIST_ERROR = 300  # characters of an error message in a table; the tooltip and the JSON API have all of it


def _esc(value: object) -> Markup:
    return Markup(escape_for("html", "" if value is None else value))


def _bdi(value: object) -> Markup:
    return Markup(isolate("html", "" if value is None else value))


def _cut(value: object, limit: int = LIST_TEXT) -> Markup:
    """Isolated like `bdi`; past `limit` characters cut with an ellipsis, the whole text in a tooltip."""
    text = clean("" if value is None else value)
    if len(text) <= limit:
        return _bdi(text)
    return Markup('<bdi title="{}">{}…</bdi>').format(text, text[: limit - 1].rstrip())


def _span(seconds: float | None) -> str:
    """Seconds as an operator writes them: 14d, 1h30m, 15m, 90s → 1m30s."""
    if not seconds:
        return "—"
    rest, out = int(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


def _highlight(snippet: Snippet) -> Markup:
    return Markup("<bdi>") + highlight(snippet, "html") + Markup("</bdi>")  # every piece of item text escaped inside


class Pages:
    """Renders each page from the app's current config and store (a reload is visible at the next request)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("treatywatch.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            esc=_esc, bdi=_bdi, cut=_cut, link=safe_link, highlight=_highlight, local=self._local, span=_span
        )

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.app.config.settings.web_timezone)

    def _local(self, value: datetime | str | None, seconds: bool = False) -> str:
        """A time in the operator's zone, to the minute, with the zone's abbreviation (CET, UTC)."""
        if value is None or value == "":
            return "—"
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        return at.astimezone(self.zone()).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")

    def render(self, name: str, private: bool = True, **values: Any) -> str:
        """`private`: the asker may read the console (guard.py); else the reload error's banner stays out."""
        now = self.app.clock()
        return self.env.get_template(name).render(
            now=now,
            zone=str(self.zone()),
            reload_error=self.app.reload_error if private else None,
            refresh=values.pop("refresh", 0),
            **values,
        )

    def chart(self, days: int = charts.DAYS) -> charts.Chart:
        return charts.layout(self.per_day(days))

    def per_day(self, days: int = charts.DAYS) -> charts.PerDay:
        now, zone = self.app.clock(), self.zone()
        times = self.app.store.alert_times(charts.window_start(now, zone, days))
        return charts.per_day(times, now, zone, days)

    def overview(self) -> str:
        """A desk of up to OVERVIEW_SOURCES sources sees all of them; a larger one, those that need attention (at
        most that many), the rest on the sources page: 5,000 rows were 3 MB of HTML every 30 s."""
        total = len(self.app.config.sources)
        large = total > OVERVIEW_SOURCES
        if large:  # only the rows that may need attention are read (api.attention)
            shown, failing = api.attention(self.app)
        else:
            shown = api.sources(self.app)
            failing = api.failing_count(shown)
        counts = self.app.store.counts()
        return self.render(
            "overview.html",
            refresh=REFRESH,
            sources=shown[:OVERVIEW_SOURCES],
            total_sources=total,
            attention=len(shown) if large else None,
            counts=counts,
            failing=failing,
            chart=self.chart(),
            latest=self.app.store.recent_alerts(5),
        )

    def alerts(self, query: Mapping[str, str]) -> str:
        alerts, page = api.alerts_page(self.app, {"limit": str(ALERTS_PER_PAGE)} | dict(query))
        return self.render("alerts.html", refresh=REFRESH, alerts=alerts, page=page)

    def outbox(self, token_needed: bool, allowed: bool, message: str | None = None) -> str:
        groups = {s: self.app.store.deliveries(s, api.MAX_LIMIT) for s in OUTBOX_STATUSES}
        counts = self.app.store.counts()
        return self.render(
            "outbox.html",
            refresh=REFRESH,
            groups=groups,
            counts={s: counts.get(f"deliveries_{s}", 0) for s in (*OUTBOX_STATUSES, "sent", "skipped")},
            token_needed=token_needed,
            allowed=allowed,
            message=message,
        )

    def tester(
        self,
        token_needed: bool,
        fields: Mapping[str, str] | None = None,
        result: TestResult | None = None,
        error: str | None = None,
        private: bool = True,
    ) -> str:
        return self.render(
            "tester.html",
            private,
            fields=fields or {},
            result=result,
            error=error,
            token_needed=token_needed,
            languages=LANGUAGES,
            sources=[s.id for s in self.app.config.sources],
            max_text=MAX_TEXT,
        )

    def error(self, status: int, reason: str, private: bool = True) -> str:
        return self.render("error.html", private, status=status, reason=reason)
