"""Verdicts on both engines (correct / false alarm on an alert or a report, a miss on any item), the labels they
make, and the evaluation of a watchlist on them; the same through the JSON API (named tokens and their roles, off
loopback) and the command line."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import Clock, local_sources, make_app, tw, write_config
from treatywatch.alerts import Report, plan_alerts
from treatywatch.app import App
from treatywatch.errors import FilterError, NotFoundError
from treatywatch.evaluation import evaluate_verdicts
from treatywatch.items import make_item
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.matching.explain import Match
from treatywatch.store import SourceState, SqlStore, open_store
from treatywatch.web.server import StatusServer

NOW = datetime(2025, 12, 6, 12, tzinfo=UTC)
ALICE, VICTOR, OLGA = "alice-analyst-token", "victor-viewer-token", "olga-operator-token"
PEOPLE = (
    "settings:\n  people:\n"
    f"    - {{name: alice, role: analyst, token: '{ALICE}'}}\n"
    f"    - {{name: victor, role: viewer, token: '{VICTOR}'}}\n"
    f"    - {{name: olga, role: operator, token: '{OLGA}'}}\n"
)


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(database, tmp_path / "state")
    yield s
    s.close()


def two_reports(store: SqlStore) -> tuple[int, int, int, int]:
    """One alert of watch w with two reports, and one item nothing fired on: (alert, item 1, item 2, item 3)."""
    first, second = (make_item("s", title=t, guid=t) for t in ("Pact ended", "Pact ended, says TASS"))
    quiet = make_item("s", title="Pact suspended", guid="q")
    reports = [Report(i, (Match("w", "W", "high", ()),)) for i in (first, second)]
    plan = plan_alerts(reports, [])
    assert len(plan.new) == 1
    changed = [(i, None) for i in (first, second, quiet)]
    store.commit_poll(SourceState("s"), changed, reports, plan, [[]], [], NOW)
    alert_id = store.recent_alerts(1)[0].id
    ids = {s.item.title: s.id for s in store.items_since(NOW - timedelta(days=1))}
    return alert_id, ids["Pact ended"], ids["Pact ended, says TASS"], ids["Pact suspended"]


def test_verdicts_and_the_labels_they_make(store: SqlStore):
    alert, one, two, quiet = two_reports(store)
    store.set_verdict("correct", "alice", NOW, alert_id=alert)
    labels = {(lab.item_id, lab.watch_id): lab.fire for lab in store.labels()}
    assert labels == {(one, "w"): True, (two, "w"): True}  # the alert's verdict speaks for each report
    store.set_verdict("false_alarm", "bob", NOW, alert_id=alert, item_id=two, note="a repeat of TASS")
    store.set_verdict("miss", "bob", NOW, item_id=quiet, watch_id="w")
    labels = {(lab.item_id, lab.watch_id): lab.fire for lab in store.labels()}
    assert labels == {(one, "w"): True, (two, "w"): False, (quiet, "w"): True}  # the report's own word wins
    store.set_verdict("false_alarm", "carol", NOW + timedelta(hours=1), alert_id=alert)  # replaces alice's
    assert [(v.subject, v.verdict, v.actor) for v in store.verdicts(alert_id=alert)] == [
        (f"alert:{alert}", "false_alarm", "carol"),
        (f"report:{alert}:{two}", "false_alarm", "bob"),
    ]
    events = store.history("alert", str(alert))
    assert [(e.actor, e.detail) for e in events] == [
        ("alice", "correct"),
        ("bob", f"false alarm (item {two}): a repeat of TASS"),
        ("carol", "false alarm"),
    ]  # nothing said is lost, though the later verdict replaced the earlier
    assert store.history("item", str(quiet))[0].detail == "miss: should have fired w"
    with pytest.raises(NotFoundError):
        store.set_verdict("correct", "alice", NOW, alert_id=alert, item_id=quiet)  # not a report of it
    with pytest.raises(FilterError):
        store.set_verdict("miss", "alice", NOW, item_id=quiet)  # which watch?
    with pytest.raises(FilterError):
        store.set_verdict("maybe", "alice", NOW, alert_id=alert)


@pytest.fixture
def desk(config_dir: Path, tmp_path: Path, http: FixtureServer) -> Iterator[tuple[App, httpx.Client]]:
    """The example watchlists over the fixtures, people with tokens, served as if off loopback."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, PEOPLE, "people.yaml")
    app = make_app(config_dir, tmp_path / "state", Clock())
    for src in app.config.sources:
        app.runner.poll(src.id)
    server = StatusServer(app, "127.0.0.1", 0, loopback=False)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            yield app, client
    finally:
        server.stop()
        app.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_json_api_filters_triages_and_takes_verdicts_by_role(desk):
    _, client = desk
    assert client.get("/api/alerts").status_code == 401  # off loopback, nothing is read without a token
    every = client.get("/api/alerts", headers=bearer(VICTOR))
    frozen = client.get("/api/alerts?watch=frozen-assets&limit=2", headers=bearer(VICTOR))
    assert frozen.headers["X-Total-Count"] == "3" and int(every.headers["X-Total-Count"]) == 5
    assert len(frozen.json()) == 2 and all("frozen-assets" in a["watches"] for a in frozen.json())
    assert 'rel="next"' in frozen.headers["Link"] and "watch=frozen-assets" in frozen.headers["Link"]
    assert client.get("/api/alerts?severity=urgent", headers=bearer(VICTOR)).status_code == 400
    alert = frozen.json()[0]["id"]

    # a viewer reads; an analyst triages and says; every change names who made it
    said = {"verdict": "false-alarm", "note": "talk"}
    assert client.post(f"/api/alerts/{alert}/verdict", json=said, headers=bearer(VICTOR)).status_code == 401
    r = client.post(f"/api/alerts/{alert}/verdict", json=said, headers=bearer(ALICE))
    assert r.status_code == 200 and r.json()["verdicts"][0] | {"at": None} == {
        "verdict": "false_alarm", "alert_id": alert, "item_id": None, "watch": "frozen-assets", "note": "talk",
        "by": "alice", "at": None,
    }  # fmt: skip
    r = client.post(f"/api/alerts/{alert}/triage", json={"action": "assign", "assignee": "bob"}, headers=bearer(ALICE))
    assert r.json()["triage"]["assignee"] == "bob" and r.json()["triage"]["updated_by"] == "alice"
    r = client.post(f"/api/alerts/{alert}/triage", json={"action": "mute", "for": "4h"}, headers=bearer(ALICE))
    assert r.json()["triage"]["muted_by"] == "alice" and [h["action"] for h in r.json()["history"]] == [
        "verdict", "assign", "mute",
    ]  # fmt: skip
    assert client.get("/api/alerts?state=muted", headers=bearer(VICTOR)).headers["X-Total-Count"] == "1"
    assert client.post("/api/mutes", json={"kind": "watch", "target": "nope"}, headers=bearer(ALICE)).status_code == 404
    r = client.post("/api/mutes", json={"kind": "source", "target": "ria-politics", "for": "1d"}, headers=bearer(ALICE))
    assert [(m["kind"], m["target"], m["by"]) for m in r.json()["mutes"]] == [
        ("alert", str(alert), "alice"), ("source", "ria-politics", "alice"),
    ]  # fmt: skip
    assert client.post("/api/alerts/9999/triage", json={"action": "resolve"}, headers=bearer(ALICE)).status_code == 404

    # a miss on an item that fired nothing, found through the same filter
    quiet = client.get("/api/items?state=unmatched&source=pravo-government&text=ратификации", headers=bearer(VICTOR))
    assert quiet.headers["X-Total-Count"] == "1"
    item = quiet.json()[0]["id"]
    r = client.post(f"/api/items/{item}/verdict", json={"watch": "portal-decree"}, headers=bearer(ALICE))
    assert r.json()["verdict"] == "miss" and r.json()["by"] == "alice"
    assert client.post(f"/api/items/{item}/verdict", json={"watch": "nope"}, headers=bearer(ALICE)).status_code == 404

    ev = client.get("/api/evaluation", headers=bearer(VICTOR)).json()
    assert ev["watches"]["frozen-assets"]["fp"] == 1 and ev["watches"]["portal-decree"]["fn"] == 1
    assert ev["false_alarms"][0]["note"] == "talk" and ev["false_alarms"][0]["why"]
    assert ev["misses"][0]["why"] == "no watch fires on it"


