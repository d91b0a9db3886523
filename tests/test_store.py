"""The Store on both engines (a real SQLite file, a real PostgreSQL server): migrations, reopening, full-text
search, version guard, and on PostgreSQL the work sharing between daemons (leases, outbox claims, one alert per
event)."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from treatywatch.alerts import AlertPlan, Report, plan_alerts
from treatywatch.errors import QueryError, StoreConflict, StoreError
from treatywatch.items import make_item
from treatywatch.matching.explain import AgreementHit, Match
from treatywatch.notify.routing import DeliverySpec
from treatywatch.store import SourceState, SqlStore, Store, open_store, redact
from treatywatch.store.claims import Planned, Release
from treatywatch.store.models import SourcesHealth
from treatywatch.store.schema import MIGRATIONS

NOW = datetime(2025, 12, 6, 12, tzinfo=UTC)


def ingest(store: SqlStore, *titles: str) -> None:
    items = [make_item("s", title=t, guid=t) for t in titles]
    store.commit_poll(SourceState("s"), [(i, None) for i in items], [], AlertPlan(), [], [], NOW)


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[SqlStore]:
    """The same tests on each engine (tests/pg.py's `database` fixture)."""
    s = open_store(database, tmp_path / "state", lease=2.0)
    yield s
    s.close()


def test_migrations_reopen_and_search(store: SqlStore, database: str, tmp_path: Path):
    ingest(store, "Russia terminates pact with France", "Snow in Moscow")
    store.close()
    again = open_store(database, tmp_path / "state")  # migrations already applied: nothing to do, nothing lost
    assert again.counts()["items"] == 2
    assert [s.item.title for s in again.search("terminates")] == ["Russia terminates pact with France"]
    assert [s.item.title for s in again.search("mosc*")] == ["Snow in Moscow"]
    assert [s.item.title for s in again.search('"terminates pact"')] == ["Russia terminates pact with France"]
    assert again.search("nothinglikethis") == []
    ingest(again, "La France résilie l'accord")
    assert [s.item.title for s in again.search("resilie")] == ["La France résilie l'accord"]
    assert [s.item.title for s in again.search("RÉSILIÉ")] == ["La France résilie l'accord"]
    assert [s.item.title for s in again.search("rési*")] == ["La France résilie l'accord"]
    again.close()


def test_item_stored_once_per_source_and_key(store: SqlStore):
    ingest(store, "A")
    with pytest.raises(StoreConflict):
        ingest(store, "A")  # the runner asks known_items first, and reads again when another process won the race
    assert store.counts()["items"] == 1


def test_source_state_round_trip(store: SqlStore):
    state = SourceState("s", etag='"x"', next_due=NOW, consecutive_failures=2, last_error="boom", empty_flag=True)
    store.save_source_state(state)
    store.save_source_state(state)  # an upsert: saved twice, one row
    assert store.source_state("s") == state and list(store.source_states()) == ["s"]


def test_wal_migrations_on_sqlite(tmp_path: Path):
    db = tmp_path / "tw.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    # the full-text index merges 8 segments of a size at a time, not FTS5's 4 (each poll's commit writes one)
    assert conn.execute("SELECT v FROM items_fts_config WHERE k = 'automerge'").fetchone()[0] == 8
    conn.close()


def test_sqlite_search_syntax_error_is_the_operators(tmp_path: Path):
    with pytest.raises(QueryError, match="search syntax"):
        Store(tmp_path / "tw.db").search('"unbalanced')


def test_newer_schema_is_refused(tmp_path: Path):
    db = tmp_path / "tw.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this TreatyWatch"):
        Store(db)


def test_newer_schema_is_refused_on_postgresql(pg_url: str, tmp_path: Path):
    import psycopg

    open_store(pg_url, tmp_path).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="newer than this TreatyWatch"):
        open_store(pg_url, tmp_path)


def test_not_a_database(tmp_path: Path):
    bad = tmp_path / "tw.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(bad)


