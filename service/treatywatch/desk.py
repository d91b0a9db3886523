"""The desk's actions, shared by the console, the JSON API and the command line, so each means the same there:
triage an alert, mute something for a while, give a verdict. Arguments are checked against the running
configuration here (a mute of a watch that does not exist is refused, not stored); the store records who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .config.common import parse_duration
from .errors import FilterError, NotFoundError
from .store.desk import MUTE_KINDS, TRIAGE_ACTIONS
from .store.models import AlertView, DeskEvent, Triage, Verdict
from .store.sources import SOURCE_ACTIONS
from .views import iso

if TYPE_CHECKING:
    from .app import App

ACTIONS = (*TRIAGE_ACTIONS, "mute", "unmute")
MAX_MUTE = 90 * 86400.0  # a mute is for a while: longer is a change to the watchlist
MAX_NOTE = 2000


def mute_span(raw: str | None) -> float:
    """How long a mute lasts: 2h, 1d, 1w (default 1 day); at most 90 days."""
    try:
        seconds = parse_duration((raw or "").strip() or "1d")
    except ValueError:
        raise FilterError(f"'{raw}' is not a span: 30m, 4h, 1d, 1w") from None
    if not 0 < seconds <= MAX_MUTE:
        raise FilterError("a mute lasts between a minute and 90 days")
    return seconds


def _check_target(app: App, kind: str, target: str) -> None:
    config = app.config
    known: dict[str, list[str]] = {
        "watch": [w.id for w in config.watches],
        "agreement": [a.id for a in config.agreements],
        "source": [s.id for s in config.sources],
    }
    if kind == "alert":
        if not target.isdigit():
            raise FilterError(f"an alert is named by its number, not {target!r}")
        app.store.alert(int(target))  # NotFoundError when there is none
    elif kind not in MUTE_KINDS:
        raise FilterError(f"mute: kind must be one of {', '.join(MUTE_KINDS)}, got {kind!r}")
    elif target not in known[kind]:
        raise NotFoundError(f"no {kind} {target!r} in the configuration")


def mute(app: App, kind: str, target: str, span: str | None, actor: str, note: str = "") -> datetime:
    """Mute an alert, a watch, an agreement or a source for `span`; returns when it ends."""
    _check_target(app, kind, target)
    now = app.clock()
    until = now + timedelta(seconds=mute_span(span))
    app.store.mute(kind, target, until, actor, now, note.strip()[:MAX_NOTE])
    return until


def unmute(app: App, kind: str, target: str, actor: str) -> bool:
    return app.store.unmute(kind, target, actor, app.clock())


def triage(
    app: App, alert_id: int, action: str, actor: str, *, assignee: str | None = None, span: str | None = None,
    note: str = "",
) -> Triage:  # fmt: skip
    """acknowledge, assign, resolve, reopen, mute (for `span`) or unmute one alert."""
    if action == "mute":
        mute(app, "alert", str(alert_id), span, actor, note)
    elif action == "unmute":
        app.store.alert(alert_id)
        unmute(app, "alert", str(alert_id), actor)
    elif action in TRIAGE_ACTIONS:
        app.store.triage(alert_id, action, actor, app.clock(), assignee=assignee)
    else:
        raise FilterError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    return app.store.triage_states([alert_id], app.clock())[alert_id]


def source_action(app: App, source_id: str, action: str, actor: str) -> str:
    """pause, resume or poll-now a configured source (the operator's); says what was done, for the page or the
    terminal. Poll now makes it due at once: the daemon claims it on its next look at the store."""
    if source_id not in {s.id for s in app.config.sources}:
        raise NotFoundError(f"no source {source_id!r} in the configuration")
    now, store = app.clock(), app.store
    if action == "pause":
        return f"{source_id} paused" if store.pause_source(source_id, actor, now) else f"{source_id} was paused"
    if action == "resume":
        done = store.resume_source(source_id, actor, now)
        if done and app.poll_soon is not None:
            app.poll_soon(source_id)
        return f"{source_id} resumed, polled now" if done else f"{source_id} was not paused"
    if action == "poll-now":
        store.poll_source_now(source_id, actor, now)
        if app.poll_soon is not None:
            app.poll_soon(source_id)
        return f"{source_id}: poll scheduled now"
    raise FilterError(f"action must be one of {', '.join(SOURCE_ACTIONS)}, got {action!r}")


VERDICT_WORDS = {"correct": "correct", "false-alarm": "false_alarm", "false_alarm": "false_alarm", "miss": "miss"}


def verdict(
    app: App, said: str, actor: str, *, alert_id: int | None = None, item_id: int | None = None,
    watch: str | None = None, note: str = "",
) -> Verdict:  # fmt: skip
    """correct / false alarm on an alert (or one report of it); miss: the item should have fired `watch`."""
    kind = VERDICT_WORDS.get(said.strip().lower())
    if kind is None:
        raise FilterError(f"verdict must be correct, false-alarm or miss, got {said!r}")
    if kind == "miss" and watch not in {w.id for w in app.config.watches}:
        raise NotFoundError(f"no watch {watch!r} in the configuration")
    return app.store.set_verdict(
        kind, actor, app.clock(), alert_id=alert_id, item_id=item_id, watch_id=watch, note=note[:MAX_NOTE]
    )


@dataclass(frozen=True)
class AlertDesk:
    """An alert with everything the desk said and did about it."""

    alert: AlertView
    triage: Triage
    history: list[DeskEvent]
    verdicts: list[Verdict]

    def verdict_on(self, item_id: int | None = None) -> Verdict | None:
        subject = f"report:{self.alert.id}:{item_id}" if item_id is not None else f"alert:{self.alert.id}"
        return next((v for v in self.verdicts if v.subject == subject), None)


def alert_desk(app: App, alert_id: int) -> AlertDesk:
    alert = app.store.alert(alert_id)
    now = app.clock()
    return AlertDesk(
        alert,
        app.store.triage_states([alert_id], now)[alert_id],
        app.store.history("alert", str(alert_id)),
        app.store.verdicts(alert_id=alert_id),
    )


def triage_json(t: Triage) -> dict[str, Any]:
    return {
        "state": t.state,
        "assignee": t.assignee,
        "updated_at": iso(t.updated_at),
        "updated_by": t.updated_by,
        "muted_until": iso(t.muted_until),
        "muted_by": t.muted_by,
    }


def event_json(e: DeskEvent) -> dict[str, Any]:
    return {"action": e.action, "detail": e.detail, "by": e.actor, "at": iso(e.at)}


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "verdict": v.verdict,
        "alert_id": v.alert_id,
        "item_id": v.item_id,
        "watch": v.watch_id,
        "note": v.note,
        "by": v.actor,
        "at": iso(v.at),
    }
