"""The sources in the operator's hands: the list (health, schedule, paused), and a source's own page with pause,
resume and "poll now" (desk.source_action, the operator's) and its last items, each run through the watch tester
(tester.check) so the page says what it matches now, or why not (no watch fires; words set aside as talk)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..desk import event_json
from ..filters import DeskFilter
from ..store import StoredItem
from ..views import iso
from . import api
from .pages import REFRESH, Pages
from .tester import TestResult, check

LAST_ITEMS = 20  # a source's page: its newest items, each through the tester (a few ms each)
SOURCES_PER_PAGE = 200  # the sources page's rows (3 MB of HTML for 5,000, and 0.4 s of a core, refreshed every 30 s)


@dataclass(frozen=True)
class SourceItem:
    """One of a source's last items: what the running watchlist makes of it, the alerts it is in, and the watches
    that fired when it was polled (a quiet match: its source's baseline, or older than its age limit)."""

    stored: StoredItem
    result: TestResult
    alerts: list[int]
    at_poll: frozenset[str]

    @property
    def since_poll(self) -> str:
        """How the running watchlist differs from what the poll found, said for the page ('' when it does not)."""
        now = {m.watch_id for m in self.result.matches}
        if now and now <= self.at_poll and not self.alerts:
            return "matched at its poll without an alert: the source's baseline, or older than its age limit"
        if now - self.at_poll:
            return f"not at its poll ({', '.join(sorted(now - self.at_poll))}): the watchlist changed since"
        if self.at_poll - now:
            return f"fired at its poll ({', '.join(sorted(self.at_poll - now))}), not with the running watchlist"
        return ""

    def to_json(self) -> dict[str, Any]:
        item = self.stored.item
        return api.plain(
            {
                "id": self.stored.id,
                "title": item.title,
                "link": item.link,
                "language": item.language,
                "first_seen": iso(self.stored.first_seen),
                "alerts": self.alerts,
                "at_poll": sorted(self.at_poll),
                "fires": [{"watch": m.watch_id, "severity": m.severity, "why": m.why()} for m in self.result.matches],
                "set_aside": [{"watch": w, "cues": cues} for w, cues in self.result.set_aside],
            }
        )


class SourcePages(Pages):
    def source_row(self, source_id: str) -> dict[str, Any]:
        """The source as /api/sources shows it (health, paused, next poll); a source not configured is a 404."""
        (row,) = api.sources(self.app, source_id)
        return row

    def source_items(self, source_id: str, limit: int = LAST_ITEMS) -> list[SourceItem]:
        found, _ = self.app.store.item_rows(DeskFilter(source=source_id), limit)
        polled = self.app.store.poll_matches([s.id for s in found])
        store, watchlist = self.app.store, self.app.watchlist
        return [
            SourceItem(s, check(watchlist, s.item), store.alerts_of_item(s.id), frozenset(polled[s.id])) for s in found
        ]

    def source_json(self, source_id: str) -> dict[str, Any]:
        return self.source_row(source_id) | {
            "history": [event_json(e) for e in self.app.store.history("source", source_id)],
            "last_items": [i.to_json() for i in self.source_items(source_id)],
        }

    def sources_page(self, query: Mapping[str, str]) -> str:
        """A page of SOURCES_PER_PAGE, filtered by health and a part of the id (api.select_sources)."""
        page = api.sources_page(self.app, query, SOURCES_PER_PAGE)
        shown = {k: query[k] for k in ("health", "q") if query.get(k)}
        return self.render(
            "sources.html", refresh=REFRESH, sources=page.rows, page=page, shown=shown, views=api.SOURCE_VIEWS
        )

    def source_page(self, source_id: str, token_needed: bool, allowed: bool, done: str | None) -> str:
        row = self.source_row(source_id)
        cfg = self.app.config.source(source_id)
        return self.render(
            "source.html",
            s=row,
            url=getattr(cfg, "url", None),
            items=self.source_items(source_id),
            history=self.app.store.history("source", source_id),
            token_needed=token_needed,
            allowed=allowed,
            done=done,
        )
