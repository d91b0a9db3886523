"""The console of a desk with hundreds or thousands of sources: the overview lists the sources that need attention,
not every one; the sources page comes in pages and filters by health and by a part of the id; the alert filter's
source is typed, not a list of thousands. A real app on a real SQLite file, served on 127.0.0.1; in Chromium too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Clock, make_app, write_config
from test_web_browser import CHROMIUM, Browser
from treatywatch.app import App
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

SOURCES = 600  # over the overview's 200 and the alert filter's 500 choices
FAILING = ("farm-7", "farm-250", "farm-599")


def rows(page: str) -> list[str]:
    return re.findall(r'<tr id="source-([^"]+)"', page)


@pytest.fixture
def desk(tmp_path: Path, http: FixtureServer, clock: Clock) -> Iterator[tuple[App, str]]:
    """600 feeds and nothing else configured: three failing (their server answers 500), one paused, the rest not
    polled yet."""
    http.routes["/down.xml"] = lambda h: (500, {}, b"down")
    lines = [
        f"  - {{id: farm-{i}, type: feed, url: '{http.base}/{'down' if f'farm-{i}' in FAILING else f'f{i}'}.xml'}}"
        for i in range(SOURCES)
    ]
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write_config(config_dir, "sources:\n" + "\n".join(lines) + "\n", "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    for sid in FAILING:
        assert app.runner.poll(sid).error
    assert app.store.pause_source("farm-3", "olga", clock())
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        app.close()


def test_the_overview_of_a_large_desk_lists_what_needs_attention(desk):
    _, base = desk
    page = httpx.get(f"{base}/").text
    assert sorted(rows(page)) == sorted([*FAILING, "farm-3"])
    assert "4 of the 600 sources need attention" in page
    assert '<a href="/sources"><strong>600</strong> sources</a>' in page
    assert '<a class="bad" href="/sources?health=attention">3 failing</a>' in page


def test_the_sources_page_comes_in_pages_and_filters(desk):
    _, base = desk
    first = httpx.get(f"{base}/sources").text
    assert rows(first) == [f"farm-{i}" for i in range(200)]
    assert "1–200 of 600" in first and 'rel="prev"' not in first
    nxt = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert nxt is not None
    second = httpx.get(base + nxt.group(1).replace("&amp;", "&")).text
    assert rows(second) == [f"farm-{i}" for i in range(200, 400)] and "201–400 of 600" in second
    failing = httpx.get(f"{base}/sources", params={"health": "failing"}).text
    assert rows(failing) == list(FAILING) and "3 found" in failing
    attention = httpx.get(f"{base}/sources", params={"health": "attention"}).text
    assert rows(attention) == ["farm-3", *FAILING]
    by_id = httpx.get(f"{base}/sources", params={"q": "FARM-12"}).text
    assert rows(by_id) == ["farm-12", *(f"farm-{i}" for i in range(120, 130))]
    none = httpx.get(f"{base}/sources", params={"health": "broken", "q": "farm-1"}).text
    assert rows(none) == [] and "No source is broken with «farm-1» in its id." in none
    bad = httpx.get(f"{base}/sources", params={"health": "sick"})
    assert bad.status_code == 400 and "health must be one of disabled, paused, new, ok" in bad.text
    api = httpx.get(f"{base}/api/sources", params={"health": "failing"})
    assert [s["id"] for s in api.json()] == list(FAILING) and api.headers["X-Total-Count"] == "3"


def test_a_source_page_and_the_alert_filter_on_a_large_desk(desk):
    _, base = desk
    page = httpx.get(f"{base}/sources/farm-250").text
    assert "farm-250" in page and "HTTP 500" in page
    alerts = httpx.get(f"{base}/alerts").text
    assert '<input type="text" name="source"' in alerts and "<option>farm-599</option>" not in alerts
    assert httpx.get(f"{base}/alerts", params={"source": "farm-7"}).status_code == 200


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_an_operator_pages_and_filters_the_sources_in_chromium(desk, tmp_path):
    _, base = desk
    tab = Browser(tmp_path / "profile-scale")
    try:
        tab.open(f"{base}/sources")
        assert tab.js("document.querySelectorAll('table.sources tbody tr').length") == 200
        tab.click("a[rel=next]")
        assert "201–400 of 600" in tab.text()
        assert tab.js("document.querySelector('table.sources tbody tr').id") == "source-farm-200"
        tab.type("form.sources-filter input[name=q]", "farm-25")
        tab.click("form.sources-filter button[type=submit]")
        assert tab.js("location.search") == "?health=&q=farm-25"
        shown = tab.js("[...document.querySelectorAll('table.sources tbody tr')].map(r => r.id)")
        assert shown == ["source-farm-25", *(f"source-farm-{i}" for i in range(250, 260))]
        assert "h-failing" in tab.js("document.getElementById('source-farm-250').className")
        tab.open(f"{base}/")
        tab.click("a[href='/sources?health=attention']")
        assert tab.js("document.querySelectorAll('table.sources tbody tr').length") == 4
    finally:
        tab.close()


def test_the_overview_reads_only_rows_that_may_need_attention_and_finds_what_the_sources_page_does(
    tmp_path: Path, clock: Clock
):
    """A large desk's overview reads the rows that may need attention (store.attention_candidates: failing, paused,
    empty, a backlog, or no success within three of the shortest interval), not every row: it must name exactly
    the sources the sources page's `attention` filter names over every row, whatever each source's interval (a
    cron's among them) and flags."""
    from datetime import timedelta

    from treatywatch.store import SourceState
    from treatywatch.web import api

    every = {"a": "10m", "b": "10m", "c": "1h", "d": "1h", "e": "0 9 * * 1-5", "f": "10m", "g": "1h", "h": "1h",
             "i": "1h", "k": "10m", "l": "1h", "m": "1d"}  # fmt: skip
    lines = [
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}.xml', every: '{gap}'"
        + (", enabled: false}" if sid == "i" else "}")
        for sid, gap in every.items()
    ]
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write_config(config_dir, "sources:\n" + "\n".join(lines) + "\n", "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    now = clock()

    def polled(sid: str, ago: timedelta, **more: object) -> None:
        app.store.save_source_state(SourceState(sid, last_attempt=now - ago, last_success=now - ago, **more))  # type: ignore[arg-type]

    try:
        polled("a", timedelta(minutes=25))  # within three intervals
        polled("b", timedelta(minutes=35))  # stale
        polled("c", timedelta(hours=2))  # a candidate (past three of the shortest interval), not stale
        polled("d", timedelta(hours=4))  # stale
        polled("e", timedelta(days=10))  # stale: the cron runs every weekday
        app.store.save_source_state(
            SourceState("f", last_attempt=now, last_success=now - timedelta(minutes=5), consecutive_failures=1)
        )  # failing
        polled("g", timedelta(minutes=1))
        assert app.store.pause_source("g", "olga", now)  # paused
        polled("h", timedelta(minutes=1), empty_flag=True)  # gone empty
        polled("i", timedelta(minutes=1), empty_flag=True)  # disabled, and gone empty
        # "k": never polled, no row
        app.store.save_source_state(SourceState("l", last_attempt=now - timedelta(hours=4)))  # never a success
        polled("m", timedelta(days=2))  # a candidate, not stale
        assert set(app.store.attention_candidates(now - timedelta(minutes=30))) >= {"c", "m"}
        shown, failing = api.attention(app)
        everyone = api.sources(app)
        assert [r["id"] for r in shown] == [r["id"] for r in everyone if api.needs_attention(r)]
        assert [r["id"] for r in shown] == ["b", "d", "e", "f", "g", "h", "i", "l"]
        assert failing == sum(r["health"] in ("failing", "broken") for r in everyone) == 1
    finally:
        app.close()
