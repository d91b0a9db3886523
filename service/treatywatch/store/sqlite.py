"""SQLite, the default engine: WAL mode through sqlite-utils, one writer at a time, FTS5 for search."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import filelock

from ..errors import QueryError, StoreConflict, StoreError
from .base import new_owner
from .models import Delivery
from .schema import migrate
from .sqlitelib import sqlite_utils
from .store import SqlStore


def _migrating(path: Path | str, timeout: float) -> AbstractContextManager[object]:
    """Processes opening one new file at once (daemons and one-shot passes started together) migrate it one at a
    time: the version is read before a step's script runs, so two would both run it ("table already exists")."""
    if str(path) == ":memory:":
        return nullcontext()
    return filelock.FileLock(f"{path}.migrate.lock", timeout=timeout)


class Store(SqlStore):
    """SQLite: the default, one daemon per database file (its state directory lock sees to that)."""

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
            with _migrating(path, busy_timeout):
                migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        except filelock.Timeout:
            raise StoreError(f"cannot open database {path}: another process kept migrating it") from None
        self.path = path
        self.owner = new_owner()
        self._busy_ms = int(busy_timeout * 1000)
        self._conn = conn
        self._lock = threading.RLock()

    def close(self) -> None:
        with suppress(StoreError, sqlite3.Error):  # locked, or closed already: the claims expire by themselves
            self.release_sources()
            self.release_deliveries()
            self.release_documents()
        with self._lock:  # never under a thread still using it (that crashes the interpreter)
            self._conn.close()

    def due_deliveries(self, now: datetime) -> list[Delivery]:
        """Claims of a process of this machine that no longer runs (killed while sending) are void at once: one
        SQLite file is shared only by processes of one machine, and a restarted daemon should not wait out a
        dead one's lease."""
        self._void_dead_claims("deliveries")
        return super().due_deliveries(now)

    def checkpoint(self, timeout: float, mode: str = "TRUNCATE") -> bool:
        """Fold the WAL into the database file and truncate it, waiting at most `timeout` seconds (for a writer of
        this process, then for readers of others). False when it could not: the WAL stays and is replayed on open,
        so nothing is lost either way; a clean stop just leaves one file instead of three. mode PASSIVE (the
        daemon's periodic one) copies what it can without waiting for anyone and keeps the WAL file."""
        if mode not in ("PASSIVE", "TRUNCATE"):
            raise ValueError(f"checkpoint mode {mode!r}")
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(max(timeout, 0.0) * 1000)}")
            busy, log_frames, done = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return bool(busy == 0 and log_frames == done)
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

    def _executemany(self, tx: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        tx.executemany(sql, rows)

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _text_condition(self, item_id_sql: str, text: str) -> tuple[str, list[Any]]:
        """Every word as an FTS5 phrase (quoted: the filter's text is words, never query syntax)."""
        words = " ".join('"' + w.replace('"', '""') + '"' for w in text.split())
        return f"{item_id_sql} IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)", [words]

    def search_rows(self, text: str, limit: int) -> list[sqlite3.Row]:
        """FTS5 query syntax (prefix*, "phrases", AND/OR/NOT)."""
        try:
            return self._rows(
                "SELECT items.* FROM items_fts JOIN items ON items.id = items_fts.rowid "
                "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
                [text, limit],
            )
        except sqlite3.OperationalError as exc:
            raise QueryError(f"search syntax: {exc}", text, 0) from exc
