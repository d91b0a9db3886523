"""The desk's loop in a real headless Chromium, as a desk works it: sign in with an analyst's token, filter the
alerts by watch, open an alert's own page, mark it a false alarm and another alert's report correct, mark a stored
item as a miss, see the evaluation; then edit the watchlist file, see the impact (the false alarm gone, nothing
correct lost), apply the reload as the operator, and see the evaluation change. Screenshots at desktop and phone
width go to $TREATYWATCH_ARTIFACTS (docs/screenshots/ holds a set), else to the test's tmp folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Clock, local_sources, make_app, write_config
from test_web_browser import CHROMIUM, DESKTOP, PHONE, Browser, chromium, png_size
from treatywatch.app import App
from treatywatch.daemon import Daemon
from treatywatch.filters import DeskFilter
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
ALICE = "alice-analyst-token-1"
OLGA = "olga-operator-token-1"
PEOPLE = (
    "settings:\n  people:\n"
    f"    - {{name: alice, role: analyst, token: '{ALICE}'}}\n"
    f"    - {{name: olga, role: operator, token: '{OLGA}'}}\n"
)


@pytest.fixture
def desk(config_dir: Path, tmp_path: Path, http: FixtureServer) -> Iterator[tuple[App, str, Path]]:
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, PEOPLE, "people.yaml")
    app = make_app(config_dir, tmp_path / "state", Clock())
    for src in app.config.sources:
        app.runner.poll(src.id)
    Daemon(app)  # not started: it gives the console its reload (app.reloader), as a running daemon does
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.port}", config_dir
    finally:
        server.stop()
        app.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    tab = Browser(tmp_path / "profile-desk")
    try:
        yield tab
    finally:
        tab.close()


def sign_in(browser: Browser, base: str, token: str) -> None:
    browser.open(f"{base}/login")
    browser.type("input[name=token]", token)
    browser.click("form.login button")


def test_the_desk_loop_in_chromium(desk, browser: Browser, tmp_path: Path):
    app, base, config_dir = desk
    by_title = {a.title: a for a in app.store.recent_alerts(50)}
    talk = next(a for t, a in by_title.items() if t.startswith("Медведев"))  # a threat, not an act: false alarm
    council = next(a for t, a in by_title.items() if t.startswith("Avoirs russes"))  # the real thing
    sign_in(browser, base, ALICE)
    assert "alice (analyst)" in browser.text()

    # filter by watch: every alert listed is one frozen-assets fired, and the count says how many
    browser.open(f"{base}/alerts")
    browser.js("document.querySelector('form.filter select[name=watch]').value = 'frozen-assets'")
    browser.click("form.filter button[type=submit]")
    assert (
        browser.js("location.search")
        == "?watch=frozen-assets&severity=&agreement=&source=&state=&assignee=&language=&since=&until=&text="
    )
    shown = browser.js("Array.from(document.querySelectorAll('article.alert')).map(e => e.id)")
    assert shown and sorted(shown) == sorted(f"alert-{a.id}" for a in by_title.values() if "frozen-assets" in a.watches)
    assert "3 found" in browser.text()

    # the alert's own page, from its link; a false alarm with a note
    browser.click(f"#alert-{talk.id} h2 a")
    assert browser.js("location.pathname") == f"/alerts/{talk.id}"
    assert "<bdi>" not in browser.text() and browser.js("document.querySelectorAll('.snippet mark').length") >= 1
    browser.type("form.verdict-alert input[name=note]", "a threat, not an act")
    browser.click("form.verdict-alert button[value=false-alarm]")
    assert "false alarm recorded" in browser.text()
    (verdict,) = app.store.verdicts(alert_id=talk.id)
    assert (verdict.verdict, verdict.actor, verdict.note) == ("false_alarm", "alice", "a threat, not an act")
    browser.click("form.mute button")  # and mute it for a day
    assert "muted" in browser.js("document.querySelector('#triage').innerText")
    assert app.store.triage_states([talk.id], app.clock())[talk.id].muted_by == "alice"

    # one report of another alert is correct; acknowledged and taken by alice
    browser.open(f"{base}/alerts/{council.id}")
    report = council.reports[0].item_id
    browser.click(f"#report-{report} button[value=correct]")
    browser.click("form.assign button")
    assert "assigned to alice" in browser.js("document.querySelector('#triage').innerText")
    assert [e.action for e in app.store.history("alert", str(council.id))] == ["verdict", "assign"]

    # a stored item that fired nothing should have fired portal-decree
    unmatched = app.store.item_rows(DeskFilter(state="unmatched"), 50)[0]
    missed = next(s for s in unmatched if "О ратификации" in s.item.title)
    browser.open(f"{base}/items?state=unmatched&source=pravo-government")
    browser.click(f"#item-{missed.id} a")
    browser.js("document.querySelector('form.miss select[name=watch]').value = 'portal-decree'")
    browser.click("form.miss button")
    assert "miss recorded" in browser.text()

    browser.open(f"{base}/evaluation")
    assert browser.js("document.querySelector('#score-frozen-assets .fp').textContent") == "1"
    assert browser.js("document.querySelector('#score-portal-decree .fn').textContent") == "1"
    assert "a threat, not an act" in browser.text()
    _screens(base, tmp_path, [(f"/alerts/{talk.id}", "alert"), ("/evaluation", "evaluation")])

    # the operator edits the watch, sees what it would do, and applies it
    watches = config_dir / "watches.yaml"
    text = watches.read_text(encoding="utf-8")
    watches.write_text(text.replace('"@frozen_assets AND @russia"', '"@frozen_assets AND @russia AND NOT войн*"'))
    browser.open(f"{base}/impact")
    page = browser.text()
    assert browser.js("document.querySelector('.figures .disappear').textContent") == "1", page[:1500]
    assert browser.js("Array.from(document.querySelectorAll('li.flip strong')).map(e => e.textContent)") == [
        "false alarm fixed"
    ]
    assert "would no longer fire" not in page  # nothing the desk called correct is lost
    assert browser.js("document.querySelector('.alert-losses').innerText").endswith("would not open")
    _screens(base, tmp_path, [("/impact", "impact")])
    browser.click("form.apply button")
    assert "needs a token with the operator role" in browser.text()  # alice is an analyst
    sign_in(browser, base, OLGA)
    browser.open(f"{base}/impact")
    browser.click("form.apply button")
    assert "reloaded" in browser.text()
    assert "NOT войн*" in next(w.query for w in app.config.watches if w.id == "frozen-assets")

    browser.open(f"{base}/evaluation")
    assert browser.js("document.querySelector('#score-frozen-assets .fp').textContent") == "0"
    assert "a threat, not an act" in browser.js("document.querySelector('#tn + ul').innerText")


def _screens(base: str, tmp_path: Path, pages: list[tuple[str, str]]) -> None:
    shots = Path(os.environ.get("TREATYWATCH_ARTIFACTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    for path, name in pages:
        for (width, height), kind in ((DESKTOP, "desktop"), (PHONE, "phone")):
            target = shots / f"desk-{name}-{kind}.png"
            chromium(tmp_path / "profile-shots", f"--window-size={width},{height}", f"--screenshot={target}",
                     f"{base}{path}")  # fmt: skip
            assert png_size(target) == (width, height)
