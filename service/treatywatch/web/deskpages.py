"""The desk's pages over the shared values: an alert's own page, items, mutes, the evaluation on the desk's verdicts
and the impact of the configuration on disk; the alerts list and the outbox with the shared filter. Rendering
rules (escaping, isolation of feed text) are Pages'."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from .. import desk
from ..config.models import LANGUAGES, SEVERITY_RANK, Config
from ..errors import ConfigError
from ..evaluation import VerdictReport, evaluate_verdicts
from ..filters import ALERT_STATES, ITEM_STATES, DeskFilter
from ..impact import Impact, changed_watches, impact
from ..matching import Watchlist
from . import api, docpages
from .auth import Credential
from .pages import ALERTS_PER_PAGE, OUTBOX_STATUSES, REFRESH
from .sourcepages import SourcePages

log = logging.getLogger("treatywatch.web")
MUTE_SPANS = ("1h", "4h", "1d", "3d", "1w", "30d")
SOURCE_CHOICES = 500  # the filter form lists the sources up to this many; beyond, a source id is typed


class DeskPages(SourcePages):
    user: Credential | None = None  # who is signed in, on a copy made for one request (seen_by)

    def seen_by(self, user: Credential | None) -> DeskPages:
        """A copy for one request, rendering its pages for `user` (the header names them); the templates and the
        app are shared, nothing else is."""
        view = copy.copy(self)
        view.user = user
        return view

    def choices(self, states: tuple[str, ...] = ALERT_STATES) -> dict[str, Any]:
        """What the filter form offers: the running configuration's ids. Sources beyond SOURCE_CHOICES are typed,
        not chosen (None): a list of 50,000 in every alerts page would be megabytes."""
        config = self.app.config
        return {
            "watches": [w.id for w in config.watches],
            "agreements": [a.id for a in config.agreements],
            "sources": [s.id for s in config.sources] if len(config.sources) <= SOURCE_CHOICES else None,
            "severities": list(SEVERITY_RANK),
            "states": list(states),
            "languages": list(LANGUAGES),
        }

    def alerts(self, query: Mapping[str, str]) -> str:
        shown = {"limit": str(ALERTS_PER_PAGE)} | dict(query)
        alerts, page = api.alerts_page(self.app, shown)
        f = DeskFilter.parse(query, self.app.clock())
        return self.render(
            "alerts.html",
            refresh=REFRESH,
            alerts=alerts,
            rows={row["id"]: row for row in page.rows},
            page=page,
            query=dict(query),
            filter=f.query(),
            choices=self.choices(),
            filter_values=dict(query),
        )

    def outbox(self, token_needed: bool, allowed: bool, message: str | None = None,
               query: Mapping[str, str] | None = None) -> str:  # fmt: skip
        values = {k: v for k, v in (query or {}).items() if v}
        if not values:
            return super().outbox(token_needed, allowed, message)
        now = self.app.clock()
        f = DeskFilter.parse(values, now)
        groups = {s: self.app.store.delivery_rows(f, now, s, api.MAX_LIMIT)[0] for s in OUTBOX_STATUSES}
        counts = {s: self.app.store.delivery_rows(f, now, s, 1)[1] for s in (*OUTBOX_STATUSES, "sent", "skipped")}
        return self.render("outbox.html", refresh=REFRESH, groups=groups, counts=counts, token_needed=token_needed,
                           allowed=allowed, message=message, filter_values=values, choices=self.choices())  # fmt: skip

    def render(self, name: str, private: bool = True, **values: Any) -> str:
        values.setdefault("filter_values", {})
        values.setdefault("choices", self.choices())
        values.setdefault("user", self.user)
        values.setdefault("reload_warning", self.app.reload_warning if private else None)
        return super().render(name, private, **values)

    # -- sign-in -----------------------------------------------------------------------------------------------
    def login(self, error: str | None, back: str) -> str:
        return self.render("login.html", error=error, back=back if back.startswith("/") else "/")

    # -- an alert ----------------------------------------------------------------------------------------------
    def alert_detail_json(self, alert_id: int) -> dict[str, Any]:
        d = desk.alert_desk(self.app, alert_id)
        return api.alert_json(d.alert) | {
            "triage": desk.triage_json(d.triage),
            "history": [desk.event_json(e) for e in d.history],
            "verdicts": [desk.verdict_json(v) for v in d.verdicts],
        }

    def alert_page(self, alert_id: int, user: Credential | None, done: str | None) -> str:
        d = desk.alert_desk(self.app, alert_id)
        return self.render("alert.html", d=d, a=d.alert, user=user, done=done, spans=MUTE_SPANS,
                           documents=docpages.alert_documents(self.app, d.alert))  # fmt: skip

    def link_page(self, alert_id: int, token: str, subscriber: str, done: str | None) -> str:
        """What a message's verdict link opens: the alert, and one button per verdict (a GET records nothing)."""
        d = desk.alert_desk(self.app, alert_id)
        return self.render("verdict_link.html", a=d.alert, token=token, subscriber=subscriber, done=done,
                           said=d.verdict_on())  # fmt: skip

    # -- items -------------------------------------------------------------------------------------------------
    def items_page(self, query: Mapping[str, str]) -> str:
        page = api.items_page(self.app, {"limit": "50"} | dict(query))
        return self.render("items.html", page=page, query=dict(query), filter_values=dict(query),
                           choices=self.choices(ITEM_STATES))  # fmt: skip

    def item_page(self, item_id: int, user: Credential | None, done: str | None) -> str:
        stored = self.app.store.get_item(item_id)
        now_fires = self.app.watchlist.match(stored.item)  # with the body its documents give it (get_item)
        return self.render(
            "item.html",
            s=stored,
            fires=now_fires,
            aside=self.app.watchlist.set_aside(stored.item),
            alerts=self.app.store.alerts_of_item(item_id),
            verdicts=self.app.store.verdicts(item_id=item_id),
            documents=docpages.item_documents(self.app, item_id),
            watches=[w.id for w in self.app.config.watches],
            user=user,
            done=done,
        )

    # -- mutes -------------------------------------------------------------------------------------------------
    def mutes_json(self) -> list[dict[str, Any]]:
        from ..views import iso

        return [
            {
                "kind": m.kind,
                "target": m.target,
                "until": iso(m.until),
                "note": m.note,
                "by": m.created_by,
                "since": iso(m.created_at),
            }
            for m in self.app.store.mutes(self.app.clock())
        ]

    def mutes_page(self, user: Credential | None, done: str | None) -> str:
        return self.render("mutes.html", mutes=self.app.store.mutes(self.app.clock()), user=user, done=done,
                           spans=MUTE_SPANS, choices=self.choices())  # fmt: skip

    # -- evaluation and impact ---------------------------------------------------------------------------------
    def evaluation(self) -> VerdictReport:
        return evaluate_verdicts(self.app.store, self.app.watchlist)

    def evaluation_page(self) -> str:
        return self.render("evaluation.html", report=self.evaluation())

    def candidate(self) -> tuple[Config, Watchlist]:
        """The configuration on disk, compiled with the running analyzer (its caches are warm)."""
        from ..app import compile_config

        if self.app.config_path is None:
            raise ConfigError(["this console runs without a configuration folder: nothing to compare"])
        return compile_config(self.app.config_path, analyzer=self.app.watchlist.analyzer)

    def impact(self, days: int) -> Impact:
        from datetime import timedelta

        config, watchlist = self.candidate()
        since = self.app.clock() - timedelta(days=days)
        only = changed_watches(self.app.config, config)
        return impact(self.app.store, self.app.watchlist, watchlist, since, only=only)

    def impact_page(self, days: int, user: Credential | None, done: str | None) -> str:
        try:
            result, problems = self.impact(days), None
        except ConfigError as exc:
            result, problems = None, exc.problems
        reloadable = self.app.reloader is not None
        return self.render("impact.html", result=result, problems=problems, days=days, user=user, done=done,
                           reloadable=reloadable)  # fmt: skip

    def apply_reload(self, actor: str) -> str:
        """Reload now, as SIGHUP does; a reload that loses alerts the desk called correct says so in the log."""
        reloader = self.app.reloader
        if reloader is None:
            return "no daemon here to reload"
        lost = self.impact(30).correct_lost
        if lost:
            log.warning("reload by %s loses %d alerts the desk called correct: %s", actor, len(lost),
                        ", ".join(f"item {f.change.item_id} {f.change.watch}" for f in lost))  # fmt: skip
        if not reloader(f"console, by {actor}"):
            return "reload failed: " + (self.app.reload_error or "see the log").splitlines()[0]
        return "reloaded" + (f"; {len(lost)} alerts called correct would no longer fire" if lost else "")
