"""PostgreSQL through psycopg 3 and a connection pool: the engine for several daemons sharing the work.

Sharing rests on the database, never on a lock in one process:
- a source is polled by the daemon that claimed it from the schedule in the store (store/claims.py: due sources
  claimed with FOR UPDATE SKIP LOCKED); a daemon that dies keeps its claims only until they expire (settings.lease);
- a delivery is sent by the daemon that claimed it (deliveries.claimed_by / claim_expires), the same way;
- one event, one alert: daemons open alerts one transaction at a time (an advisory transaction lock), and a poll
  whose plan missed an alert opened meanwhile for the same event is refused (StoreConflict: the runner reads again
  and joins it); `alert_keys` makes a second alert for the same agreements a unique-key violation besides.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..alerts import NewAlert
from ..errors import StoreConflict, StoreError
from .base import Row, Tx, new_owner, redact, ts
from .claims import Planned
from .pgschema import migrate
from .store import SqlStore

log = logging.getLogger("treatywatch.store")
ALERTS_LOCK = 0x7477_0002  # pg_advisory_xact_lock key held by a poll's transaction while it opens alerts
DEFAULT_WINDOW = timedelta(days=3)  # settings.event_window's default, for a commit that did not read alerts first


@lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """The shared SQL's `?` placeholders as PostgreSQL's own $1, $2, ...: the pool's connections use RawCursor,
    which sends a statement as it is. psycopg's default cursor parses every statement for %s, and caches the
    result only for statements of up to 50 parameters: a poll's multi-row INSERTs (260 and 120 parameters) were
    parsed again on every poll, 0.5 and 1.3 ms of the daemon's CPU each."""
    head, *rest = sql.split("?")
    return head + "".join(f"${n}{part}" for n, part in enumerate(rest, start=1))


