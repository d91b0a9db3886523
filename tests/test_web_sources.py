"""Sources in the operator's hands, and the console's small defects the probe found. A real app on a real SQLite
file, its console served on 127.0.0.1 and asked with httpx; feeds from the local fixture server; the command line
in a subprocess as an operator runs it."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import FIXTURES, Clock, local_sources, make_app, tw, write_config
from test_web_browser import dead_console  # noqa: F401 - the fixture: an outbox with two dead deliveries
from treatywatch.app import App
from treatywatch.errors import FilterError
from treatywatch.filters import DeskFilter
from treatywatch.localserve import FixtureServer
from treatywatch.store import SourceState, open_store
from treatywatch.web.server import StatusServer

OLGA, ALICE = "olga-operator-token-1", "alice-analyst-token-1"
PEOPLE = (
    "settings:\n  people:\n"
    f"    - {{name: alice, role: analyst, token: '{ALICE}'}}\n"
    f"    - {{name: olga, role: operator, token: '{OLGA}'}}\n"
)


class Served:
    def __init__(self, app: App, server: StatusServer, clock: Clock) -> None:
        self.app, self.server, self.clock = app, server, clock
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10)


@pytest.fixture
def served(config_dir: Path, tmp_path: Path, http: FixtureServer, clock: Clock) -> Iterator[Served]:
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, PEOPLE, "people.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    for src in app.config.sources:
        app.runner.poll(src.id)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    s = Served(app, server, clock)
    try:
        yield s
    finally:
        s.client.close()
        server.stop()
        app.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_operator_pauses_and_resumes_a_source_and_the_history_says_who(served: Served):
    c = served
    # an analyst may not: pausing sources is the operators'
    r = c.client.post("/api/sources/euronews-world", json={"action": "pause"}, headers=bearer(ALICE))
    assert r.status_code == 401 and not c.app.store.source_state("euronews-world").paused
    r = c.client.post("/api/sources/euronews-world", json={"action": "pause"}, headers=bearer(OLGA))
    assert r.status_code == 200 and r.json()["done"] == "euronews-world paused"
    row = r.json()["source"]
    assert row["paused"] and row["paused_by"] == "olga" and row["health"] == "paused" and row["next_poll"] is None
    listed = {s["id"]: s for s in c.client.get("/api/sources").json()}
    assert listed["euronews-world"]["paused"] and not listed["ria-politics"]["paused"]

    # a poll that was running when the pause came writes its state: the pause stays
    c.app.store.save_source_state(c.app.store.source_state("euronews-world"))
    assert c.app.store.source_state("euronews-world").paused_by == "olga"
    # poll now on a paused source is refused, and says why
    r = c.client.post("/api/sources/euronews-world", json={"action": "poll-now"}, headers=bearer(OLGA))
    assert r.status_code == 400 and "paused (by olga)" in r.json()["error"]

    c.clock.advance(minutes=5)
    r = c.client.post("/api/sources/euronews-world", json={"action": "resume"}, headers=bearer(OLGA))
    assert r.json()["done"] == "euronews-world resumed, polled now" and not r.json()["source"]["paused"]
    state = c.app.store.source_state("euronews-world")
    assert state.next_due == c.clock()  # due at once: the dispatcher claims it at its next look
    history = c.client.get("/api/sources/euronews-world").json()["history"]
    assert [(e["action"], e["by"]) for e in history] == [("pause", "olga"), ("resume", "olga")]
    bad = c.client.post("/api/sources/euronews-world", json={"action": "explode"}, headers=bearer(OLGA))
    assert bad.status_code == 400 and "pause, resume, poll-now" in bad.json()["error"]
    assert c.client.post("/api/sources/nope", json={"action": "pause"}, headers=bearer(OLGA)).status_code == 404


def test_poll_now_makes_a_backing_off_source_due_at_once(served: Served, http: FixtureServer):
    c = served
    http.routes["/news/euronews_world.xml"] = lambda h: (500, {}, b"down")
    c.app.runner.poll("euronews-world")
    backing_off = c.app.store.source_state("euronews-world").next_due
    assert backing_off is not None and backing_off > c.clock()
    r = c.client.post("/api/sources/euronews-world", json={"action": "poll-now"}, headers=bearer(OLGA))
    assert r.json()["done"] == "euronews-world: poll scheduled now"
    assert c.app.store.source_state("euronews-world").next_due == c.clock()
    assert c.app.store.history("source", "euronews-world")[-1].action == "poll now"


def test_a_source_page_shows_its_last_items_and_what_each_matches_or_why_not(served: Served):
    c = served
    page = c.client.get("/sources/euronews-world")
    assert page.status_code == 200
    html = page.text
    stored = c.app.store.item_rows(DeskFilter(source="euronews-world"), 100)[0]
    assert html.count('<li id="item-') == min(20, len(stored))
    fires = [s for s in stored if c.app.watchlist.match(s.item)]
    quiet = [s for s in stored if not c.app.watchlist.match(s.item)]
    assert fires and quiet
    block = re.search(rf'<li id="item-{fires[0].id}">.*?</li>\n</ul>', html, re.S)
    assert block and "fires:" in block[0] and "<code>" in block[0]
    block = re.search(rf'<li id="item-{quiet[0].id}">.*?</li>', html, re.S)
    assert block and "No watch fires" in block[0]
    data = c.client.get("/api/sources/euronews-world").json()
    by_id = {i["id"]: i for i in data["last_items"]}
    assert by_id[fires[0].id]["fires"] and by_id[quiet[0].id]["fires"] == []
    assert data["total_items"] == len(stored)
    # the overview and the sources page link there; the form is the operators' (one token field, or none)
    assert 'href="/sources/euronews-world"' in c.client.get("/sources").text
    assert html.count('name="token"') == 1 and 'value="pause"' in html
    signed = c.client.post("/login", data={"token": OLGA, "back": "/sources/euronews-world"})
    assert signed.status_code == 303
    assert 'name="token"' not in c.client.get("/sources/euronews-world").text  # the cookie carries the operator
    r = c.client.post("/sources/euronews-world/action", data={"action": "pause"})
    assert r.status_code == 303 and r.headers["location"].startswith("/sources/euronews-world?done=")
    assert "paused by <strong>olga</strong>" in c.client.get(r.headers["location"]).text
    assert c.client.get("/sources/nope").status_code == 404


def test_the_command_line_pauses_resumes_and_polls_now(config_dir: Path, tmp_path: Path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "state"
    assert tw("poll", "--once", config=config_dir, state=state).returncode == 0
    out = tw("sources", "pause", "euronews-world", "--as", "olga", config=config_dir, state=state)
    assert out.returncode == 0 and out.stdout.strip() == "euronews-world paused", out.stderr
    listing = tw("sources", config=config_dir, state=state).stdout
    assert re.search(r"euronews-world .*\n    paused by olga since \d{4}-\d\d-\d\d \d\d:\d\d UTC: not polled", listing)
    as_json = json.loads(tw("sources", "--json", config=config_dir, state=state).stdout)
    assert next(s for s in as_json if s["id"] == "euronews-world")["paused_by"] == "olga"
    polled = tw("poll", "--once", config=config_dir, state=state)
    assert "euronews-world: skipped, paused (treatywatch sources resume euronews-world)" in polled.stdout
    assert "ria-politics:" in polled.stdout
    refused = tw("sources", "poll-now", "euronews-world", config=config_dir, state=state)
    assert refused.returncode != 0 and "is paused (by olga): resume it to poll it" in refused.stderr
    assert tw("sources", "resume", "euronews-world", config=config_dir, state=state).stdout.startswith(
        "euronews-world resumed"
    )
    assert "paused by" not in tw("sources", config=config_dir, state=state).stdout
    unknown = tw("sources", "pause", "nope", config=config_dir, state=state)
    assert unknown.returncode != 0 and "no source 'nope'" in unknown.stderr
    history = tw("history", "source", "euronews-world", config=config_dir, state=state).stdout
    assert "olga: pause" in history and "@cli: resume" in history


def test_stale_means_no_success_within_three_intervals_not_one_failure(app_with, http: FixtureServer, clock: Clock):
    """Before: a source's first failure showed `stale` at once (no success yet counted as stale)."""
    down = {"on": True}
    rss = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    http.routes["/f"] = lambda h: (500, {}, b"down") if down["on"] else (200, {}, rss)
    app = app_with(f"  - {{id: f, type: feed, url: '{http.base}/f', every: 10m}}\n")
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:

            def row() -> dict:
                return next(s for s in client.get("/api/sources").json() if s["id"] == "f")

            app.runner.poll("f")
            assert row()["health"] == "failing" and not row()["stale"]  # one failure: failing, not stale
            clock.advance(minutes=25)
            app.runner.poll("f")
            assert not row()["stale"]  # 25 minutes of failures: within three 10-minute intervals
            clock.advance(minutes=6)
            app.runner.poll("f")
            assert row()["stale"] and row()["first_attempt"] is not None  # 31 minutes since its first poll
            down["on"] = False
            app.runner.poll("f")
            assert row()["health"] == "ok" and not row()["stale"]
            clock.advance(minutes=31)
            assert row()["stale"]  # a success, then nothing for three intervals
            page = client.get("/").text
            assert 'class="h-ok stale"' in page
    finally:
        server.stop()
        app.close()