def test_the_cli_triages_mutes_says_and_evaluates(config_dir: Path, tmp_path: Path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "state"
    assert tw("poll", "--once", config=config_dir, state=state).returncode == 0
    alerts = json.loads(tw("alerts", "--watch", "frozen-assets", "--json", config=config_dir, state=state).stdout)
    assert len(alerts) == 3 and all(a["triage"]["state"] == "open" for a in alerts)
    target = alerts[0]["id"]
    out = tw("verdict", "false-alarm", "--alert", str(target), "--note", "talk", "--as", "alice",
             config=config_dir, state=state)  # fmt: skip
    assert out.returncode == 0 and "false alarm (frozen-assets) by alice" in out.stdout, out.stderr
    out = tw("triage", str(target), "assign", "--to", "bob", "--as", "alice", config=config_dir, state=state)
    assert "alert" in out.stdout and "assigned to bob" in out.stdout
    out = tw("mute", "agreement", "ru-fr-1994-military-cooperation", "--for", "2h", config=config_dir, state=state)
    assert out.returncode == 0 and "muted until" in out.stdout
    assert tw("mute", "watch", "nope", config=config_dir, state=state).returncode == 4
    listed = tw("alerts", "--assignee", "bob", config=config_dir, state=state).stdout
    assert f"#{target} " in listed and "[open, bob]" in listed and listed.count("\n#") == 0
    outbox = json.loads(tw("deliveries", "--watch", "frozen-assets", "--json", config=config_dir, state=state).stdout)
    assert len(outbox) == 3 and {d["alert_id"] for d in outbox} == {a["id"] for a in alerts}  # terminal, once each
    assert tw("deliveries", "--since", "5x", config=config_dir, state=state).returncode == 2
    history = tw("history", "alert", str(target), config=config_dir, state=state).stdout
    assert "alice: verdict false alarm: talk" in history and "alice: assign to bob" in history
    out = tw("evaluate", "--verdicts", "--json", config=config_dir, state=state)
    report = json.loads(out.stdout)
    assert report["watches"]["frozen-assets"]["fp"] == 1 and report["false_alarms"][0]["by"] == "alice"
    assert tw("evaluate", "--verdicts", "--min", "0.9", config=config_dir, state=state).returncode == 6
    assert tw("evaluate", config=config_dir, state=state).returncode == 2  # neither CASES nor --verdicts


def test_an_evaluation_follows_the_watchlist(store: SqlStore, config_dir: Path, tmp_path: Path, http: FixtureServer):
    """The labels are judged by the watchlist given: a miss its watch now catches counts as caught."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "other", Clock())
    try:
        item = make_item("s", title="Russia terminates military cooperation agreement with France", guid="x")
        store.commit_poll(SourceState("s"), [(item, None)], [], plan_alerts([], []), [], [], NOW)
        (stored,) = store.items_since(NOW - timedelta(days=1))
        store.set_verdict("miss", "alice", NOW, item_id=stored.id, watch_id="agreement-terminated")
        report = evaluate_verdicts(store, app.watchlist)
        (judged,) = report.judged
        assert judged.outcome == "tp" and "concerns ru-fr-1994-military-cooperation" in judged.why
        assert report.by_watch["agreement-terminated"].recall == 1.0
    finally:
        app.close()


def test_a_verdict_link_in_an_email_is_one_click_for_that_alert_only(
    config_dir: Path, tmp_path: Path, http: FixtureServer, smtp: SmtpSink, clock: Clock
):
    """Through the real SMTP sink and Chromium: the email's link opens the alert with two buttons; opening it
    records nothing, the click does (as the subscriber); another alert's link, an altered one and an expired one
    are refused."""
    from test_web_browser import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium package")
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{smtp.url()}']\n", "subscribers.yaml")
    write_config(config_dir, "settings:\n  verdict_link_secret: a-long-link-secret-1\n", "settings.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    settings = app.config.settings.model_copy(update={"web_base_url": base + "/"})
    app.config = app.outbox.config = app.config.model_copy(update={"settings": settings})
    tab = Browser(tmp_path / "profile-link")
    try:
        app.runner.poll("ria-politics")
        app.runner.poll("euronews-world")
        while app.outbox.run_once().sent:
            pass
        links = {}
        for mail in smtp.messages:
            body = mail.get_body(preferencelist=("html",)).get_content()
            (link,) = (html.unescape(u) for u in re.findall(r'<a href="([^"]*/verdict-link/[^"]*)">', body))
            links[int(link.split("/verdict-link/")[1].split("?")[0])] = link
        assert len(links) == len(smtp.messages) >= 2
        assert "Correct or false alarm? Tell the desk" in smtp.messages[0].get_body(("plain",)).get_content()
        talk = next(a.id for a in app.store.recent_alerts(10) if a.title.startswith("Медведев"))
        other = next(i for i in links if i != talk)

        tab.open(links[talk])
        assert "Медведев" in tab.text() and app.store.verdicts() == []  # opening it says nothing
        tab.type("form.verdict-link input[name=note]", "a threat")
        tab.click("form.verdict-link button[value=false-alarm]")
        assert "false alarm recorded, thank you" in tab.text()
        (v,) = app.store.verdicts()
        assert (v.alert_id, v.verdict, v.actor, v.note) == (talk, "false_alarm", "desk (message link)", "a threat")

        token = links[talk].split("?t=")[1]
        with httpx.Client(base_url=base, timeout=10) as client:
            foreign = client.get(f"/verdict-link/{other}?t={token}")  # this alert's token on another alert
            assert foreign.status_code == 403 and "not for this alert" in foreign.text
            forged = client.post(f"/verdict-link/{other}", data={"t": token, "verdict": "correct"})
            assert forged.status_code == 403 and len(app.store.verdicts()) == 1
            altered = token[:-1] + ("0" if token[-1] != "0" else "1")
            assert client.get(f"/verdict-link/{talk}?t={altered}").status_code == 403
            clock.advance(days=8)
            late = client.post(f"/verdict-link/{other}", data={"t": links[other].split("?t=")[1], "verdict": "correct"})
            assert late.status_code == 403 and "expired" in late.text and len(app.store.verdicts()) == 1
    finally:
        tab.close()
        server.stop()
        app.close()


def test_signing_in_gives_a_cookie_that_reads_and_acts_as_its_person(desk):
    app, client = desk
    assert client.post("/login", data={"token": "guess"}).status_code == 401
    r = client.post("/login", data={"token": ALICE, "back": "/alerts"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    cookie = r.headers["set-cookie"]
    assert "tw_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and ALICE not in cookie
    assert client.get("/alerts").status_code == 200 and "alice" in client.get("/").text  # off loopback, read
    alert = app.store.recent_alerts(1)[0].id
    r = client.post(f"/alerts/{alert}/triage", data={"action": "acknowledge"})
    assert r.status_code == 303 and app.store.triage_states([alert], app.clock())[alert].updated_by == "alice"
    evil = client.post(f"/alerts/{alert}/triage", data={"action": "resolve"}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and app.store.triage_states([alert], app.clock())[alert].state == "acknowledged"
    value = client.cookies["tw_session"]
    client.cookies.clear()
    client.cookies.set("tw_session", value[:-1] + ("0" if value[-1] != "0" else "1"))  # forged
    assert client.get("/alerts").status_code == 401
    client.cookies.clear()
    client.cookies.set("tw_session", value)
    assert client.get("/alerts").status_code == 200
    out = client.post("/logout")
    assert (
        out.status_code == 303
        and 'tw_session=""' in out.headers["set-cookie"]
        and "Max-Age=0" in out.headers["set-cookie"]
    )
    outbox = client.get("/api/deliveries?watch=frozen-assets", headers=bearer(VICTOR))
    frozen = {a.id for a in app.store.recent_alerts(50) if "frozen-assets" in a.watches}
    assert outbox.headers["X-Total-Count"] == "3" and {d["alert_id"] for d in outbox.json()} == frozen  # terminal
