"""The Store on a real SQLite file: migrations, reopening, full-text search, version guard."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from treatywatch.alerts import AlertPlan
from treatywatch.errors import QueryError, StoreConflict, StoreError
from treatywatch.items import make_item
from treatywatch.store import SourceState, Store
from treatywatch.store.schema import MIGRATIONS

NOW = datetime(2025, 12, 6, 12, tzinfo=UTC)


def ingest(store: Store, *titles: str) -> None:
    items = [make_item("s", title=t, guid=t) for t in titles]
    store.commit_poll(SourceState("s"), [(i, None) for i in items], [], AlertPlan(), [], [], NOW)


def test_wal_migrations_and_reopen(tmp_path: Path):
    db = tmp_path / "tw.db"
    store = Store(db)
    ingest(store, "Russia terminates pact with France", "Snow in Moscow")
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    again = Store(db)
    assert again.counts()["items"] == 2
    assert [s.item.title for s in again.search("terminates")] == ["Russia terminates pact with France"]
    assert [s.item.title for s in again.search("mosc*")] == ["Snow in Moscow"]
    with pytest.raises(QueryError, match="search syntax"):
        again.search('"unbalanced')


def test_item_stored_once_per_source_and_key(tmp_path: Path):
    store = Store(tmp_path / "tw.db")
    ingest(store, "A")
    with pytest.raises(StoreConflict):
        ingest(store, "A")  # the runner asks known_items first, and reads again when another process won the race
    assert store.counts()["items"] == 1


def test_newer_schema_is_refused(tmp_path: Path):
    db = tmp_path / "tw.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this TreatyWatch"):
        Store(db)


def test_not_a_database(tmp_path: Path):
    bad = tmp_path / "tw.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(bad)