def test_favicon_404_page_items_label_and_one_token_field(served: Served):
    c = served
    icon = c.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    assert c.client.get("/static/favicon.svg").status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in c.client.get("/").text
    missing = c.client.get("/no/such/page")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert '<a href="/sources"' in missing.text and "nothing here at /no/such/page" in missing.text
    assert c.client.get("/api/nothing").json() == {"error": "nothing here at /api/nothing"}
    overview = c.client.get("/").text
    card = re.search(r'<tr id="source-euronews-world".*?</tr>', overview, re.S)
    items = r'data-label="Items"[^>]*>\d+ <small>last poll</small> / \d+ <small>stored</small>'
    assert card and re.search(items, card[0])
    css = c.client.get("/static/console.css").text
    assert "@media (prefers-color-scheme: dark)" in css and "color-scheme: light dark" in css


def test_the_outbox_has_one_token_field_for_all_its_retry_buttons(dead_console):  # noqa: F811
    app, base = dead_console("  web_token: s3cret-token\n")
    page = httpx.get(f"{base}/outbox", timeout=10).text
    assert page.count('name="token"') == 1
    assert page.count('form="retry-dead"') == len(app.store.deliveries("dead")) == 2
    target = app.store.deliveries("dead")[0].id
    r = httpx.post(f"{base}/outbox/retry", data={"ids": str(target), "token": "s3cret-token"}, timeout=10)
    assert r.status_code == 303 and {d.id: d.status for d in app.store.deliveries()}[target] == "pending"


