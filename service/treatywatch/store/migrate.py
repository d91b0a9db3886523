"""`treatywatch migrate`: copy an installation from one database to another (SQLite to PostgreSQL, or back)
without loss. One transaction on the target, every table's rows with their ids, counts compared at the end."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import StoreError
from .store import SqlStore

# Parents before children (foreign keys); each with the columns that order it.
TABLES: tuple[tuple[str, str], ...] = (
    ("sources", "id"),
    ("items", "id"),
    ("item_revisions", "item_id, revision"),
    ("alerts", "id"),
    ("matches", "id"),
    ("alert_reports", "alert_id, item_id"),
    ("deliveries", "id"),
    ("delivery_reports", "delivery_id, item_id"),
    ("alert_triage", "alert_id"),
    ("mutes", "kind, target"),
    ("desk_events", "id"),
    ("verdicts", "subject"),
    ("documents", "url"),
    ("document_items", "url, item_id"),
)
# Columns one engine computes or keeps for itself: never copied.
ENGINE_ONLY = frozenset({"tsv", "claimed_by", "claim_expires"})
CHUNK = 5000


def table_counts(store: SqlStore) -> dict[str, int]:
    return {t: int(store._rows(f"SELECT count(*) AS n FROM {t}")[0]["n"]) for t, _ in TABLES}


def copy_database(
    source: SqlStore, target: SqlStore, *, force: bool = False, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row; returns the rows per table. A target holding data is refused unless `force`, which
    empties it first, so running the same migration twice gives the same result."""
    before = table_counts(target)
    if any(before.values()) and not force:
        held = ", ".join(f"{t} {n}" for t, n in before.items() if n)
        raise StoreError(f"the target database is not empty ({held}); --force replaces its contents")
    with target.transaction() as tx:
        for table, _ in reversed(TABLES):
            tx.execute(f"DELETE FROM {table}")
        target._forget_shared_state(tx)
        for table, order in TABLES:
            copied = 0
            while True:
                rows = source._rows(f"SELECT * FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", [CHUNK, copied])
                if not rows:
                    break
                cols = [c for c in rows[0].keys() if c not in ENGINE_ONLY]  # noqa: SIM118 - a sqlite3.Row iterates values
                target._insert_many(tx, table, cols, [tuple(r[c] for c in cols) for r in rows])
                copied += len(rows)
                if progress is not None:
                    progress(table, copied)
        target._after_copy(tx)
    counts, after = table_counts(source), table_counts(target)
    if counts != after:
        differ = ", ".join(f"{t}: {counts[t]} -> {after[t]}" for t in counts if counts[t] != after[t])
        raise StoreError(f"copy incomplete: {differ}")
    return after
