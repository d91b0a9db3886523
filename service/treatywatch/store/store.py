"""The Store's shared SQL: what SQLite (sqlite.py) and PostgreSQL (postgres.py) both run, with `?` placeholders,
ON CONFLICT and RETURNING. Engine specifics (connections, transactions, full-text search, work sharing) live in
the engine modules; this is still the only place where the pipeline's tables are read and written."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property

from ..alerts import AlertPlan, NewAlert, OpenAlert, Report, same_event, stored_fingerprint
from ..errors import NotFoundError, StoreConflict
from ..items import Item
from ..matching.explain import match_from_dict, match_to_dict
from ..notify.routing import DeliverySpec
from .base import Row, Tx, dt, dt_req, ts
from .claims import Release, SourceClaims
from .deliveries import DeliveryStore
from .documents import DocumentStore, DocumentWant, text_names
from .models import AlertView, KnownItem, ReportView, SourceState, StoredItem
from .sources import SourceControl
from .verdicts import VerdictStore

__all__ = ["SqlStore", "dt", "dt_req", "ts"]
log = logging.getLogger("treatywatch.store")


def _item(row: Row) -> Item:
    return Item(
        source_id=row["source_id"],
        key=row["key"],
        title=row["title"],
        link=row["link"],
        summary=row["summary"],
        published=dt(row["published"]),
        language=row["language"],
        untitled=bool(row["untitled"]),
        extra=json.loads(row["extra"] or "{}"),
    )


ROWS_PER_INSERT = 200  # rows of one multi-row INSERT: 2,400 parameters, far below either engine's limit


# what a poll writes: the pause is the desk's (store/sources.py), and a poll finishing must not undo one made meanwhile;
# first_attempt is the store's (the first save's last_attempt)
STATE_FIELDS = [f for f in fields(SourceState) if f.name not in ("paused_at", "paused_by", "first_attempt")]


# the alerts opened since a time: what a poll plans from, and what its commit checks again
_OPEN_ALERTS = (
    "SELECT id, watches, agreements, title, fingerprint, created_at FROM alerts WHERE created_at >= ? ORDER BY id"
)


@dataclass(frozen=True)
class AlertSnapshot:
    """What a thread's last open_alerts() saw: the runner plans from it, then commits."""

    since: datetime
    seen: frozenset[int]  # ids, not the newest id: on PostgreSQL a lower id may commit after a higher one


