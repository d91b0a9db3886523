"""The Store: the only code that speaks SQL. SQLite in WAL mode through sqlite-utils; one writer at a time."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ..alerts import AlertPlan, OpenAlert, Report
from ..errors import NotFoundError, QueryError, StoreConflict, StoreError
from ..items import Item
from ..matching.explain import match_from_dict, match_to_dict
from ..notify.routing import DeliverySpec
from .models import AlertView, Delivery, KnownItem, ReportView, SourceState, StoredItem
from .schema import migrate


def ts(value: datetime | None) -> str | None:
    # Fixed width, so that text comparison in SQL is time comparison.
    return value.isoformat(timespec="microseconds") if value is not None else None


def dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def dt_req(value: str) -> datetime:
    """A NOT NULL timestamp column."""
    return datetime.fromisoformat(value)


def _item(row: sqlite3.Row) -> Item:
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


class Store:
    """Built once by the CLI from the configured path; passed to the runner, daemon, web and commands."""

    def __init__(self, path: Path | str, busy_timeout: float = 30.0) -> None:
        """busy_timeout: seconds a write waits for another process's lock before it fails as a StoreError."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=busy_timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(conn)
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self.path = path
        self._busy_ms = int(busy_timeout * 1000)
        self._conn = conn
        self._lock = threading.RLock()

    def close(self) -> None:
        self._conn.close()

    def checkpoint(self, timeout: float) -> bool:
        """Fold the WAL into the database file and truncate it, waiting at most `timeout` seconds (for a writer of
        this process, then for readers of others). False when it could not: the WAL stays and is replayed on open,
        so nothing is lost either way; a clean stop just leaves one file instead of three."""
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(max(timeout, 0.0) * 1000)}")
            busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            return bool(busy == 0)
        except sqlite3.Error:
            return False
        finally:
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            finally:
                self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time; everything inside commits together or not at all. A database locked by another
        process beyond the busy timeout, or a full disk, is a StoreError (exit 3), with nothing half-written."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):  # locked beyond the busy timeout, disk full, I/O
                    raise StoreError(f"cannot write to {self.path}, nothing of this change was kept: {exc}") from exc
                if isinstance(exc, sqlite3.IntegrityError):  # another process wrote the same row first
                    raise StoreConflict(f"{self.path}: written meanwhile by another process: {exc}") from exc
                raise

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- sources ---------------------------------------------------------------------------------------------
    def source_state(self, source_id: str) -> SourceState:
        rows = self._rows("SELECT * FROM sources WHERE id = ?", [source_id])
        if not rows:
            return SourceState(source_id)
        r = rows[0]
        return SourceState(
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
        )

    def source_states(self) -> dict[str, SourceState]:
        return {r["id"]: self.source_state(r["id"]) for r in self._rows("SELECT id FROM sources")}

    def _save_state(self, conn: sqlite3.Connection, state: SourceState) -> None:
        row = asdict(state)
        for key in ("last_attempt", "last_success", "next_due"):
            row[key] = ts(row[key])
        row["empty_flag"] = int(state.empty_flag)
        cols = ", ".join(row)
        conn.execute(
            f"INSERT OR REPLACE INTO sources ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )

    def save_source_state(self, state: SourceState) -> None:
        with self.transaction() as conn:
            self._save_state(conn, state)

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

    def _write_item(
        self, conn: sqlite3.Connection, item: Item, known: KnownItem | None, now: datetime
    ) -> tuple[int, int]:
        """Insert a new item or store a revision of a changed one; returns (id, revision)."""
        if known is None:
            cur = conn.execute(
                "INSERT INTO items (source_id, key, title, link, summary, published, language, untitled, content_hash,"
                " revision, extra, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (
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
                    ts(now),
                    ts(now),
                ),
            )
            item_id, revision = int(cur.lastrowid or 0), 1
        else:
            item_id, revision = known.id, known.revision + 1
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
                    revision,
                    json.dumps(item.extra, ensure_ascii=False),
                    ts(now),
                    item_id,
                ),
            )
        conn.execute(
            "INSERT INTO item_revisions VALUES (?, ?, ?, ?, ?, ?)",
            (item_id, revision, item.title, item.summary, item.content_hash, ts(now)),
        )
        return item_id, revision

    def get_item(self, item_id: int) -> StoredItem:
        rows = self._rows("SELECT * FROM items WHERE id = ?", [item_id])
        if not rows:
            raise NotFoundError(f"no item {item_id}")
        return StoredItem(rows[0]["id"], _item(rows[0]), rows[0]["revision"], dt_req(rows[0]["first_seen"]))

    def items_since(self, since: datetime, source_ids: Iterable[str] | None = None) -> Iterator[StoredItem]:
        sql, params = "SELECT * FROM items WHERE first_seen >= ?", [ts(since)]
        if source_ids is not None:
            ids = list(source_ids)
            sql += f" AND source_id IN ({', '.join('?' * len(ids))})"
            params += ids
        for r in self._rows(sql + " ORDER BY id", params):
            yield StoredItem(r["id"], _item(r), r["revision"], dt_req(r["first_seen"]))

    def search(self, text: str, limit: int = 20) -> list[StoredItem]:
        """FTS5 query; a syntax error in it is the operator's, reported as such."""
        try:
            rows = self._rows(
                "SELECT items.* FROM items_fts JOIN items ON items.id = items_fts.rowid "
                "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
                [text, limit],
            )
        except sqlite3.OperationalError as exc:
            raise QueryError(f"search syntax: {exc}", text, 0) from exc
        return [StoredItem(r["id"], _item(r), r["revision"], dt_req(r["first_seen"])) for r in rows]

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
        from ..alerts import stored_fingerprint

        rows = self._rows(
            "SELECT id, watches, agreements, title, fingerprint, created_at FROM alerts WHERE created_at >= ?"
            " ORDER BY id",
            [ts(since)],
        )
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
    ) -> int:
        """Items, matches, alerts and their deliveries: all of it or none of it. Returns the reports that were
        news to an existing alert (revisions of reports it already holds are not)."""
        with self.transaction() as conn:
            self._save_state(conn, state)
            ids: dict[tuple[str, str], tuple[int, int]] = {}
            for item, known in changed:
                ids[(item.source_id, item.key)] = self._write_item(conn, item, known, now)

            def record(report: Report, alert_id: int) -> bool:
                """Store the report's matches; True when the item is news to this alert (not a revision)."""
                item_id, revision = ids[(report.item.source_id, report.item.key)]
                for m in report.matches:
                    conn.execute(
                        "INSERT OR IGNORE INTO matches (item_id, revision, watch_id, severity, explanation, alert_id,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            item_id,
                            revision,
                            m.watch_id,
                            m.severity,
                            json.dumps(match_to_dict(m), ensure_ascii=False),
                            alert_id,
                            ts(now),
                        ),
                    )
                cur = conn.execute("INSERT OR IGNORE INTO alert_reports VALUES (?, ?, ?)", (alert_id, item_id, ts(now)))
                return cur.rowcount == 1

            for new, specs in zip(plan.new, deliveries_for_new, strict=True):
                cur = conn.execute(
                    "INSERT INTO alerts (watch_id, watches, severity, title, agreements, fingerprint, created_at,"
                    " updated_at, report_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                alert_id = int(cur.lastrowid or 0)
                for report in new.reports:
                    record(report, alert_id)
                self._queue(conn, alert_id, specs, now)
            attached = 0
            for attach, specs in zip(plan.attach, deliveries_for_attach, strict=True):
                if not record(attach.report, attach.alert_id):
                    continue  # a new revision of a report the alert already has: no follow-up
                attached += 1
                conn.execute(
                    "UPDATE alerts SET report_count = report_count + 1, updated_at = ? WHERE id = ?",
                    (ts(now), attach.alert_id),
                )
                self._queue(conn, attach.alert_id, specs, now)
            return attached

    def _queue(self, conn: sqlite3.Connection, alert_id: int, specs: list[DeliverySpec], now: datetime) -> None:
        for d in specs:
            # The partial unique indexes make this idempotent: one alert delivery, one pending follow-up.
            conn.execute(
                "INSERT OR IGNORE INTO deliveries (alert_id, kind, subscriber_id, channel, channel_label, mode,"
                " next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
            "SELECT items.*, alert_reports.added_at, alert_reports.item_id AS iid,"
            " (SELECT explanation FROM matches m WHERE m.item_id = items.id AND m.alert_id = ?"
            "  ORDER BY m.revision DESC, m.watch_id = (SELECT watch_id FROM alerts WHERE id = m.alert_id) DESC"
            "  LIMIT 1) AS explanation"
            " FROM alert_reports JOIN items ON items.id = alert_reports.item_id WHERE alert_reports.alert_id = ?"
            " ORDER BY alert_reports.added_at, items.id",
            [alert_id, alert_id],
        ):
            reports.append(
                ReportView(r["iid"], _item(r), match_from_dict(json.loads(r["explanation"])), dt_req(r["added_at"]))
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
        self, limit: int = 20, watch: str | None = None, since: datetime | None = None
    ) -> list[AlertView]:
        sql, params = "SELECT id FROM alerts WHERE 1=1", list[object]()
        if watch:
            sql += " AND watches LIKE ?"
            params.append(f'%"{watch}"%')
        if since:
            sql += " AND created_at >= ?"
            params.append(ts(since))
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [self.alert(r["id"]) for r in rows]

    def covered_until(self, alert_id: int, subscriber_id: str, channel: str) -> datetime | None:
        """When this channel last got a message about the alert: reports added later are news to it."""
        rows = self._rows(
            "SELECT max(sent_at) FROM deliveries WHERE alert_id = ? AND subscriber_id = ? AND channel = ?"
            " AND status = 'sent'",
            [alert_id, subscriber_id, channel],
        )
        return dt(rows[0][0])

    # -- deliveries (the outbox) -----------------------------------------------------------------------------
    def _delivery(self, r: sqlite3.Row) -> Delivery:
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

    def due_deliveries(self, now: datetime) -> list[Delivery]:
        rows = self._rows(
            "SELECT * FROM deliveries WHERE status IN ('pending', 'failed') AND next_attempt <= ? "
            "ORDER BY next_attempt, id",
            [ts(now)],
        )
        return [self._delivery(r) for r in rows]

    def deliveries(self, status: str | None = None, limit: int = 100) -> list[Delivery]:
        sql, params = "SELECT * FROM deliveries", []
        if status:
            sql += " WHERE status = ?"
            params.append(status)
        return [self._delivery(r) for r in self._rows(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])]

    def mark_sent(self, ids: list[int], now: datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET status='sent', sent_at=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                [(ts(now), i) for i in ids],
            )

    def mark_failed(self, ids: list[int], error: str, next_attempt: datetime | None) -> None:
        """A failed attempt: retried at next_attempt, or dead when there is none."""
        status = "failed" if next_attempt is not None else "dead"
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE deliveries SET status=?, attempts=attempts+1, last_error=?, next_attempt="
                "COALESCE(?, next_attempt) WHERE id=?",
                [(status, error[:1000], ts(next_attempt), i) for i in ids],
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

    def counts(self) -> dict[str, int]:
        """Figures for the status page and metrics."""
        with self._lock:
            out = {name: self.db[name].count for name in ("items", "alerts", "matches")}
        for r in self._rows("SELECT status, count(*) FROM deliveries GROUP BY status"):
            out[f"deliveries_{r[0]}"] = r[1]
        return out
