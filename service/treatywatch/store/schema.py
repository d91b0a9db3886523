"""Schema migrations, applied in order; PRAGMA user_version records how far a database has come."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import StoreError
from .sqlitelib import sqlite_utils


def _full_text(db: sqlite_utils.Database) -> None:
    """items_fts, kept in step by sqlite-utils' triggers, for search and back-tests."""
    db["items"].enable_fts(["title", "summary"], fts_version="FTS5", create_triggers=True)  # type: ignore[union-attr]


Step = Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[str | Step] = [
    # 1: the walking skeleton's tables
    """
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        etag TEXT, last_modified TEXT,
        last_attempt TEXT, last_success TEXT, next_due TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        items_last_seen INTEGER, items_before INTEGER,
        empty_flag INTEGER NOT NULL DEFAULT 0,
        total_items INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        title TEXT NOT NULL, link TEXT NOT NULL, summary TEXT NOT NULL,
        published TEXT, language TEXT,
        untitled INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        extra TEXT NOT NULL DEFAULT '{}',
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
        UNIQUE (source_id, key)
    );
    CREATE INDEX items_first_seen ON items (first_seen);
    CREATE TABLE item_revisions (
        item_id INTEGER NOT NULL REFERENCES items(id),
        revision INTEGER NOT NULL,
        title TEXT NOT NULL, summary TEXT NOT NULL, content_hash TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (item_id, revision)
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        watch_id TEXT NOT NULL,             -- the most severe watch that fired
        watches TEXT NOT NULL DEFAULT '[]', -- every watch that fired on its reports
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        agreements TEXT NOT NULL DEFAULT '[]',
        fingerprint TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        report_count INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX alerts_watch ON alerts (watch_id, created_at);
    CREATE TABLE matches (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        revision INTEGER NOT NULL,
        watch_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        explanation TEXT NOT NULL,
        alert_id INTEGER REFERENCES alerts(id),
        created_at TEXT NOT NULL,
        UNIQUE (item_id, revision, watch_id)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        kind TEXT NOT NULL,                 -- alert | followup
        subscriber_id TEXT NOT NULL,
        channel TEXT NOT NULL,              -- sha256 of the apprise URL, never the URL (it holds secrets)
        channel_label TEXT NOT NULL,        -- the URL in apprise's privacy form, for humans
        mode TEXT NOT NULL,                 -- instant | digest
        status TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed | dead (| skipped, v3)
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
    CREATE UNIQUE INDEX deliveries_once ON deliveries (alert_id, subscriber_id, channel, kind)
        WHERE kind = 'alert';
    CREATE UNIQUE INDEX deliveries_one_pending_followup ON deliveries (alert_id, subscriber_id, channel)
        WHERE kind = 'followup' AND status IN ('pending', 'failed');
    CREATE TABLE alert_reports (
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        item_id INTEGER NOT NULL REFERENCES items(id),
        added_at TEXT NOT NULL,
        PRIMARY KEY (alert_id, item_id)
    );
    """,
    # 2: full-text index of items
    _full_text,
    # 3: what each delivery carried (the reports it rendered, by item id: "what is new to this channel" is exact,
    # never a clock comparison), and where a paging source's walk back through its backlog stands
    """
    CREATE TABLE delivery_reports (
        delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
        item_id INTEGER NOT NULL REFERENCES items(id),
        PRIMARY KEY (delivery_id, item_id)
    );
    ALTER TABLE sources ADD COLUMN cursor TEXT;
    -- a delivery is sent by the process that claimed it (a daemon and a `poll --once` beside it share the file)
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN claim_expires TEXT;
    """,
    # 4: the desk's loop: each alert's triage state, mutes of alerts, watches, agreements and sources, the history
    # of who changed what, and the analysts' verdicts (correct, false alarm, miss)
    """
    CREATE TABLE alert_triage (
        alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
        state TEXT NOT NULL DEFAULT 'open',   -- open | acknowledged | resolved
        assignee TEXT,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE mutes (
        kind TEXT NOT NULL,                   -- alert | watch | agreement | source
        target TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (kind, target)
    );
    CREATE TABLE desk_events (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                   -- alert | watch | agreement | source | item
        target TEXT NOT NULL,
        action TEXT NOT NULL,                 -- acknowledge | assign | resolve | reopen | mute | unmute | verdict
        detail TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX desk_events_target ON desk_events (kind, target, id);
    CREATE TABLE verdicts (
        subject TEXT PRIMARY KEY,             -- alert:N | report:N:ITEM | miss:ITEM:WATCH
        alert_id INTEGER REFERENCES alerts(id),
        item_id INTEGER REFERENCES items(id),
        watch_id TEXT NOT NULL,
        verdict TEXT NOT NULL,                -- correct | false_alarm | miss
        note TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX verdicts_watch ON verdicts (watch_id);
    """,
    # 5: a source paused from the console or the CLI (who and when; a paused source is not polled; "poll now" is
    # its next_due set to now), and its first poll (a source that never succeeded is stale three intervals after it)
    """
    ALTER TABLE sources ADD COLUMN paused_at TEXT;
    ALTER TABLE sources ADD COLUMN paused_by TEXT;
    ALTER TABLE sources ADD COLUMN first_attempt TEXT;
    """,
    # 6: documents behind items (an act's PDF, an article's page), read once per URL and per content hash; which
    # items each serves; and the version of an alert's report: a report whose document added agreements is news to a
    # channel again (a follow-up) until a message rendered that version
    """
    CREATE TABLE documents (
        url TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'document',  -- document (an act's PDF) | article (the page behind a headline)
        state TEXT NOT NULL DEFAULT 'queued',   -- queued | read | ocr | unreadable
        sha256 TEXT,
        pages TEXT NOT NULL DEFAULT '[]',       -- [{number, text, method}]
        page_count INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT '',
        seconds REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try TEXT,
        queued_at TEXT NOT NULL,
        fetched_at TEXT,
        read_at TEXT,
        claimed_by TEXT,
        claim_expires TEXT
    );
    CREATE INDEX documents_due ON documents (state, next_try);
    CREATE INDEX documents_sha256 ON documents (sha256);
    CREATE TABLE document_items (
        url TEXT NOT NULL REFERENCES documents(url),
        item_id INTEGER NOT NULL REFERENCES items(id),
        quiet INTEGER NOT NULL DEFAULT 0,       -- stored by a baseline poll: what its body finds opens nothing
        matched_sha256 TEXT,                    -- the content the item was last matched with
        PRIMARY KEY (url, item_id)
    );
    CREATE INDEX document_items_item ON document_items (item_id);
    ALTER TABLE alert_reports ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alert_reports ADD COLUMN text_names TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE delivery_reports ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    """,
    # 7: the schedule lives in the store: each daemon's dispatcher claims due sources (next_due) instead of every
    # process timing every source; a claim (claimed_by, claim_expires) is the lease; a disabled source is never claimed
    """
    ALTER TABLE sources ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE sources ADD COLUMN every_seconds REAL;
    ALTER TABLE sources ADD COLUMN claimed_by TEXT;
    ALTER TABLE sources ADD COLUMN claim_expires TEXT;
    CREATE INDEX sources_due ON sources (next_due) WHERE enabled = 1;
    """,
    # 8: per-host politeness across daemons and one-shot passes: each host's next free start (host_gates.next_start)
    """
    CREATE TABLE host_gates (
        host TEXT PRIMARY KEY,
        next_start TEXT NOT NULL
    );
    """,
    # 9: full text built once per text: the index follows an item's title and summary, not every update of its row
    # (a poll moves last_seen on every item it sees again, which rewrote each one's full-text entry)
    """
    DROP TRIGGER IF EXISTS items_au;
    CREATE TRIGGER items_au AFTER UPDATE OF title, summary ON items BEGIN
      INSERT INTO items_fts (items_fts, rowid, title, summary) VALUES('delete', old.rowid, old.title, old.summary);
      INSERT INTO items_fts (rowid, title, summary) VALUES (new.rowid, new.title, new.summary);
    END;
    """,
    # 10: the full-text index merges its segments when 8 of a size have gathered, not 4 (FTS5's 'automerge'). Each
    # poll's commit writes a small segment; at 4 the merges were most of a cold poll's storing: 20 new items cost
    # 0.97 ms of CPU and 1.9 ms wall to insert, 0.65 and 0.8 at 8. A search reads at most twice the segments (0.3
    # ms either way on 100,000 items)
    """
    INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 8);
    """,
]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database to the latest version; returns the version. Each step commits with its version."""
    conn = db.conn
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(f"database schema v{version} is newer than this TreatyWatch (v{len(MIGRATIONS)}); upgrade")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        if isinstance(step, str):
            conn.executescript(f"BEGIN;\n{step}\nPRAGMA user_version = {number};\nCOMMIT;")
        else:
            conn.execute("BEGIN")
            try:
                step(db)
                conn.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    return len(MIGRATIONS)
