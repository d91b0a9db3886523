"""The desk's SQL: triage states, mutes, the history of who changed what, and the shared list filter (filters.py)
as WHERE clauses for alerts, the outbox and items. A mixin of SqlStore, on both engines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..config.models import SEVERITY_RANK
from ..errors import FilterError, NotFoundError
from ..filters import DeskFilter
from .base import Row, StoreBase, Tx, dt, dt_req, ts
from .models import Delivery, DeskEvent, Mute, StoredItem, Triage

log = logging.getLogger("treatywatch.desk")

MUTE_KINDS = ("alert", "watch", "agreement", "source")
TRIAGE_ACTIONS = ("acknowledge", "assign", "resolve", "reopen")
_STATE_AFTER = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "open"}


def _like(value: str) -> str:
    """A JSON list's member as a LIKE pattern: `"id"` anywhere in it, wildcards in the value taken literally."""
    return '%"' + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'


def _severities(minimum: str) -> list[str]:
    return [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK[minimum]]


def _mute(r: Row) -> Mute:
    return Mute(r["kind"], r["target"], dt_req(r["ends_at"]), r["note"], dt_req(r["created_at"]), r["created_by"])


class DeskStore(StoreBase):
    """Triage, mutes and filters. The text filter is the engine's full-text index (`_text_condition`)."""

    def _delivery(self, r: Row) -> Delivery:
        raise NotImplementedError  # SqlStore's

    def _stored_item(self, r: Row) -> StoredItem:
        raise NotImplementedError  # SqlStore's

    def _text_condition(self, item_id_sql: str, text: str) -> tuple[str, list[Any]]:
        """SQL true when the item `item_id_sql` holds every word of `text` (case and accents folded)."""
        raise NotImplementedError

    # -- filters ---------------------------------------------------------------------------------------------
    def _alert_where(self, f: DeskFilter, now: datetime) -> tuple[str, list[Any]]:
        """WHERE conditions on `alerts` for this filter (`1=1` for none)."""
        conds, params = ["1=1"], list[Any]()
        reports = (
            "EXISTS (SELECT 1 FROM alert_reports ar JOIN items i ON i.id = ar.item_id WHERE ar.alert_id = alerts.id"
        )
        if f.watch:
            conds.append("alerts.watches LIKE ? ESCAPE '\\'")
            params.append(_like(f.watch))
        if f.severity:
            levels = _severities(f.severity)
            conds.append(f"alerts.severity IN ({', '.join('?' * len(levels))})")
            params += levels
        if f.agreement:
            conds.append("alerts.agreements LIKE ? ESCAPE '\\'")
            params.append(_like(f.agreement))
        if f.source:
            conds.append(f"{reports} AND i.source_id = ?)")
            params.append(f.source)
        if f.language:
            conds.append(f"{reports} AND i.language = ?)")
            params.append(f.language)
        if f.text:
            sql, extra = self._text_condition("i.id", f.text)
            conds.append(f"{reports} AND {sql})")
            params += extra
        if f.state == "muted":
            conds.append(
                "EXISTS (SELECT 1 FROM mutes m WHERE m.kind = 'alert' AND m.target = CAST(alerts.id AS TEXT)"
                " AND m.ends_at > ?)"
            )
            params.append(ts(now))
        elif f.state:
            conds.append("COALESCE((SELECT t.state FROM alert_triage t WHERE t.alert_id = alerts.id), 'open') = ?")
            params.append(f.state)
        if f.assignee:
            conds.append("(SELECT t.assignee FROM alert_triage t WHERE t.alert_id = alerts.id) = ?")
            params.append(f.assignee)
        if f.since:
            conds.append("alerts.created_at >= ?")
            params.append(ts(f.since))
        if f.until:
            conds.append("alerts.created_at <= ?")
            params.append(ts(f.until))
        return " AND ".join(conds), params

    def alert_ids(self, f: DeskFilter, now: datetime, limit: int, offset: int = 0) -> tuple[list[int], int]:
        """Ids of the alerts this filter lets through, newest first, one page; and how many there are in all."""
        where, params = self._alert_where(f, now)
        total = int(self._rows(f"SELECT count(*) AS n FROM alerts WHERE {where}", params)[0]["n"])
        rows = self._rows(f"SELECT id FROM alerts WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                          [*params, limit, offset])  # fmt: skip
        return [int(r["id"]) for r in rows], total

    def delivery_rows(
        self, f: DeskFilter, now: datetime, status: str | None, limit: int, offset: int = 0
    ) -> tuple[list[Delivery], int]:
        """The outbox's rows whose alert this filter lets through (and of this status), newest first; the total."""
        where, params = self._alert_where(f, now)
        sql = f" FROM deliveries WHERE alert_id IN (SELECT alerts.id FROM alerts WHERE {where})"
        if status:
            sql += " AND status = ?"
            params = [*params, status]
        total = int(self._rows("SELECT count(*) AS n" + sql, params)[0]["n"])
        rows = self._rows("SELECT *" + sql + " ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [self._delivery(r) for r in rows], total

    def _item_where(self, f: DeskFilter) -> tuple[str, list[Any]]:
        conds, params = ["1=1"], list[Any]()
        if f.watch:
            conds.append("EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id AND m.watch_id = ?)")
            params.append(f.watch)
        if f.severity:
            levels = _severities(f.severity)
            conds.append(
                "EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id AND m.severity IN"
                f" ({', '.join('?' * len(levels))}))"
            )
            params += levels
        in_alert = (
            "EXISTS (SELECT 1 FROM alert_reports ar JOIN alerts a ON a.id = ar.alert_id WHERE ar.item_id = items.id"
        )
        if f.agreement:
            conds.append(f"{in_alert} AND a.agreements LIKE ? ESCAPE '\\')")
            params.append(_like(f.agreement))
        if f.assignee:
            conds.append(f"{in_alert} AND (SELECT t.assignee FROM alert_triage t WHERE t.alert_id = a.id) = ?)")
            params.append(f.assignee)
        if f.source:
            conds.append("items.source_id = ?")
            params.append(f.source)
        if f.language:
            conds.append("items.language = ?")
            params.append(f.language)
        if f.text:
            sql, extra = self._text_condition("items.id", f.text)
            conds.append(sql)
            params += extra
        matched = "EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id)"
        alerted = "EXISTS (SELECT 1 FROM alert_reports ar WHERE ar.item_id = items.id)"
        if f.state == "alerted":
            conds.append(alerted)
        elif f.state == "quiet":
            conds.append(f"{matched} AND NOT {alerted}")
        elif f.state == "unmatched":
            conds.append(f"NOT {matched}")
        elif f.state:
            raise FilterError(f"items: state must be alerted, quiet or unmatched, got {f.state!r}")
        if f.since:
            conds.append("items.first_seen >= ?")
            params.append(ts(f.since))
        if f.until:
            conds.append("items.first_seen <= ?")
            params.append(ts(f.until))
        return " AND ".join(conds), params

    def item_rows(self, f: DeskFilter, limit: int, offset: int = 0) -> tuple[list[StoredItem], int]:
        """Stored items this filter lets through, newest first, one page; and the total."""
        where, params = self._item_where(f)
        total = int(self._rows(f"SELECT count(*) AS n FROM items WHERE {where}", params)[0]["n"])
        rows = self._rows(f"SELECT * FROM items WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                          [*params, limit, offset])  # fmt: skip
        return [self._stored_item(r) for r in rows], total

    def alerts_of_item(self, item_id: int) -> list[int]:
        """The alerts this item is a report of."""
        rows = self._rows("SELECT alert_id FROM alert_reports WHERE item_id = ? ORDER BY alert_id", [item_id])
        return [int(r["alert_id"]) for r in rows]

    # -- triage ----------------------------------------------------------------------------------------------
    def _event(self, conn: Tx, kind: str, target: str, action: str, detail: str, actor: str, now: datetime) -> None:
        conn.execute(
            "INSERT INTO desk_events (kind, target, action, detail, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, target, action, detail, actor, ts(now)),
        )

    def triage(self, alert_id: int, action: str, actor: str, now: datetime, assignee: str | None = None) -> Triage:
        """Acknowledge, assign (to `assignee`; None or '' takes it off anyone), resolve or reopen an alert;
        recorded with who and when. Returns the alert's triage after the change."""
        if action not in TRIAGE_ACTIONS:
            raise FilterError(f"action must be one of {', '.join(TRIAGE_ACTIONS)}, got {action!r}")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone() is None:
                raise NotFoundError(f"no alert {alert_id}")
            conn.execute(
                "INSERT INTO alert_triage (alert_id, state, assignee, updated_at, updated_by) VALUES (?, 'open',"
                " NULL, ?, ?) ON CONFLICT (alert_id) DO NOTHING",
                (alert_id, ts(now), actor),
            )
            if action == "assign":
                who = (assignee or "").strip() or None
                conn.execute(
                    "UPDATE alert_triage SET assignee = ?, updated_at = ?, updated_by = ? WHERE alert_id = ?",
                    (who, ts(now), actor, alert_id),
                )
                detail = f"to {who}" if who else "to nobody"
            else:
                conn.execute(
                    "UPDATE alert_triage SET state = ?, updated_at = ?, updated_by = ? WHERE alert_id = ?",
                    (_STATE_AFTER[action], ts(now), actor, alert_id),
                )
                detail = ""
            self._event(conn, "alert", str(alert_id), action, detail, actor, now)
        return self.triage_states([alert_id], now)[alert_id]

    def triage_states(self, alert_ids: Iterable[int], now: datetime) -> dict[int, Triage]:
        """Each alert's triage (an alert nobody touched is open, unassigned, unmuted)."""
        ids = list(alert_ids)
        out = {i: Triage() for i in ids}
        if not ids:
            return out
        marks = ", ".join("?" * len(ids))
        for r in self._rows(f"SELECT * FROM alert_triage WHERE alert_id IN ({marks})", ids):
            out[int(r["alert_id"])] = Triage(r["state"], r["assignee"], dt(r["updated_at"]), r["updated_by"])
        rows = self._rows(
            f"SELECT * FROM mutes WHERE kind = 'alert' AND target IN ({marks}) AND ends_at > ?",
            [*(str(i) for i in ids), ts(now)],
        )
        for r in rows:
            t = out[int(r["target"])]
            out[int(r["target"])] = Triage(t.state, t.assignee, t.updated_at, t.updated_by, dt(r["ends_at"]),
                                           r["created_by"])  # fmt: skip
        return out

    # -- mutes -----------------------------------------------------------------------------------------------
    def mute(self, kind: str, target: str, until: datetime, actor: str, now: datetime, note: str = "") -> int:
        """Mute an alert, a watch, an agreement or a source until `until`: nothing is queued for it meanwhile, and
        what was queued and not yet sent is settled as skipped (returns how many deliveries that was)."""
        if kind not in MUTE_KINDS:
            raise FilterError(f"mute: kind must be one of {', '.join(MUTE_KINDS)}, got {kind!r}")
        if until <= now:
            raise FilterError("mute: the end must be in the future")
        with self.transaction() as conn:
            if kind == "alert" and conn.execute("SELECT 1 FROM alerts WHERE id = ?", (int(target),)).fetchone() is None:
                raise NotFoundError(f"no alert {target}")
            conn.execute(
                "INSERT INTO mutes (kind, target, ends_at, note, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (kind, target) DO UPDATE SET ends_at = excluded.ends_at, note = excluded.note,"
                " created_at = excluded.created_at, created_by = excluded.created_by",
                (kind, target, ts(until), note, ts(now), actor),
            )
            said = f"until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC" + (f": {note}" if note else "")
            self._event(conn, kind, target, "mute", said, actor, now)
            # what was queued and is now muted, by muted_reason's rules: an alert that only this watch fired, whose
            # reports all came from this source, or that concerns this agreement
            choices: dict[str, tuple[str, list[Any]]] = {
                "alert": ("alerts.id = ?", [int(target) if kind == "alert" else 0]),
                "watch": ("alerts.watches = ?", [json.dumps([target])]),
                "agreement": ("alerts.agreements LIKE ? ESCAPE '\\'", [_like(target)]),
                "source": (
                    "NOT EXISTS (SELECT 1 FROM alert_reports ar JOIN items i ON i.id = ar.item_id WHERE ar.alert_id ="
                    " alerts.id AND i.source_id <> ?)",
                    [target],
                ),
            }
            alerts = choices[kind]
            why = f"muted: {kind} {target} until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC by {actor}"
            cur = conn.execute(
                f"UPDATE deliveries SET status = 'skipped', last_error = ?{self._unclaim} WHERE status IN"
                f" ('pending', 'failed') AND claimed_by IS NULL AND alert_id IN (SELECT alerts.id FROM alerts"
                f" WHERE {alerts[0]})",
                [why, *alerts[1]],
            )
            skipped = cur.rowcount
        if skipped:
            log.info("%s: %d queued deliveries skipped", why, skipped)
        return skipped

    _unclaim = ""  # SqlStore's: a settled delivery's claim goes back with it

    def unmute(self, kind: str, target: str, actor: str, now: datetime) -> bool:
        """End a mute now; False when there was none running."""
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM mutes WHERE kind = ? AND target = ? AND ends_at > ?", (kind, target, ts(now))
            )
            if cur.rowcount:
                self._event(conn, kind, target, "unmute", "", actor, now)
            return bool(cur.rowcount)

    def mutes(self, now: datetime) -> list[Mute]:
        """The mutes still running, soonest to end first."""
        return [_mute(r) for r in self._rows("SELECT * FROM mutes WHERE ends_at > ? ORDER BY ends_at", [ts(now)])]

    def muted_reason(
        self,
        conn: Tx,
        now: datetime,
        alert_id: int | None,
        watches: Iterable[str],
        agreements: Iterable[str],
        sources: Iterable[str],
    ) -> str | None:
        """Inside a poll's transaction: why nothing may be queued for this alert or report now, or None. Muted are:
        the alert; any agreement it concerns; every watch that fired (one fired watch not muted still speaks);
        every source its reports came from."""
        rows = conn.execute("SELECT * FROM mutes WHERE ends_at > ?", (ts(now),)).fetchall()
        if not rows:
            return None
        running = {(r["kind"], r["target"]): _mute(r) for r in rows}

        def said(m: Mute) -> str:
            return f"{m.kind} {m.target} muted until {m.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC by {m.created_by}"

        if alert_id is not None and (m := running.get(("alert", str(alert_id)))):
            return said(m)
        for agreement in sorted(agreements):
            if m := running.get(("agreement", agreement)):
                return said(m)
        for kind, names in (("watch", sorted(watches)), ("source", sorted(sources))):
            found = [running.get((kind, n)) for n in names]
            if names and all(found):
                return "; ".join(said(m) for m in found if m)
        return None

    def history(self, kind: str, target: str, limit: int = 100) -> list[DeskEvent]:
        """What was done to this alert (watch, agreement, source, item), oldest first."""
        rows = self._rows(
            "SELECT * FROM desk_events WHERE kind = ? AND target = ? ORDER BY id LIMIT ?", [kind, target, limit]
        )
        return [
            DeskEvent(int(r["id"]), r["kind"], r["target"], r["action"], r["detail"], r["actor"], dt_req(r["at"]))
            for r in rows
        ]