def test_poll_dry_run_ignores_the_stored_validators(config_dir: Path, tmp_path: Path, http: FixtureServer):
    """Before: after a poll stored the feed's ETag, `poll --dry-run` sent If-None-Match, the server answered 304
    and the dry run printed `0 items`."""
    rss = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    asked: list[str | None] = []

    def feed(h) -> tuple[int, dict, bytes]:
        asked.append(h.headers.get("If-None-Match"))
        if h.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, rss

    http.routes["/f"] = feed
    sources = local_sources(http.base) + f"  - {{id: f, type: feed, url: '{http.base}/f'}}\n"
    write_config(config_dir, sources, "sources.yaml")
    state = tmp_path / "state"
    assert tw("poll", "f", config=config_dir, state=state).returncode == 0
    assert "not modified" in tw("poll", "f", config=config_dir, state=state).stdout  # the validators work
    dry = tw("poll", "f", "--dry-run", config=config_dir, state=state)
    assert dry.returncode == 0 and re.search(r"^f: [1-9]\d* items$", dry.stdout, re.M), dry.stdout
    assert asked == [None, '"v1"', None]


def test_pause_resume_and_poll_now_on_both_engines(database: str, tmp_path: Path):
    """The store's part, on SQLite and PostgreSQL: a pause survives a poll's own write of the source's state, poll
    now is refused while paused, resume makes it due; the first poll is kept through later saves (stale's anchor)."""
    store = open_store(database, tmp_path)
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        store.save_source_state(SourceState("s", last_attempt=t0, consecutive_failures=1))
        store.save_source_state(SourceState("s", last_attempt=t0 + timedelta(minutes=5), consecutive_failures=2))
        assert store.source_state("s").first_attempt == t0
        assert store.pause_source("s", "olga", t0) and not store.pause_source("s", "bob", t0)
        store.save_source_state(replace(store.source_state("s"), paused_at=None, consecutive_failures=3))
        state = store.source_state("s")
        assert state.paused_by == "olga" and state.paused_at == t0 and state.consecutive_failures == 3
        assert store.paused_sources() == {"s"}
        with pytest.raises(FilterError, match="paused"):
            store.poll_source_now("s", "olga", t0)
        assert store.resume_source("s", "olga", t0 + timedelta(hours=1)) and not store.resume_source("s", "x", t0)
        assert store.source_state("s").next_due == t0 + timedelta(hours=1) and store.paused_sources() == set()
        store.poll_source_now("never-polled", "olga", t0)  # a source with no row yet gets one
        assert store.source_state("never-polled").next_due == t0
        assert [(e.action, e.actor) for e in store.history("source", "s")] == [("pause", "olga"), ("resume", "olga")]
    finally:
        store.close()


