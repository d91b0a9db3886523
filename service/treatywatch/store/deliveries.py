"""The outbox's SQL: due deliveries, claims (message by message, renewed before the send), and what each sent
message carried (delivery_reports), so that a follow-up says exactly what a channel has not had. A mixin of SqlStore,
on both engines; PostgreSQL overrides the claim clock (the server's) and adds SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from .base import Row, StoreBase, dt, dt_req, ts
from .models import Delivery


def _carried(subscriber: str, channel: str) -> str:
    """SQL for "this alert report (`ar`) reached this channel": a sent delivery rendered it (delivery_reports) at its
    current version (a report whose document named more agreements is news again: schema v6), or
    a delivery sent before that record existed (schema v2 and earlier) was sent after the report joined, as it was
    judged then. `subscriber` and `channel` are SQL: `?` or a column of the outer query."""
    return (
        "(EXISTS (SELECT 1 FROM delivery_reports dr JOIN deliveries d ON d.id = dr.delivery_id"
        f" WHERE dr.item_id = ar.item_id AND dr.version >= ar.version AND d.alert_id = ar.alert_id"
        f" AND d.subscriber_id = {subscriber}"
        f" AND d.channel = {channel} AND d.status = 'sent')"
        f" OR EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = ar.alert_id AND d.subscriber_id = {subscriber}"
        f" AND d.channel = {channel} AND d.status = 'sent' AND d.sent_at >= ar.added_at"
        " AND NOT EXISTS (SELECT 1 FROM delivery_reports dr WHERE dr.delivery_id = d.id)))"
    )


class DeliveryStore(StoreBase):
    # SQL appended to the outbox's status updates: a settled delivery's claim goes back with them
    _unclaim = ", claimed_by = NULL, claim_expires = NULL"
    lease: float = 60.0  # seconds a claim on a delivery (PostgreSQL: and a source) outlives a process that died

    def carried_items(self, alert_id: int, subscriber_id: str, channel: str) -> frozenset[int]:
        """The alert's reports this channel already received, by item id: exactly what sent messages rendered
        (delivery_reports)."""
        rows = self._rows(
            f"SELECT ar.item_id FROM alert_reports ar WHERE ar.alert_id = ? AND {_carried('?', '?')}",
            [alert_id, subscriber_id, channel, subscriber_id, channel],
        )
        return frozenset(int(r["item_id"]) for r in rows)

    def _delivery(self, r: Row) -> Delivery:
        return Delivery(
            r["id"],
            r["alert_id"],
            r["kind"],
            r["subscriber_id"],
            r["channel"],
            r["channel_label"],
            r["mode"],
            r["status"],
            r["attempts"],
            dt_req(r["next_attempt"]),
            r["last_error"],
            dt_req(r["created_at"]),
            dt(r["sent_at"]),
        )

    # How a claim's expiry is written and compared: this process's clock on SQLite (one machine), the server's on
    # PostgreSQL (the one clock every daemon shares); postgres.py overrides both.
    def _claim_until(self, now: datetime, hold: float | None = None) -> tuple[str, list[object]]:
        """`hold`: seconds this claim lasts, when the work takes longer than `lease` (reading a document)."""
        return "?", [ts(now + timedelta(seconds=self.lease if hold is None else hold))]

    def _claim_now(self, now: datetime) -> tuple[str, list[object]]:
        return "?", [ts(now)]

    _skip_locked = ""  # PostgreSQL: FOR UPDATE SKIP LOCKED, so two daemons claiming at once never wait on each other

    def due_deliveries(self, now: datetime) -> list[Delivery]:
        """What the outbox may send now: due, and not claimed by another live process. Reading claims nothing;
        the outbox claims each message's deliveries just before it sends them (claim_deliveries)."""
        expired, params = self._claim_now(now)
        rows = self._rows(
            "SELECT * FROM deliveries WHERE status IN ('pending', 'failed') AND next_attempt <= ?"
            f" AND (claimed_by IS NULL OR claimed_by = ? OR claim_expires < {expired}) ORDER BY next_attempt, id",
            [ts(now), self.owner, *params],
        )
        return [self._delivery(r) for r in rows]

    def claim_deliveries(self, ids: list[int], now: datetime) -> set[int]:
        """Claim these deliveries for this process, for `lease` seconds; returns those it got (still unsent and
        not held by another live process). Only a claimed delivery is sent.

        A channel receives an alert's messages in order: a delivery waits while an earlier one of the same alert
        and channel (outside this batch) is unsent, so a follow-up is never rendered while the alert's own message
        is on its way through another daemon, or failing, and would repeat its reports."""
        if not ids:
            return set()
        until, until_params = self._claim_until(now)
        expired, now_params = self._claim_now(now)
        marks = ", ".join("?" * len(ids))
        with self.transaction() as conn:
            rows = conn.execute(
                f"UPDATE deliveries SET claimed_by = ?, claim_expires = {until} WHERE id IN (SELECT c.id FROM"
                f" deliveries c WHERE c.id IN ({marks}) AND c.status IN ('pending', 'failed') AND (c.claimed_by IS"
                f" NULL OR c.claimed_by = ? OR c.claim_expires < {expired}) AND NOT EXISTS (SELECT 1 FROM deliveries"
                " o WHERE o.alert_id = c.alert_id AND o.subscriber_id = c.subscriber_id AND o.channel = c.channel"
                f" AND o.id < c.id AND o.status IN ('pending', 'failed') AND o.id NOT IN ({marks}))"
                f" ORDER BY c.id{self._skip_locked}) RETURNING id",
                [self.owner, *until_params, *ids, self.owner, *now_params, *ids],
            ).fetchall()
        return {int(r["id"]) for r in rows}

    def renew_claims(self, ids: list[int], now: datetime) -> set[int]:
        """Just before sending: extend this process's claim; returns the ids it still holds unsent. A delivery
        missing from the answer was taken over (this process was too slow) or settled meanwhile: not sent."""
        if not ids:
            return set()
        until, until_params = self._claim_until(now)
        with self.transaction() as conn:
            rows = conn.execute(
                f"UPDATE deliveries SET claim_expires = {until} WHERE id IN ({', '.join('?' * len(ids))})"
                " AND claimed_by = ? AND status IN ('pending', 'failed') RETURNING id",
                [*until_params, *ids, self.owner],
            ).fetchall()
        return {int(r["id"]) for r in rows}

    def release_deliveries(self) -> None:
        """A clean stop: this process's claims go back at once instead of expiring."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = ?", (self.owner,)
            )

    def deliveries(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Delivery]:
        sql, params = "SELECT * FROM deliveries", list[object]()
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [self._delivery(r) for r in rows]

    def mark_sent(
        self,
        carried: Mapping[int, Mapping[int, int] | Iterable[int]],
        now: datetime,
        followup_at: datetime | None = None,
    ) -> None:
        """Deliveries sent, each with the reports its message rendered (item id -> the report's version it rendered;
        a plain list of item ids: version 0): what the channel now has.

        A report that joined the alert while this message was on its way found a follow-up of this channel
        pending (this one, or the alert's) and queued none of its own; with `followup_at`, a follow-up is queued
        here for whatever the channel still lacks, so no report waits for a next one that may never come."""
        with self.transaction() as conn:
            for i, items in carried.items():
                conn.execute(
                    "UPDATE deliveries SET status='sent', sent_at=?, attempts=attempts+1, last_error=NULL"
                    f"{self._unclaim} WHERE id=?",
                    (ts(now), i),
                )
                versions = items.items() if isinstance(items, Mapping) else ((item, 0) for item in items)
                for item_id, version in versions:
                    conn.execute(
                        "INSERT INTO delivery_reports (delivery_id, item_id, version) VALUES (?, ?, ?)"
                        " ON CONFLICT (delivery_id, item_id) DO UPDATE SET version = excluded.version",
                        (i, item_id, version),
                    )
            if followup_at is None:
                return
            for i in carried:
                conn.execute(
                    "INSERT INTO deliveries (alert_id, kind, subscriber_id, channel, channel_label, mode,"
                    " next_attempt, created_at) SELECT s.alert_id, 'followup', s.subscriber_id, s.channel,"
                    " s.channel_label, s.mode, ?, ? FROM deliveries s WHERE s.id = ? AND EXISTS (SELECT 1 FROM"
                    " alert_reports ar WHERE ar.alert_id = s.alert_id AND NOT"
                    f" {_carried('s.subscriber_id', 's.channel')}) ON CONFLICT DO NOTHING",
                    (ts(followup_at), ts(now), i),
                )

    def mark_skipped(self, ids: list[int], reason: str) -> None:
        """Follow-ups with nothing new (an earlier message carried their reports): settled, never 'sent'."""
        with self.transaction() as conn:
            for i in ids:
                conn.execute(
                    f"UPDATE deliveries SET status='skipped', last_error=?{self._unclaim} WHERE id=?", (reason, i)
                )

    def mark_failed(self, ids: list[int], error: str, next_attempt: datetime | None) -> None:
        """A failed attempt: retried at next_attempt, or dead when there is none."""
        status = "failed" if next_attempt is not None else "dead"
        with self.transaction() as conn:
            for i in ids:
                conn.execute(
                    "UPDATE deliveries SET status=?, attempts=attempts+1, last_error=?, next_attempt="
                    f"COALESCE(?, next_attempt){self._unclaim} WHERE id=?",
                    (status, error[:1000], ts(next_attempt), i),
                )

    def retry(self, ids: list[int] | None, now: datetime) -> int:
        """Re-queue dead deliveries (all of them, or these ids) with a fresh attempt count."""
        sql = "UPDATE deliveries SET status='pending', attempts=0, next_attempt=? WHERE status='dead'"
        params: list[object] = [ts(now)]
        if ids:
            sql += f" AND id IN ({', '.join('?' * len(ids))})"
            params += ids
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount
