"""Triage on both engines: acknowledge, assign, resolve, mute (an alert, a watch, an agreement, a source) with who
and when in the history; mutes respected where deliveries are queued; one filter for alerts, the outbox and items,
read alike by the store, the JSON API and the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import Clock, local_sources, make_app, write_config
from treatywatch import desk
from treatywatch.alerts import Report, plan_alerts
from treatywatch.errors import FilterError, NotFoundError
from treatywatch.filters import DeskFilter
from treatywatch.items import make_item
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.matching.explain import AgreementHit, Match
from treatywatch.notify.routing import DeliverySpec
from treatywatch.store import SourceState, SqlStore, open_store
from treatywatch.store.migrate import copy_database

NOW = datetime(2025, 12, 6, 12, tzinfo=UTC)


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(database, tmp_path / "state")
    yield s
    s.close()


def spec(sub: str = "desk") -> DeliverySpec:
    return DeliverySpec(sub, "c" * 64, "json://x", "instant", "alert", NOW)


def alert(
    store: SqlStore,
    title: str,
    watch: str = "w",
    agreement: str = "ag",
    source: str = "s",
    severity: str = "high",
    language: str = "en",
    at: datetime = NOW,
) -> int:
    """Open one alert with one report and one queued delivery; returns its id (or 0 when it joined one)."""
    item = make_item(source, title=title, guid=title, language=language)
    hit = AgreementHit(agreement, agreement.upper(), 1.0, ("named",), subject=True)
    report = Report(item, (Match(watch, watch.upper(), severity, (), (hit,)),))
    plan = plan_alerts([report], [])
    store.commit_poll(SourceState(source), [(item, None)], [report], plan, [[spec()]], [], at)
    return store.alert_ids(DeskFilter(), at, 1)[0][0]


def test_triage_states_and_history(store: SqlStore):
    a = alert(store, "Russia terminates pact")
    assert store.triage_states([a], NOW)[a].state == "open"
    store.triage(a, "acknowledge", "alice", NOW)
    t = store.triage(a, "assign", "alice", NOW + timedelta(minutes=1), assignee="bob")
    assert (t.state, t.assignee, t.updated_by) == ("acknowledged", "bob", "alice")
    t = store.triage(a, "resolve", "bob", NOW + timedelta(minutes=2))
    assert (t.state, t.assignee, t.updated_by) == ("resolved", "bob", "bob")
    history = store.history("alert", str(a))
    assert [(e.action, e.actor, e.detail) for e in history] == [
        ("acknowledge", "alice", ""),
        ("assign", "alice", "to bob"),
        ("resolve", "bob", ""),
    ]
    assert history[1].at == NOW + timedelta(minutes=1)
    with pytest.raises(NotFoundError):
        store.triage(999, "acknowledge", "alice", NOW)
    with pytest.raises(FilterError):
        store.triage(a, "delete", "alice", NOW)


def test_muting_an_alert_skips_what_it_had_queued_and_its_follow_ups(store: SqlStore, caplog):
    a = alert(store, "Russia terminates pact")
    assert [d.status for d in store.deliveries()] == ["pending"]
    skipped = store.mute("alert", str(a), NOW + timedelta(hours=4), "alice", NOW, note="known")
    assert skipped == 1
    (d,) = store.deliveries()
    assert d.status == "skipped" and "muted: alert" in (d.last_error or "") and "by alice" in (d.last_error or "")
    assert store.triage_states([a], NOW)[a].muted_by == "alice"
    assert store.alert_ids(DeskFilter(state="muted"), NOW, 10)[0] == [a]
    # a second report of the same event joins the alert: no follow-up is queued while it is muted, and the log says so
    item = make_item("s", title="Russia terminates pact, says Kremlin", guid="2")
    hit = AgreementHit("ag", "AG", 1.0, ("named",), subject=True)
    report = Report(item, (Match("w", "W", "high", (), (hit,)),))
    plan = plan_alerts([report], store.open_alerts(NOW - timedelta(days=3)))
    assert plan.attach and not plan.new
    follow = DeliverySpec("desk", "c" * 64, "json://x", "instant", "followup", NOW)
    with caplog.at_level("INFO", logger="treatywatch.store"):
        store.commit_poll(SourceState("s"), [(item, None)], [report], plan, [], [[follow]], NOW + timedelta(hours=1))
    assert len(store.deliveries()) == 1
    assert f"alert {a}: no follow-up queued for 1 channels: alert {a} muted until" in caplog.text
    # once the mute ends, it speaks again
    assert store.alert_ids(DeskFilter(state="muted"), NOW + timedelta(hours=5), 10)[0] == []
    assert store.unmute("alert", str(a), "alice", NOW + timedelta(hours=5)) is False  # ended by itself
    assert [e.action for e in store.history("alert", str(a))] == ["mute"]


@pytest.mark.parametrize(
    ("kind", "target", "queued"),
    [("agreement", "ag", 0), ("watch", "w", 0), ("source", "s", 0), ("watch", "other", 1), ("agreement", "x", 1)],
)
def test_a_muted_watch_agreement_or_source_queues_nothing(store: SqlStore, kind, target, queued, caplog):
    store.mute(kind, target, NOW + timedelta(days=1), "carol", NOW)
    with caplog.at_level("INFO", logger="treatywatch.store"):
        a = alert(store, "Russia terminates pact", at=NOW + timedelta(minutes=5))
    assert len(store.deliveries()) == queued
    if not queued:
        assert f"alert {a}: nothing queued for 1 channels: {kind} {target} muted until" in caplog.text
        assert "by carol" in caplog.text
    assert [(m.kind, m.target, m.created_by) for m in store.mutes(NOW)] == [(kind, target, "carol")]
    assert store.unmute(kind, target, "dave", NOW + timedelta(minutes=6)) is True
    assert store.mutes(NOW + timedelta(minutes=6)) == []
    assert [(e.action, e.actor) for e in store.history(kind, target)] == [("mute", "carol"), ("unmute", "dave")]


def test_one_filter_for_alerts_outbox_and_items(store: SqlStore):
    a1 = alert(store, "Russia terminates pact with France", watch="w1", agreement="fr", source="s1")
    a2 = alert(store, "Россия денонсирует договор", watch="w2", agreement="ru", source="s2", severity="critical",
               language="ru", at=NOW + timedelta(days=2))  # fmt: skip
    a3 = alert(store, "Treaty suspended by Norway", watch="w1", agreement="no", source="s2", severity="low",
               at=NOW + timedelta(days=3))  # fmt: skip
    later = NOW + timedelta(days=4)

    def alerts(**kw: str) -> list[int]:
        return store.alert_ids(DeskFilter.parse(kw, later), later, 50)[0]

    assert alerts() == [a3, a2, a1]
    assert alerts(watch="w1") == [a3, a1]
    assert alerts(watch="w") == []  # a whole id, never a prefix
    assert alerts(agreement="ru") == [a2]
    assert alerts(source="s2") == [a3, a2]
    assert alerts(severity="high") == [a2, a1]  # at least high
    assert alerts(language="ru") == [a2]
    assert alerts(text="terminates") == [a1]
    assert alerts(text="ДОГОВОР") == [a2]  # case folded, Cyrillic included
    assert alerts(since="2025-12-08") == [a3, a2]
    assert alerts(until="2025-12-08") == [a2, a1]  # a day means the whole day
    assert alerts(since="2d") == [a3, a2]
    store.triage(a1, "resolve", "alice", NOW)
    store.triage(a3, "assign", "alice", NOW, assignee="bob")
    assert alerts(state="resolved") == [a1]
    assert alerts(state="open") == [a3, a2]
    assert alerts(assignee="bob", watch="w1") == [a3]
    ids, total = store.alert_ids(DeskFilter.parse({"watch": "w1"}, later), later, 1, 1)
    assert (ids, total) == ([a1], 2)
    with pytest.raises(FilterError):
        DeskFilter.parse({"severity": "urgent"}, later)
    with pytest.raises(FilterError):
        DeskFilter.parse({"since": "last tuesday"}, later)
    rows, total = store.delivery_rows(DeskFilter.parse({"watch": "w1"}, later), later, None, 10)
    assert total == 2 and sorted(d.alert_id for d in rows) == [a1, a3]
    rows, total = store.delivery_rows(DeskFilter(source="s2"), later, "sent", 10)
    assert total == 0
    items, total = store.item_rows(DeskFilter(watch="w2"), 10)
    assert total == 1 and items[0].item.title == "Россия денонсирует договор"
    assert store.item_rows(DeskFilter(agreement="no", state="alerted"), 10)[1] == 1
    assert store.item_rows(DeskFilter(state="unmatched"), 10)[1] == 0


def test_desk_tables_survive_migrate(store: SqlStore, tmp_path: Path):
    a = alert(store, "Russia terminates pact")
    store.triage(a, "acknowledge", "alice", NOW)
    store.mute("watch", "w", NOW + timedelta(days=1), "alice", NOW)
    store.set_verdict("false_alarm", "alice", NOW, alert_id=a, note="talk, not an act")
    target = open_store(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path)
    try:
        counts = copy_database(store, target)
        assert counts["alert_triage"] == 1 and counts["mutes"] == 1 and counts["verdicts"] == 1
        assert counts["desk_events"] == 3
        assert target.triage_states([a], NOW)[a].state == "acknowledged"
        assert [(v.verdict, v.note) for v in target.verdicts()] == [("false_alarm", "talk, not an act")]
        target.triage(a, "resolve", "bob", NOW)  # new history rows get ids after the copied ones
        assert len(target.history("alert", str(a))) == 3
    finally:
        target.close()


def test_a_muted_agreement_reaches_no_mailbox_and_the_log_says_so(
    config_dir: Path, tmp_path: Path, http: FixtureServer, smtp: SmtpSink, clock: Clock, caplog
):
    """Through the real pipeline and outbox to a real SMTP sink: the desk mutes the Russia–France agreement and
    the frozen-assets watch; the termination story concerning three agreements, France's among them, and the
    frozen-assets stories send nothing; the portal's decree on the German agreement does."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{smtp.url()}']\n", "subscribers.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    try:
        desk.mute(app, "agreement", "ru-fr-1994-military-cooperation", "1d", "alice", "known since Monday")
        desk.mute(app, "watch", "frozen-assets", "4h", "alice")
        with caplog.at_level("INFO", logger="treatywatch.store"):
            for src in app.config.sources:
                app.runner.poll(src.id)
        while app.outbox.run_once().sent:
            pass
        subjects = [m["subject"] for m in smtp.messages]
        assert subjects and all("Portugal, France" not in s and "актив" not in s for s in subjects), subjects
        assert any("О прекращении действия Соглашения" in s for s in subjects), subjects  # 200 Russian characters
        assert "agreement ru-fr-1994-military-cooperation muted until" in caplog.text and "by alice" in caplog.text
        assert "watch frozen-assets muted until" in caplog.text
        assert app.store.counts()["alerts"] == 5  # muted alerts are still opened and shown, only not sent
    finally:
        app.close()


def test_the_mutes_page_mutes_and_ends_a_mute_as_the_signed_in_person(
    config_dir: Path, tmp_path: Path, http: FixtureServer, clock: Clock
):
    import httpx

    from treatywatch.web.server import StatusServer

    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, "settings:\n  people:\n    - {name: alice, role: analyst, token: alice-token-123}\n",
                 "people.yaml")  # fmt: skip
    app = make_app(config_dir, tmp_path / "state", clock)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as c:
            form = {"kind": "source", "target": "ria-politics", "for": "4h", "note": "flooding"}
            assert c.post("/mutes/change", data=form).status_code == 401  # a token exists: local is not enough
            assert c.post("/login", data={"token": "alice-token-123"}).status_code == 303
            r = c.post("/mutes/change", data=form, follow_redirects=True)
            assert "source ria-politics muted until 2025-12-06 16:00 UTC" in r.text
            assert 'id="mute-source-ria-politics"' in r.text and "flooding" in r.text
            assert c.post("/mutes/change", data=form | {"target": "nope"}).status_code == 404
            r = c.post("/mutes/change", data={"kind": "source", "target": "ria-politics", "end": "1"},
                       follow_redirects=True)  # fmt: skip
            assert "source ria-politics unmuted" in r.text and app.store.mutes(clock()) == []
            assert [(e.action, e.actor) for e in app.store.history("source", "ria-politics")] == [
                ("mute", "alice"), ("unmute", "alice"),
            ]  # fmt: skip
    finally:
        server.stop()
        app.close()


def test_desk_tables_move_to_postgresql_and_go_on_there(tmp_path: Path, pg_url: str):
    """treatywatch migrate from SQLite to PostgreSQL: the desk's rows keep their ids, and new history rows
    take ids after them (the identity is moved past the copied rows)."""
    source = open_store(f"sqlite:///{tmp_path / 'tw.db'}", tmp_path)
    target = open_store(pg_url, tmp_path)
    try:
        a = alert(source, "Russia terminates pact")
        source.triage(a, "acknowledge", "alice", NOW)
        source.set_verdict("correct", "alice", NOW, alert_id=a)
        counts = copy_database(source, target)
        assert counts["desk_events"] == 2 and counts["verdicts"] == 1 and counts["alert_triage"] == 1
        target.triage(a, "resolve", "bob", NOW)
        assert [(e.id, e.actor) for e in target.history("alert", str(a))] == [(1, "alice"), (2, "alice"), (3, "bob")]
        assert target.labels()[0].fire is True
    finally:
        source.close()
        target.close()