def test_poll_now_from_the_command_line_reaches_the_running_daemon(config_dir: Path, tmp_path: Path, http, smtp):
    """`treatywatch sources poll-now` in another process than the daemon: the store makes the source due, and the
    daemon's dispatcher (which looks every second) polls it; a paused source is left alone by the daemon."""
    from test_baseline import daemon_files
    from test_shutdown import RunningDaemon

    fetched: list[float] = []
    rss = (FIXTURES / "news" / "euronews_world.xml").read_bytes()

    def feed(h) -> tuple[int, dict, bytes]:
        fetched.append(time.monotonic())
        return 200, {"Content-Type": "application/rss+xml"}, rss

    http.routes["/live.xml"] = feed
    daemon_files(config_dir, http.base, smtp.url(), every="1h")
    state = tmp_path / "state"
    daemon = RunningDaemon(config_dir, state, tmp_path / "d.log")

    try:
        daemon.wait_for("source live: ")  # its first turn, at the start (one source: no spreading)
        before = len(fetched)
        assert tw("sources", "poll-now", "live", config=config_dir, state=state).returncode == 0
        daemon.wait_for_count(fetched, before + 1, "poll-now from the CLI")
        assert tw("sources", "pause", "live", config=config_dir, state=state).returncode == 0
        time.sleep(3)  # three looks of the dispatcher at the store
        assert len(fetched) == before + 1
        assert tw("sources", "resume", "live", config=config_dir, state=state).returncode == 0
        daemon.wait_for_count(fetched, before + 2, "resume from the CLI")
    finally:
        daemon.stop(signal.SIGTERM, 30)
        daemon.close()


def test_a_source_page_says_what_its_poll_found_beside_what_fires_now(app_with, http: FixtureServer):
    """A baseline poll stores its matches quietly: the page says the item fires now but opened no alert, and why."""
    rss = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    http.routes["/f"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, rss)
    app = app_with(f"  - {{id: f, type: feed, url: '{http.base}/f'}}\n", baseline=True)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        assert app.runner.poll("f").baseline
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            items = client.get("/api/sources/f").json()["last_items"]
            quiet = [i for i in items if i["fires"]]
            assert quiet and all(i["alerts"] == [] and i["at_poll"] for i in quiet)
            page = client.get("/sources/f").text
            block = re.search(rf'<li id="item-{quiet[0]["id"]}">.*?</li>\n(?=<li|</ul>)', page, re.S)
            assert block and "matched at its poll without an alert: the source&#39;s baseline" in block[0]
    finally:
        server.stop()
        app.close()