class _PgTx:
    """A transaction on one pooled connection, spoken to with the shared SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = (), /) -> psycopg.Cursor[Any]:
        return self.conn.execute(pg_sql(sql), tuple(params))


def _password() -> dict[str, str]:
    """TREATYWATCH_DATABASE_PASSWORD, when set; libpq reads PGPASSWORD (and ~/.pgpass) by itself."""
    secret = os.environ.get("TREATYWATCH_DATABASE_PASSWORD")
    return {"password": secret} if secret else {}


class PostgresStore(SqlStore):
    def __init__(
        self,
        dsn: str,
        *,
        lease: float = 60.0,
        pool_size: int = 12,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        """lease: seconds a claim on a source or a delivery lasts when its daemon stops renewing it (dies).
        pool_size: the scheduler's 10 workers, the outbox and the status page each hold one only for a statement
        or a transaction; a thread finding none free (or the database away) waits up to pool_timeout."""
        self.path = redact(dsn)
        self.lease = lease
        self.owner = new_owner()
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": True, **_password()}
        try:  # one direct connection first: its error says why (a pool only says it timed out)
            with psycopg.connect(dsn, connect_timeout=int(connect_timeout), **kwargs) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {redact(str(exc)).strip()}") from None
        kwargs["cursor_factory"] = psycopg.RawCursor  # statements come with $n placeholders (pg_sql)
        self.pool: ConnectionPool[Any] = ConnectionPool(
            dsn, kwargs=kwargs, min_size=1, max_size=pool_size, timeout=pool_timeout, open=False
        )
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            raise StoreError(f"cannot open database {self.path}: no connection within {connect_timeout:g}s") from None

    def close(self) -> None:
        """Hand back this daemon's leases and claims (others need not wait for them to expire), then disconnect."""
        with suppress(StoreError):  # the database is gone: the leases expire by themselves
            self.release_all()
        self.pool.close()

    def checkpoint(self, timeout: float, mode: str = "TRUNCATE") -> bool:
        return True  # PostgreSQL's own checkpoints need no help at a stop

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield _PgTx(conn)
        except (pg_errors.IntegrityError, pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as exc:
            raise StoreConflict(f"{self.path}: written meanwhile by another daemon: {redact(str(exc))}") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            why = redact(str(exc))
            raise StoreError(f"cannot write to {self.path}, nothing of this change was kept: {why}") from None

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        try:
            with self.pool.connection() as conn:
                return conn.execute(pg_sql(sql), tuple(params)).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreError(f"cannot read {self.path}: {redact(str(exc))}") from None

    def _text_condition(self, item_id_sql: str, text: str) -> tuple[str, list[Any]]:
        """Every word, accents folded as the index is (plainto_tsquery: the filter's text is words, not syntax);
        lower case here too, since a server in the C locale folds ASCII only."""
        sql = f"{item_id_sql} IN (SELECT id FROM items WHERE tsv @@ plainto_tsquery('simple', tw_fold(?)))"
        return sql, [text.lower()]

    def search_rows(self, text: str, limit: int) -> list[Row]:
        """websearch_to_tsquery ("phrases", or, -not); a trailing * is a prefix, as in FTS5 (mosc* finds Moscow);
        accents folded on both sides, as FTS5 does (resilie finds résilié)."""
        words = text.split()
        prefixes = ["".join(c for c in w[:-1] if c.isalnum()) for w in words if w.endswith("*")]
        parts, params = [], list[object]()
        rest = " ".join(w for w in words if not w.endswith("*"))
        if rest.strip():
            parts.append("websearch_to_tsquery('simple', tw_fold(?))")
            params.append(rest)
        for prefix in filter(None, prefixes):
            parts.append("to_tsquery('simple', tw_fold(?))")
            params.append(f"{prefix.lower()}:*")
        if not parts:
            return []
        query = " && ".join(parts)
        return self._rows(
            f"SELECT * FROM items WHERE tsv @@ ({query}) ORDER BY ts_rank(tsv, ({query})) DESC, id LIMIT ?",
            [*params, *params, limit],
        )

    # -- one event, one alert ----------------------------------------------------------------------------------
    def _before_new_alerts(self, conn: Tx, new: list[NewAlert], now: datetime) -> None:
        """Daemons open alerts one transaction at a time (PostgreSQL's writers do not wait on each other as
        SQLite's do), then the shared check (store.py) sees every alert committed before."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (ALERTS_LOCK,))
        super()._before_new_alerts(conn, new, now)

    def _alert_opened(self, conn: Tx, alert_id: int, new: NewAlert, now: datetime) -> None:
        if not new.agreements:
            return  # a story without agreements has no key; the check above is its guard
        snap = self._alert_snapshot()
        cutoff = snap.since if snap is not None else now - DEFAULT_WINDOW
        cur = conn.execute(
            "INSERT INTO alert_keys (key, alert_id, opened_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET alert_id = excluded.alert_id, opened_at = excluded.opened_at WHERE alert_keys.opened_at < ?",
            ("agreements:" + ",".join(sorted(new.agreements)), alert_id, ts(now), ts(cutoff)),
        )
        if cur.rowcount != 1:
            raise StoreConflict(f"{self.path}: an alert for {', '.join(sorted(new.agreements))} is open already")

    # -- a poll's writes ---------------------------------------------------------------------------------------
    _first_revisions_with_items = True

    def _insert_new_items(self, conn: Tx, insert: str, params: list[object], now: datetime) -> list[Row]:
        """New items and their revision 1 in one statement: a round trip fewer a poll, and each title and summary
        sent once, not twice."""
        return list(
            conn.execute(
                f"WITH i AS ({insert} RETURNING id, source_id, key, title, summary, content_hash),"
                " r AS (INSERT INTO item_revisions (item_id, revision, title, summary, content_hash, seen_at)"
                " SELECT id, 1, title, summary, content_hash, ? FROM i)"
                " SELECT id, source_id, key FROM i",
                [*params, ts(now)],
            ).fetchall()
        )

    # -- bulk copy -----------------------------------------------------------------------------------------------
    def _insert_many(self, tx: Tx, table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
        assert isinstance(tx, _PgTx)
        sql = pg_sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})")
        with tx.conn.cursor() as cur:
            cur.executemany(sql, rows)  # pipelined: one round trip per batch, not per row

    def _forget_shared_state(self, tx: Tx) -> None:
        tx.execute("DELETE FROM alert_keys")
        tx.execute("DELETE FROM leases")

    def _after_copy(self, tx: Tx) -> None:
        for table in ("items", "alerts", "matches", "deliveries", "desk_events"):
            tx.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )

    # -- work sharing ------------------------------------------------------------------------------------------
    def release_all(self) -> None:
        self.release_sources()
        self.release_deliveries()
        self.release_documents()

    def _hold_until(self, now: datetime, seconds: float) -> tuple[str, list[object]]:
        return "clock_timestamp() + make_interval(secs => ?)", [float(seconds)]

    def _held_now(self, now: datetime) -> tuple[str, list[object]]:
        return "clock_timestamp()", []

    def plan_sources(self, plan: Mapping[str, Planned], exclusive: bool = True) -> int:
        """Then the planner's statistics of `sources` at once (autovacuum comes later): with thousands of new rows
        and none known, a claim would read every due row and sort them rather than walk the due index in order."""
        fresh = super().plan_sources(plan, exclusive)
        if fresh:
            with suppress(psycopg.Error), self.pool.connection() as conn:
                conn.execute("ANALYZE sources")
        return fresh

    def _statement(self, sql: str, params: list[Any]) -> list[Any]:
        try:
            with self.pool.connection() as conn:
                return conn.execute(pg_sql(sql), tuple(params)).fetchall()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            why = redact(str(exc))
            raise StoreError(f"cannot write to {self.path}, nothing of this change was kept: {why}") from None

    def _reserve(self, tx: Tx, host: str, gap: float, now: datetime) -> float:
        """One statement on the server's clock; concurrent reservers of one host queue on its row."""
        row = tx.execute(
            "INSERT INTO host_gates (host, next_start) VALUES (?, clock_timestamp() + make_interval(secs => ?))"
            " ON CONFLICT (host) DO UPDATE SET next_start = GREATEST(host_gates.next_start, clock_timestamp())"
            " + make_interval(secs => ?) RETURNING extract(epoch FROM next_start - clock_timestamp()) - ? AS wait",
            (host, float(gap), float(gap), float(gap)),
        ).fetchone()
        return max(0.0, float(row["wait"]))

    def _executemany(self, tx: Tx, sql: str, rows: list[tuple[Any, ...]]) -> None:
        assert isinstance(tx, _PgTx)
        if rows:
            with tx.conn.cursor() as cur:
                cur.executemany(pg_sql(sql), rows)  # pipelined: one round trip per batch, not per row

    def _claim_until(self, now: datetime, hold: float | None = None) -> tuple[str, list[object]]:
        return "clock_timestamp() + make_interval(secs => ?)", [float(self.lease if hold is None else hold)]

    def _claim_now(self, now: datetime) -> tuple[str, list[object]]:
        return "clock_timestamp()", []

    _skip_locked = " FOR UPDATE SKIP LOCKED"