class SqlStore(DocumentStore, DeliveryStore, VerdictStore, SourceControl, SourceClaims):
    """The shared SQL of both engines. Built once by the CLI from settings.database (open_store); passed to the
    runner, daemon, web and commands."""

    # -- sources ---------------------------------------------------------------------------------------------
    def source_state(self, source_id: str) -> SourceState:
        rows = self._rows("SELECT * FROM sources WHERE id = ?", [source_id])
        return SourceState.from_row(rows[0]) if rows else SourceState(source_id)

    def source_states(self) -> dict[str, SourceState]:
        """One query, not one per source: the status page and each metrics scrape read them all."""
        return {r["id"]: SourceState.from_row(r) for r in self._rows("SELECT * FROM sources ORDER BY id")}

    def _save_state(self, conn: Tx, state: SourceState, release: Release | None = None) -> None:
        row = {f.name: getattr(state, f.name) for f in STATE_FIELDS}  # asdict deep-copies: 0.2 ms a source
        for key in ("last_attempt", "last_success", "next_due"):
            row[key] = ts(row[key])
        row["empty_flag"] = int(state.empty_flag)
        row["first_attempt"] = row["last_attempt"]
        cols = ", ".join(row)
        update = ", ".join(f"{c} = excluded.{c}" for c in row if c not in ("id", "first_attempt"))
        update += ", first_attempt = COALESCE(sources.first_attempt, excluded.first_attempt)"
        conn.execute(
            f"INSERT INTO sources ({cols}) VALUES ({', '.join('?' * len(row))})"
            f" ON CONFLICT (id) DO UPDATE SET {update}",
            list(row.values()),
        )
        if release is not None:
            conn.execute(*self._release(state.id, release.now, release.hold))

    def save_source_state(self, state: SourceState, release: Release | None = None) -> None:
        """The source's state after a poll; with `release`, its claim handed back in the same commit."""
        with self.transaction() as conn:
            self._save_state(conn, state, release)

    # -- items -----------------------------------------------------------------------------------------------
    def known_items(self, source_id: str, keys: list[str]) -> dict[str, KnownItem]:
        out: dict[str, KnownItem] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._rows(
                f"SELECT id, key, content_hash, revision FROM items WHERE source_id = ? AND key IN "
                f"({', '.join('?' * len(chunk))})",
                [source_id, *chunk],
            )
            out.update({r["key"]: KnownItem(r["id"], r["content_hash"], r["revision"]) for r in rows})
        return out

    def adopt_keys(self, source_id: str, legacy: Mapping[str, str]) -> int:
        """Items stored under an old key (`legacy`: new key -> old key) take their new key, unless an item has it
        already; returns how many did. Keys once held the URL a feed was fetched from: without this, a database
        written then would take every such item for new after an upgrade, and alert on it again."""
        new_by_old = {old: new for new, old in legacy.items()}
        found = self.known_items(source_id, list(new_by_old)) if new_by_old else {}
        if not found:
            return 0
        taken = self.known_items(source_id, [new_by_old[old] for old in found])
        moves = [(new_by_old[old], item.id) for old, item in found.items() if new_by_old[old] not in taken]
        with self.transaction() as conn:
            for new, item_id in moves:
                conn.execute("UPDATE items SET key = ? WHERE id = ?", (new, item_id))
        return len(moves)

    def _write_items(
        self, conn: Tx, changed: list[tuple[Item, KnownItem | None]], now: datetime
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Insert new items and store revisions of changed ones; returns (source, key) -> (id, revision). New
        items and revisions go in multi-row statements: a round trip per batch, not per item (PostgreSQL)."""
        ids: dict[tuple[str, str], tuple[int, int]] = {}
        at = ts(now)
        fresh = [item for item, known in changed if known is None]
        for start in range(0, len(fresh), ROWS_PER_INSERT):
            batch = fresh[start : start + ROWS_PER_INSERT]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"] * len(batch))
            params: list[object] = []
            for item in batch:
                params += [
                    item.source_id,
                    item.key,
                    item.title,
                    item.link,
                    item.summary,
                    ts(item.published),
                    item.language,
                    int(item.untitled),
                    item.content_hash,
                    json.dumps(item.extra, ensure_ascii=False),
                    at,
                    at,
                ]
            insert = (
                "INSERT INTO items (source_id, key, title, link, summary, published, language, untitled, content_hash,"
                f" revision, extra, first_seen, last_seen) VALUES {values}"
            )
            rows = self._insert_new_items(conn, insert, params, now)
            ids.update({(r["source_id"], r["key"]): (int(r["id"]), 1) for r in rows})
        for item, known in changed:
            if known is None:
                continue
            ids[(item.source_id, item.key)] = (known.id, known.revision + 1)
            conn.execute(
                "UPDATE items SET title=?, link=?, summary=?, published=?, untitled=?, content_hash=?, revision=?,"
                " extra=?, last_seen=? WHERE id=?",
                (
                    item.title,
                    item.link,
                    item.summary,
                    ts(item.published),
                    int(item.untitled),
                    item.content_hash,
                    known.revision + 1,
                    json.dumps(item.extra, ensure_ascii=False),
                    at,
                    known.id,
                ),
            )
        revised = [pair for pair in changed if pair[1] is not None] if self._first_revisions_with_items else changed
        for start in range(0, len(revised), ROWS_PER_INSERT):
            batch = [item for item, _ in revised[start : start + ROWS_PER_INSERT]]
            params = []
            for item in batch:
                item_id, revision = ids[(item.source_id, item.key)]
                params += [item_id, revision, item.title, item.summary, item.content_hash, at]
            values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(batch))
            conn.execute(f"INSERT INTO item_revisions VALUES {values}", params)
        return ids

    _first_revisions_with_items = False  # PostgreSQL: _insert_new_items writes each new item's revision 1 too

    def _insert_new_items(self, conn: Tx, insert: str, params: list[object], now: datetime) -> list[Row]:
        """`insert` (new items, revision 1) run; returns their id, source_id and key. Their revisions follow in a
        statement of their own (PostgreSQL overrides both: one statement)."""
        return list(conn.execute(f"{insert} RETURNING id, source_id, key", params).fetchall())

    def _stored_item(self, r: Row, body: str = "") -> StoredItem:
        item = _item(r)
        return StoredItem(r["id"], item.with_(body=body) if body else item, r["revision"], dt_req(r["first_seen"]))

    def get_item(self, item_id: int) -> StoredItem:
        """The item with its body (the text of its documents read so far): matched again, it fires as it did."""
        rows = self._rows("SELECT * FROM items WHERE id = ?", [item_id])
        if not rows:
            raise NotFoundError(f"no item {item_id}")
        return self._stored_item(rows[0], self.item_body(item_id))

    def items_since(self, since: datetime, source_ids: Iterable[str] | None = None) -> Iterator[StoredItem]:
        sql, params = "SELECT * FROM items WHERE first_seen >= ?", [ts(since)]
        if source_ids is not None:
            ids = list(source_ids)
            sql += f" AND source_id IN ({', '.join('?' * len(ids))})"
            params += ids
        rows = self._rows(sql + " ORDER BY id", params)
        for start in range(0, len(rows), 500):  # with their bodies, read for 500 items at once: back-tests see them
            chunk = rows[start : start + 500]
            bodies = self.item_bodies([int(r["id"]) for r in chunk])
            for r in chunk:
                yield self._stored_item(r, bodies.get(int(r["id"]), ""))

    def search(self, text: str, limit: int = 20) -> list[StoredItem]:
        """The engine's full-text search (FTS5, or PostgreSQL's tsvector); a syntax error is the operator's."""
        return [self._stored_item(r) for r in self.search_rows(text, limit)]

    # -- one poll, one transaction ---------------------------------------------------------------------------
    def matches_by_link(self) -> dict[str, dict[str, frozenset[str]]]:
        """Item link → watch → agreement ids its match named: what an evaluation reads back."""
        out: dict[str, dict[str, frozenset[str]]] = {}
        sql = "SELECT i.link, m.watch_id, m.explanation FROM items i JOIN matches m ON m.item_id = i.id"
        for r in self._rows(sql):
            agreements = frozenset(a["id"] for a in json.loads(r["explanation"]).get("agreements", []))
            out.setdefault(r["link"] or "", {})[r["watch_id"]] = agreements
        return out

    def open_alerts(self, since: datetime) -> list[OpenAlert]:
        """Also remembers, for this thread's commit, which alerts it saw: one opened since by another process is
        news to the plan made from this read (`_before_new_alerts`)."""
        rows = self._rows(_OPEN_ALERTS, [ts(since)])
        self._snapshots.value = AlertSnapshot(since, frozenset(int(r["id"]) for r in rows))
        return self._open_alert_rows(rows)

    @cached_property
    def _snapshots(self) -> threading.local:
        """Per thread: each of a daemon's workers plans from its own read."""
        return threading.local()

    def _alert_snapshot(self) -> AlertSnapshot | None:
        return getattr(self._snapshots, "value", None)

    def _open_alert_rows(self, rows: list[Row]) -> list[OpenAlert]:
        return [
            OpenAlert(
                r["id"],
                frozenset(json.loads(r["watches"])),
                frozenset(json.loads(r["agreements"])),
                stored_fingerprint(r["fingerprint"], r["title"]),
                dt(r["created_at"]),
            )
            for r in rows
        ]

    def commit_poll(
        self,
        state: SourceState,
        changed: list[tuple[Item, KnownItem | None]],
        reports: list[Report],
        plan: AlertPlan,
        deliveries_for_new: list[list[DeliverySpec]],
        deliveries_for_attach: list[list[DeliverySpec]],
        now: datetime,
        seen: list[int] | None = None,
        quiet: list[Report] | None = None,
        documents: list[DocumentWant] | None = None,
        release: Release | None = None,
    ) -> int:
        """Items, matches, alerts and their deliveries: all of it or none of it. Returns the reports that were
        news to an existing alert (revisions of reports it already holds are not). `seen`: ids of items fetched
        again unchanged, whose last_seen moves to now. `quiet`: matches that open no alert (a baseline poll, an
        item too old to alert), stored so search, evaluation and back-tests see what the watches found.
        `documents`: the documents behind these items to queue (each URL once, ever). `release`: the source's claim
        handed back in the same commit."""
        with self.transaction() as conn:
            if plan.new:
                self._before_new_alerts(conn, plan.new, now)
            self._save_state(conn, state, release)
            ids_seen = seen or []
            for start in range(0, len(ids_seen), 500):
                chunk = ids_seen[start : start + 500]
                conn.execute(
                    f"UPDATE items SET last_seen = ? WHERE id IN ({', '.join('?' * len(chunk))})", [ts(now), *chunk]
                )
            ids = self._write_items(conn, changed, now)
            self._queue_documents(conn, [(ids[(w.item.source_id, w.item.key)][0], w) for w in documents or []], now)
            return self._store_reports(conn, ids, plan, deliveries_for_new, deliveries_for_attach, now, quiet or [])

    def _store_reports(
        self,
        conn: Tx,
        ids: Mapping[tuple[str, str], tuple[int, int]],
        plan: AlertPlan,
        deliveries_for_new: list[list[DeliverySpec]],
        deliveries_for_attach: list[list[DeliverySpec]],
        now: datetime,
        quiet: list[Report],
    ) -> int:
        """Inside a transaction: matches, new alerts, reports joining alerts and their deliveries (`ids`: (source, key)
        -> (item id, revision) of stored items). A poll's, and a document's whose body fires a watch. Returns the
        reports that were news to an existing alert."""

        def store_matches(reports: list[Report], alert_id: int | None) -> list[int]:
            """The reports' matches in one pipelined batch (PostgreSQL: one round trip, not one per match)."""
            rows, item_ids = [], []
            for report in reports:
                item_id, revision = ids[(report.item.source_id, report.item.key)]
                item_ids.append(item_id)
                for m in report.matches:
                    explanation = json.dumps(match_to_dict(m), ensure_ascii=False)
                    rows.append((item_id, revision, m.watch_id, m.severity, explanation, alert_id, ts(now)))
            self._executemany(
                conn,
                "INSERT INTO matches (item_id, revision, watch_id, severity, explanation, alert_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            return item_ids

        store_matches(quiet, None)

        def record(report: Report, alert_id: int) -> bool:
            """Store the report's matches; True when the item is news to this alert (not a revision)."""
            item_id = store_matches([report], alert_id)[0]
            cur = conn.execute(
                "INSERT INTO alert_reports (alert_id, item_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (alert_id, item_id, ts(now)),
            )
            return cur.rowcount == 1

        for new, specs in zip(plan.new, deliveries_for_new, strict=True):
            cur = conn.execute(
                "INSERT INTO alerts (watch_id, watches, severity, title, agreements, fingerprint, created_at,"
                " updated_at, report_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.watch_id,
                    json.dumps(sorted(new.watches)),
                    new.severity,
                    new.title,
                    json.dumps(sorted(new.agreements)),
                    " ".join(sorted(new.fingerprint)),
                    ts(now),
                    ts(now),
                    len(new.reports),
                ),
            )
            alert_id = int(cur.fetchone()["id"])
            self._alert_opened(conn, alert_id, new, now)
            for report in new.reports:
                record(report, alert_id)
            sources = {r.item.source_id for r in new.reports}
            muted = self.muted_reason(conn, now, None, new.watches, new.agreements, sources)
            self._queue(conn, alert_id, [] if muted else specs, now)
            if muted and specs:
                log.info("alert %d: nothing queued for %d channels: %s", alert_id, len(specs), muted)
        attached = 0
        for attach, specs in zip(plan.attach, deliveries_for_attach, strict=True):
            if not record(attach.report, attach.alert_id):
                continue  # a new revision of a report the alert already has: no follow-up
            attached += 1
            conn.execute(
                "UPDATE alerts SET report_count = report_count + 1, updated_at = ? WHERE id = ?",
                (ts(now), attach.alert_id),
            )
            report = attach.report
            muted = self.muted_reason(
                conn, now, attach.alert_id, report.watch_ids, report.subjects, {report.item.source_id}
            )
            self._queue(conn, attach.alert_id, [] if muted else specs, now)
            if muted and specs:
                log.info("alert %d: no follow-up queued for %d channels: %s", attach.alert_id, len(specs), muted)
        return attached

    def _before_new_alerts(self, conn: Tx, new: list[NewAlert], now: datetime) -> None:
        """Inside the commit's transaction, before it opens alerts (writers one at a time: SQLite's write lock,
        PostgreSQL's advisory lock): StoreConflict when another process opened an alert for the same event since
        this thread read the open alerts; the runner plans again from a fresh read. Without it two daemons on one
        SQLite file each opened an alert for one event."""
        snap = self._alert_snapshot()
        if snap is None:
            return
        rows = conn.execute(_OPEN_ALERTS, (ts(snap.since),)).fetchall()
        for other in self._open_alert_rows([r for r in rows if int(r["id"]) not in snap.seen]):
            if any(same_event(other, report) for alert in new for report in alert.reports):
                raise StoreConflict(f"{self.path}: another process opened alert {other.id} for this event meanwhile")

    def _alert_opened(self, conn: Tx, alert_id: int, new: NewAlert, now: datetime) -> None:
        """Engine hook: record the event's key, so that a second alert for it breaks a uniqueness rule."""

    def _queue(self, conn: Tx, alert_id: int, specs: list[DeliverySpec], now: datetime) -> None:
        for d in specs:
            # The partial unique indexes make this idempotent: one alert delivery, one pending follow-up.
            conn.execute(
                "INSERT INTO deliveries (alert_id, kind, subscriber_id, channel, channel_label, mode,"
                " next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (alert_id, d.kind, d.subscriber_id, d.channel, d.channel_label, d.mode, ts(d.next_attempt), ts(now)),
            )

    # -- alerts ----------------------------------------------------------------------------------------------
    def alert(self, alert_id: int) -> AlertView:
        rows = self._rows("SELECT * FROM alerts WHERE id = ?", [alert_id])
        if not rows:
            raise NotFoundError(f"no alert {alert_id}")
        a = rows[0]
        reports = []
        for r in self._rows(
            "SELECT items.*, alert_reports.added_at, alert_reports.item_id AS iid, alert_reports.version AS version,"
            " alert_reports.text_names AS text_names,"
            " (SELECT explanation FROM matches m WHERE m.item_id = items.id AND m.alert_id = ?"
            "  ORDER BY m.revision DESC, m.watch_id = (SELECT watch_id FROM alerts WHERE id = m.alert_id) DESC"
            "  LIMIT 1) AS explanation"
            " FROM alert_reports JOIN items ON items.id = alert_reports.item_id WHERE alert_reports.alert_id = ?"
            " ORDER BY alert_reports.added_at, items.id",
            [alert_id, alert_id],
        ):
            reports.append(
                ReportView(
                    r["iid"],
                    _item(r),
                    match_from_dict(json.loads(r["explanation"])),
                    dt_req(r["added_at"]),
                    int(r["version"]),
                    text_names(r["text_names"]),
                )
            )
        return AlertView(
            a["id"],
            a["watch_id"],
            tuple(json.loads(a["watches"])),
            a["severity"],
            a["title"],
            tuple(json.loads(a["agreements"])),
            dt_req(a["created_at"]),
            tuple(reports),
        )

    def recent_alerts(
        self, limit: int = 20, watch: str | None = None, since: datetime | None = None, offset: int = 0
    ) -> list[AlertView]:
        sql, params = "SELECT id FROM alerts WHERE 1=1", list[object]()
        if watch:
            sql += " AND watches LIKE ?"
            params.append(f'%"{watch}"%')
        if since:
            sql += " AND created_at >= ?"
            params.append(ts(since))
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [self.alert(r["id"]) for r in rows]

    def alert_times(self, since: datetime) -> list[tuple[datetime, str]]:
        """When each alert since then was opened, and by which watch: the console's chart buckets them by day
        in the operator's time zone."""
        rows = self._rows("SELECT created_at, watch_id FROM alerts WHERE created_at >= ? ORDER BY id", [ts(since)])
        return [(dt_req(r["created_at"]), r["watch_id"]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Figures for the status page and metrics."""
        out = {name: int(self._rows(f"SELECT count(*) AS n FROM {name}")[0]["n"]) for name in ("items", "alerts")}
        out["matches"] = int(self._rows("SELECT count(*) AS n FROM matches")[0]["n"])
        for r in self._rows("SELECT status, count(*) AS n FROM deliveries GROUP BY status"):
            out[f"deliveries_{r['status']}"] = int(r["n"])
        return out