def test_password_never_shown(pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A refused connection names the database, never its password (in the URL or in the environment)."""
    monkeypatch.setenv("TREATYWATCH_DATABASE_PASSWORD", "s3cret-env")
    url = f"postgresql://tw:s3cret-url@127.0.0.1:{pg_server.port}/no_such_db"
    with pytest.raises(StoreError) as info:
        open_store(url, tmp_path)
    assert "no_such_db" in str(info.value)
    assert "s3cret" not in str(info.value) and "s3cret" not in redact(f"{url} password=s3cret-env")


# -- work sharing on PostgreSQL ----------------------------------------------------------------------------------
def test_one_daemon_at_a_time_holds_a_source_until_its_lease_expires(pg_url: str, tmp_path: Path):
    a, b = open_store(pg_url, tmp_path, lease=1.0), open_store(pg_url, tmp_path, lease=1.0)
    now = datetime.now(UTC)
    assert a.claim_source("s", now, 1.0) and a.claim_source("s", now, 1.0)  # its own lease renews
    assert not b.claim_source("s", now, 1.0)
    a.release_source("s", now, 0.0)  # polled: free for the next turn
    assert b.claim_source("s", now, 1.0) and not a.claim_source("s", now, 1.0)
    # b dies holding it (no release; on another machine as far as a can tell): a takes over once the lease expired
    b._rows("UPDATE sources SET claimed_by = 'elsewhere:1:x' WHERE id = 's' RETURNING id")
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while not a.claim_source("s", datetime.now(UTC), 1.0):
        assert datetime.now(UTC) < deadline, "the dead daemon's lease never expired"
    a.close(), b.close()


def test_sqlite_claims_sources_between_processes(tmp_path: Path):
    """SQLite has claims too: a daemon and `poll --once` beside it share the file."""
    a, b = Store(tmp_path / "tw.db"), Store(tmp_path / "tw.db")
    assert a.claim_source("x", NOW, 60.0) and a.claim_source("x", NOW, 60.0)
    assert not b.claim_source("x", NOW, 60.0)
    a.release_source("x", NOW, 30.0)  # polled: held for most of its interval
    assert not b.claim_source("x", NOW + timedelta(seconds=29), 60.0)
    assert b.claim_source("x", NOW + timedelta(seconds=31), 60.0)
    a.close(), b.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("stop", ["clean", "killed"])
def test_a_pass_skips_what_was_polled_since_it_began(
    engine: str, stop: str, request: pytest.FixtureRequest, tmp_path: Path
):
    """Two `poll --once` passes side by side: the first polls a source, holds it and ends (its store closed, or its
    process gone) before the second, started meanwhile, reaches that source. The first's holds went with it, yet the
    second leaves the source alone: it was polled since the second began (it fetched it again half a second later).
    A pass started after that poll fetches it again, as the operator asked."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'h.db'}"
    began = datetime.now(UTC)
    first, second = open_store(database, tmp_path), open_store(database, tmp_path)
    if stop == "killed":  # the first names a process of this machine that is gone
        first.owner = f"{socket.gethostname()}:999999999:dead"
    try:
        polled = datetime.now(UTC)
        assert first.claim_source("s", polled, 60.0, began)
        assert not second.claim_source("s", polled, 60.0, began)  # being polled
        first.save_source_state(SourceState("s", last_attempt=polled))  # the poll's commit
        first.release_source("s", polled, 12.0)  # its next turn in 15 s
        if stop == "clean":
            first.close()
        else:
            assert second.forget_dead_claims() == 1  # the dead pass's claims and holds are void
        assert not second.claim_source("s", datetime.now(UTC), 60.0, began)  # polled since the second began
        assert second.claim_source("s", datetime.now(UTC), 60.0, datetime.now(UTC))  # a later pass polls it
    finally:
        second.close()
        if stop == "killed":
            first.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_polls_commit_hands_its_claim_back_in_that_one_transaction(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`release=`: the poll's state (a 304's) or its items (a 200's) and the claim handed back commit together,
    one transaction a poll; a commit that fails hands nothing back (the poller releases it as before)."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'r.db'}"
    a, b = open_store(database, tmp_path), open_store(database, tmp_path)
    commits = 0
    transaction = a.transaction

    def counted():  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1
        return transaction()

    monkeypatch.setattr(a, "transaction", counted)
    try:
        now = datetime.now(UTC)
        assert a.claim_source("s", now, 60.0) and a.claim_source("t", now, 60.0)
        commits = 0
        a.save_source_state(SourceState("s", last_attempt=now), Release(now, 0.0))  # a 304
        assert commits == 1 and b.claim_source("s", datetime.now(UTC), 60.0)

        item = make_item("t", title="Pact ended", guid="p")

        def broken(*args: object) -> None:
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(a, "_write_items", broken)
        with pytest.raises(RuntimeError):
            a.commit_poll(SourceState("t"), [(item, None)], [], AlertPlan(), [], [], now, release=Release(now, 0.0))
        assert not b.claim_source("t", datetime.now(UTC), 60.0)  # still a's: nothing of that commit happened
        monkeypatch.undo()
        monkeypatch.setattr(a, "transaction", counted)
        commits = 0
        a.commit_poll(SourceState("t"), [(item, None)], [], AlertPlan(), [], [], now, release=Release(now, 0.0))
        assert commits == 1 and b.claim_source("t", datetime.now(UTC), 60.0)
        assert list(b.known_items("t", [item.key])) == [item.key]  # and its item with it
    finally:
        a.close(), b.close()


def test_a_commit_that_hands_its_claim_back_holds_the_source_as_release_source_does(tmp_path: Path):
    a, b = Store(tmp_path / "tw.db"), Store(tmp_path / "tw.db")
    assert a.claim_source("x", NOW, 60.0)
    a.save_source_state(SourceState("x", last_attempt=NOW), Release(NOW, 30.0))  # held for most of its interval
    assert not b.claim_source("x", NOW + timedelta(seconds=29), 60.0)
    assert b.claim_source("x", NOW + timedelta(seconds=31), 60.0)
    a.close(), b.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_claim_brings_each_source_s_state_as_stored(engine: str, request: pytest.FixtureRequest, tmp_path: Path):
    """The daemon's poll takes the state its claim read (one statement fewer a poll): it must be the row as a
    poll saved it, validators, failures and cursor included, on both engines."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(database, tmp_path)
    try:
        saved = SourceState(
            "a", etag='"v7"', last_modified="Sat, 06 Dec 2025 10:00:00 GMT", last_attempt=NOW,
            last_success=NOW - timedelta(minutes=3), consecutive_failures=2, last_error="HTTP 503", items_last_seen=20,
            total_items=140, cursor="page=3",
        )  # fmt: skip
        store.save_source_state(saved)
        store.plan_sources({"a": Planned(900.0, NOW), "b": Planned(900.0, NOW)})
        store.reschedule(["a", "b"], {"a": NOW - timedelta(seconds=5), "b": NOW - timedelta(seconds=1)})
        claimed = store.claim_due(NOW, 10, 60.0)
        assert [c.id for c in claimed] == ["a", "b"]
        assert claimed[0].state == store.source_state("a") and claimed[0].state.etag == '"v7"'
        assert claimed[0].state.cursor == "page=3" and claimed[0].state.consecutive_failures == 2
        assert claimed[1].state == store.source_state("b") == SourceState("b", next_due=claimed[1].due)
    finally:
        store.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_enabled_sources_health_in_one_aggregate(engine: str, request: pytest.FixtureRequest, tmp_path: Path):
    """What /metrics shows past settings.metrics_sources_max, from one query: failing sources, the most failures in
    a row, the empty ones and the oldest success, of the enabled sources only (a source no longer planned counts
    for nothing)."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'h.db'}"
    store = open_store(database, tmp_path)
    try:
        assert store.sources_health(1) == SourcesHealth(0, 0, 0, 0, None)  # no source yet
        early, late = NOW - timedelta(hours=2), NOW - timedelta(minutes=5)
        store.save_source_state(SourceState("ok", last_success=late))
        store.save_source_state(SourceState("old", last_success=early, empty_flag=True))
        store.save_source_state(SourceState("down", consecutive_failures=3, last_success=late))
        store.save_source_state(SourceState("gone", consecutive_failures=9, last_success=NOW - timedelta(days=9)))
        store.plan_sources({sid: Planned(900.0, NOW) for sid in ("ok", "old", "down")})  # "gone" disabled
        assert store.sources_health(1) == SourcesHealth(3, 1, 3, 1, early)
        assert store.failing_sources(1, 10) == ["down"] and store.failing_sources(10, 10) == []
        assert store.sources_health(4).failing == 0
    finally:
        store.close()


def _alert_with_delivery(store: SqlStore) -> None:
    item = make_item("s", title="Pact ended", guid="p")
    match = Match("w", "W", "high", (), (AgreementHit("ag", "Ag", 1.0, ("named",), subject=True),))
    report = Report(item, (match,))
    plan = plan_alerts([report], [])
    spec = DeliverySpec("desk", "c" * 64, "json://x", "instant", "alert", NOW)
    store.commit_poll(SourceState("s"), [(item, None)], [report], plan, [[spec]], [], NOW)


def test_outbox_claims(pg_url: str, tmp_path: Path):
    a, b = open_store(pg_url, tmp_path, lease=30.0), open_store(pg_url, tmp_path, lease=30.0)
    _alert_with_delivery(a)
    [due] = a.due_deliveries(NOW)
    assert [d.id for d in b.due_deliveries(NOW)] == [due.id]  # reading claims nothing
    assert a.claim_deliveries([due.id], NOW) == {due.id}
    assert b.due_deliveries(NOW) == [] and b.claim_deliveries([due.id], NOW) == set()  # a holds it while it sends
    assert a.renew_claims([due.id], NOW) == {due.id} and b.renew_claims([due.id], NOW) == set()
    a.mark_failed([due.id], "refused", NOW)  # failed: handed back, anyone retries it
    assert a.renew_claims([due.id], NOW) == set()  # a no longer holds it: it must not send it
    assert b.claim_deliveries([due.id], NOW) == {due.id}
    b.close()  # b stops cleanly: its claims go back at once
    assert a.claim_deliveries([due.id], NOW) == {due.id}
    a.close()


def test_sqlite_claims_between_processes(tmp_path: Path):
    """A daemon and a `poll --once` beside it share one SQLite file: each sends only what it claimed."""
    a, b = Store(tmp_path / "tw.db"), Store(tmp_path / "tw.db")
    _alert_with_delivery(a)
    [due] = a.due_deliveries(NOW)
    assert a.claim_deliveries([due.id], NOW) == {due.id} and b.claim_deliveries([due.id], NOW) == set()
    assert b.due_deliveries(NOW) == []
    later = NOW + timedelta(seconds=a.lease + 1)  # a died holding it: the claim expires
    assert b.claim_deliveries([due.id], later) == {due.id} and a.renew_claims([due.id], later) == set()
    b.close()
    assert a.claim_deliveries([due.id], NOW) == {due.id}
    a.close()


def test_sqlite_voids_the_claims_of_a_dead_local_process(tmp_path: Path):
    """A `poll --once` killed while sending held a claim; the next one on this machine sends at once instead of
    waiting out the lease. A live process's claim, or another machine's, stands."""
    import socket
    import subprocess

    store = Store(tmp_path / "tw.db")
    _alert_with_delivery(store)
    [due] = store.due_deliveries(NOW)
    gone = subprocess.Popen(["true"])
    gone.wait()
    for owner, voided in ((f"{socket.gethostname()}:{gone.pid}:dead", True), (f"elsewhere:{gone.pid}:x", False)):
        with store.transaction() as tx:
            tx.execute("UPDATE deliveries SET claimed_by = ?, claim_expires = ? WHERE id = ?",
                       (owner, "9999-01-01T00:00:00.000000+00:00", due.id))  # fmt: skip
        assert bool(store.due_deliveries(NOW)) is voided, owner
    store.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_daemons_seeing_one_event_at_once_open_one_alert(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
):
    """Both plan from the same (empty) view of open alerts, wait for each other (a barrier), then commit together:
    the second is refused, and its redo (the runner's StoreConflict path) joins the first's alert. On SQLite two
    daemons sharing one file each opened an alert for the event (the check was PostgreSQL's alone)."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'e.db'}"
    a, b = open_store(database, tmp_path), open_store(database, tmp_path)
    match = Match("w", "W", "high", (), (AgreementHit("ag", "Ag", 1.0, ("named",), subject=True),))
    reports = [Report(make_item(src, title=f"Pact ended, says {src}", guid="g"), (match,)) for src in ("s1", "s2")]
    planned = threading.Barrier(2, timeout=20)
    errors: list[Exception] = []
    new_alerts: list[int] = []

    def poll(store: SqlStore, report: Report) -> None:
        plan = plan_alerts([report], store.open_alerts(NOW - timedelta(days=3)))  # this thread's read
        new_alerts.append(len(plan.new))
        planned.wait()  # both have planned before either commits
        try:
            src = report.item.source_id
            store.commit_poll(SourceState(src), [(report.item, None)], [report], plan, [[]], [], NOW)
        except StoreConflict as exc:
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(s, r)) for s, r in zip((a, b), reports, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert new_alerts == [1, 1]  # each would open an alert
    assert len(errors) == 1 and a.counts()["alerts"] == 1, errors
    assert "opened alert" in str(errors[0]) or "is open already" in str(errors[0])
    stored = {r["source_id"] for r in a._rows("SELECT source_id FROM items")}
    loser = next(r for r in reports if r.item.source_id not in stored)
    redo = plan_alerts([loser], a.open_alerts(NOW - timedelta(days=3)))
    assert not redo.new and len(redo.attach) == 1
    a.close(), b.close()


def test_every_read_path(store: SqlStore):
    """What the runner, the outbox, the CLI and the console read, with the same answers on both engines."""
    _alert_with_delivery(store)
    known = store.known_items("s", ["p", "nope"])
    assert list(known) == ["p"] and known["p"].revision == 1
    item = store.get_item(known["p"].id)
    assert item.item.title == "Pact ended" and item.first_seen == NOW
    assert [s.item.key for s in store.items_since(NOW - timedelta(days=1), ["s"])] == ["p"]
    assert list(store.items_since(NOW + timedelta(seconds=1))) == []
    assert store.matches_by_link()[item.item.link] == {"w": frozenset({"ag"})}
    [opened] = store.open_alerts(NOW - timedelta(days=1))
    view = store.alert(opened.id)
    assert view.agreements == ("ag",) and [r.item_id for r in view.reports] == [item.id]
    assert [a.id for a in store.recent_alerts(5, watch="w", since=NOW)] == [opened.id]
    assert store.recent_alerts(5, offset=1) == []
    assert store.alert_times(NOW) == [(NOW, "w")]
    [due] = store.due_deliveries(NOW)
    assert store.carried_items(opened.id, "desk", "c" * 64) == frozenset()
    store.mark_sent({due.id: [item.id]}, NOW)
    assert store.carried_items(opened.id, "desk", "c" * 64) == {item.id}
    assert [d.status for d in store.deliveries("sent")] == ["sent"] and store.deliveries("sent", offset=1) == []
    store.mark_failed([due.id], "gone", None)
    assert store.deliveries("dead")[0].last_error == "gone"
    assert store.retry(None, NOW) == 1 and store.due_deliveries(NOW)[0].attempts == 0
    assert store.counts() == {"items": 1, "alerts": 1, "matches": 1, "deliveries_pending": 1}


def test_database_gone_means_no_claims_and_a_warning(pg_server, pg_url: str, tmp_path: Path, caplog):
    """A daemon that cannot reach PostgreSQL claims nothing (it could store nothing): a StoreError that says why, not
    'held'."""
    import psycopg

    from treatywatch.store.postgres import PostgresStore

    s = PostgresStore(pg_url, pool_timeout=1.0)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {pg_url.rsplit('/', 1)[1]} WITH (FORCE)")
    with pytest.raises(StoreError, match="cannot write to"):  # said once by the daemon, exit 3 by the CLI
        s.claim_due(datetime.now(UTC), 10, 60.0)
    with pytest.raises(StoreError, match="cannot write to"):
        s.claim_source("x", datetime.now(UTC), 60.0)
    s.close()  # its claims cannot be handed back: closing still ends cleanly


def _pg_database_of_version(pg_url: str, version: int, source: str = "s") -> None:
    """An empty database brought to an older PostgreSQL schema, holding one item stored then."""
    import psycopg

    from treatywatch.store import pgschema

    with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, step in enumerate(pgschema.MIGRATIONS[:version], start=1):
            conn.execute(step)
            conn.execute("INSERT INTO schema_version VALUES (%s)", (number,))
        conn.execute(
            "INSERT INTO items (source_id, key, title, link, summary, content_hash, first_seen, last_seen)"
            " VALUES (%s, 'k', 'La France résilie l''accord', 'http://x/', '', 'h', %s, %s)",
            (source, NOW.isoformat(), NOW.isoformat()),
        )


def test_postgresql_upgrade_from_an_older_schema(pg_url: str, tmp_path: Path):
    """A database of an older version (3: search without accent folding) is brought up to date on open, its rows
    kept and searchable the new way."""
    from treatywatch.store import pgschema

    _pg_database_of_version(pg_url, 3)
    store = open_store(pg_url, tmp_path)
    assert [s.item.title for s in store.search("resilie")] == ["La France résilie l'accord"]
    assert store._rows("SELECT max(version) AS v FROM schema_version")[0]["v"] == len(pgschema.MIGRATIONS)
    store.close()


def test_every_revision_of_an_item_is_kept(store: SqlStore):
    """An item's first text and each later one stay in item_revisions, on both engines (PostgreSQL writes the first
    in the statement that stores the item)."""
    ingest(store, "Pact signed", "Snow in Moscow")
    known = store.known_items("s", ["Pact signed"])
    changed = make_item("s", title="Pact ended", guid="Pact signed")
    store.commit_poll(SourceState("s"), [(changed, known["Pact signed"])], [], AlertPlan(), [], [], NOW)
    rows = store._rows("SELECT item_id, revision, title, content_hash FROM item_revisions ORDER BY item_id, revision")
    pact, snow = known["Pact signed"].id, store.known_items("s", ["Snow in Moscow"])["Snow in Moscow"].id
    assert [(r["item_id"], r["revision"], r["title"]) for r in rows] == [
        (pact, 1, "Pact signed"),
        (pact, 2, "Pact ended"),
        (snow, 1, "Snow in Moscow"),
    ]
    assert rows[0]["content_hash"] == known["Pact signed"].content_hash
    assert rows[1]["content_hash"] == changed.content_hash


def test_postgresql_upgrade_folds_in_place(pg_url: str, tmp_path: Path):
    """A database of version 11 (tw_fold IMMUTABLE, so never inlined: the trigger ran it as a function of its own
    for every item stored) gets 12; items stored before and after fold accents alike."""
    _pg_database_of_version(pg_url, 11, source="old")
    store = open_store(pg_url, tmp_path)
    ingest(store, "Résiliation de l'accord de 1994")
    assert sorted(s.item.title for s in store.search("resili*")) == [
        "La France résilie l'accord",
        "Résiliation de l'accord de 1994",
    ]
    assert [s.item.title for s in store.search("RESILIATION")] == ["Résiliation de l'accord de 1994"]
    assert store._rows("SELECT provolatile FROM pg_proc WHERE proname = 'tw_fold'")[0]["provolatile"] == "s"
    store.close()
