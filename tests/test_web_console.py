"""The web console: a real app on a real SQLite file, served by uvicorn on 127.0.0.1, asked over loopback with httpx.

Alerts come from polling the demo's fixture feeds through the pipeline (nothing is inserted by hand); the outbox
from a real webhook receiver that fails on demand.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from defusedxml import ElementTree

from conftest import FIXTURES, Clock, WebhookSink, local_sources, make_app, write_config
from treatywatch.app import App
from treatywatch.daemon import Daemon
from treatywatch.localserve import FixtureServer
from treatywatch.web import auth
from treatywatch.web.server import StatusServer

ATOM = "{http://www.w3.org/2005/Atom}"
TOKEN = "s3cret-token"


class Console:
    """An app with every demo source polled (a day apart), its console served, and an httpx client on it."""

    def __init__(self, app: App, server: StatusServer, clock: Clock) -> None:
        self.app, self.server, self.clock = app, server, clock
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10)


@pytest.fixture
def console(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink, clock: Clock
) -> Iterator[Callable[..., Console]]:
    made: list[Console] = []

    def make(settings: str = "", poll: bool = True) -> Console:
        write_config(config_dir, local_sources(http.base), "sources.yaml")
        write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n", "subscribers.yaml")
        if settings:
            write_config(config_dir, "settings:\n" + settings, "settings.yaml")
        app = make_app(config_dir, tmp_path / "state", clock)
        if poll:
            for src in app.config.sources:
                app.runner.poll(src.id)
                clock.advance(days=1)
        server = StatusServer(app, "127.0.0.1", 0)
        server.start()
        made.append(Console(app, server, clock))
        return made[-1]

    yield make
    for c in made:
        c.client.close()
        c.server.stop()
        c.app.close()


def test_pages_render_for_a_phone_with_nothing_from_elsewhere(console):
    c = console()
    for path in ("/", "/alerts", "/outbox", "/tester"):
        r = c.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        page = r.text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        # one stylesheet and (for live pages) one script, both ours: no CDN, no external JS
        assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == ["/static/console.css"]
        assert all(src.startswith("/static/") for src in re.findall(r'<script[^>]* src="([^"]+)"', page))
        assert "<script>" not in page  # nothing inline: the CSP forbids it
        assert "script-src 'self'" in r.headers["content-security-policy"]
    css = c.client.get("/static/console.css")
    assert css.status_code == 200 and "@media (max-width: 640px)" in css.text and "attr(data-label)" in css.text
    assert c.client.get("/static/console.js").status_code == 200

    overview = c.client.get("/").text
    assert 'id="source-euronews-world"' in overview and '<span class="badge ok">ok</span>' in overview
    assert 'data-label="Next poll"' in overview and "UTC" in overview
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in overview  # refresh without JS
    alerts = c.client.get("/alerts").text
    assert "Russia terminates military agreements with Portugal, France and Canada" in alerts
    biggest = max(c.app.store.recent_alerts(50), key=lambda a: len(a.reports))
    assert "<mark>" in alerts and f"{len(biggest.reports)} reports" in alerts and len(biggest.reports) > 1
    assert alerts.count('<li class="report">') == sum(len(a.reports) for a in c.app.store.recent_alerts(50))
    assert 'href="http://127.0.0.1:' in alerts  # every report's link


def test_sources_show_health_stale_and_broken(console, http):
    http.routes["/news/euronews_world.xml"] = lambda h: (500, {}, b"down")
    c = console(poll=False)
    c.app.runner.poll("ria-politics")
    for _ in range(5):
        c.app.runner.poll("euronews-world")
    c.clock.advance(days=1)  # ria-politics polls every few minutes: a day without success makes it stale
    rows = {s["id"]: s for s in c.client.get("/api/sources").json()}
    assert rows["euronews-world"]["health"] == "broken" and rows["euronews-world"]["stale"]
    assert rows["ria-politics"]["health"] == "ok" and rows["ria-politics"]["stale"]
    assert rows["council-press-fr"]["health"] == "new" and not rows["council-press-fr"]["stale"]
    assert rows["euronews-world"]["next_poll"] is not None
    page = c.client.get("/").text
    assert '<tr id="source-euronews-world" class="h-broken stale">' in page
    assert "HTTP 500" in page or "500" in page


def test_sources_show_their_baseline_and_age_limit(app_with, http, clock):
    rss = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    http.routes["/feed"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, rss)
    app = app_with(f"  - {{id: fresh, type: feed, url: '{http.base}/feed', ignore_older_than: 2d}}\n", baseline=True)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            (row,) = [s for s in client.get("/api/sources").json() if s["id"] == "fresh"]
            assert row["baseline"] == "pending" and row["ignore_older_than"] == 2 * 86400
            card = re.search(r'<tr id="source-fresh".*?</tr>', client.get("/").text, re.S)
            assert card and "baseline pending" in card[0] and "alerts on items up to 2d old" in card[0]
            assert "every 15m" in card[0]
            assert app.runner.poll("fresh").alerts == 0  # the baseline: stored, nothing alerted
            (row,) = [s for s in client.get("/api/sources").json() if s["id"] == "fresh"]
            assert row["baseline"] == "done" and "baseline pending" not in client.get("/").text
    finally:
        server.stop()
        app.close()


def test_times_in_the_operators_zone(console):
    c = console("  web_timezone: Europe/Paris\n")
    page = c.client.get("/alerts").text
    first = c.app.store.recent_alerts(1)[0]
    local = first.created_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M CET")
    assert f"opened {local}" in page and "Times in Europe/Paris" in page
    api = c.client.get("/api/alerts?limit=1").json()[0]
    assert api["created_at"].endswith("+00:00")  # the API stays in UTC


def test_hostile_title_is_escaped_and_its_words_still_marked(app_with, http, clock):
    # entities in the feed: the item's title then holds real markup characters (tags themselves are stripped)
    hostile = (
        "&lt;script&gt;alert(1)&lt;/script&gt; Russia terminates military cooperation agreement with France "
        "&lt;img src=x onerror=alert(2)&gt; \u202e"
    )
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, json.dumps(feed).encode())
    app = app_with(f"  - {{id: jf, type: feed, url: '{http.base}/jf', language: en}}\n")
    app.runner.poll("jf")  # baseline: the hostile item is published after it
    feed["items"] = [
        {"id": "x1", "title": hostile, "url": "javascript:alert(3)", "date_published": "2025-12-06T10:00:00Z"}
    ]
    assert app.runner.poll("jf").alerts == 1
    assert "<script>" in app.store.recent_alerts(1)[0].title
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            for path in ("/alerts", "/"):
                page = client.get(path).text
                assert "<script>alert" not in page and "<img src=x" not in page and "\u202e" not in page
                assert "javascript:" not in page  # the link is dropped, the title stays
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            page = client.get("/alerts").text
            assert re.search(r"<mark>terminates</mark>", page)
    finally:
        server.stop()
        app.close()


def test_retry_needs_the_token_and_moves_a_dead_delivery_back_to_pending(console, webhook):
    c = console(f"  web_token: {TOKEN}\n  delivery_max_attempts: 1\n", poll=False)
    c.app.runner.poll("euronews-world")
    webhook.fail_with = 500
    c.app.outbox.run_once()
    c.app.outbox.run_once()  # a channel that just failed is tried again in the next round only
    dead = c.client.get("/api/deliveries?status=dead").json()
    assert len(dead) == 2 and all(d["subscriber"] == "desk" for d in dead)
    page = c.client.get("/outbox").text
    assert page.count(">Retry</button>") == 2 and 'type="password" name="token"' in page
    target = dead[0]["id"]

    assert c.client.post("/outbox/retry", data={"ids": str(target)}).status_code == 401
    assert c.client.post("/outbox/retry", data={"ids": str(target), "token": "wrong"}).status_code == 401
    r = c.client.post("/api/deliveries/retry", json={"ids": [target]}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and TOKEN not in r.text
    cross = c.client.post(
        "/outbox/retry", data={"ids": str(target), "token": TOKEN}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    empty = c.client.post("/api/deliveries/retry", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert empty.status_code == 400  # a forgotten field never re-queues everything: that takes "all"
    assert {d.status for d in c.app.store.deliveries()} == {"dead"}  # nothing moved yet

    r = c.client.post("/outbox/retry", data={"ids": str(target), "token": TOKEN})
    assert r.status_code == 303 and r.headers["location"] == "/outbox?requeued=1"
    statuses = {d.id: d.status for d in c.app.store.deliveries()}
    assert statuses[target] == "pending" and list(statuses.values()).count("dead") == 1
    assert "Re-queued 1 dead deliveries." in c.client.get(r.headers["location"]).text

    r = c.client.post("/api/deliveries/retry", json={"ids": "all"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.json() == {"requeued": 1}
    webhook.fail_with = None
    c.app.outbox.run_once()
    assert len(webhook.bodies) == 2 and {d.status for d in c.app.store.deliveries()} == {"sent"}


def test_without_a_token_retry_works_from_this_machine_only(console, webhook):
    c = console("  delivery_max_attempts: 1\n", poll=False)
    c.app.runner.poll("euronews-world")
    webhook.fail_with = 500
    c.app.outbox.run_once()
    rebound = c.client.post("/api/deliveries/retry", json={"ids": "all"}, headers={"Host": "evil.example"})
    assert rebound.status_code == 403 and len(c.app.store.deliveries("dead")) == 1
    assert c.client.post("/api/deliveries/retry", json={"ids": "all"}).json() == {"requeued": 1}
    assert c.app.store.deliveries("dead") == []


def test_state_changes_without_a_token_only_on_loopback():
    headers = {"host": "127.0.0.1:8424"}
    auth.check(None, True, headers)  # loopback, no token: allowed
    auth.check(None, True, {"host": "[::1]:8424"})
    with pytest.raises(auth.Denied) as refused:
        auth.check(None, False, headers)
    assert refused.value.status == 403
    auth.check(None, False, headers | {"authorization": "Bearer r"}, readers=["r"])  # the tester: readers may
    with pytest.raises(auth.Denied):  # off loopback, no token at all: nobody may read, nor test
        auth.check(None, False, headers, readers=[])
    with pytest.raises(auth.Denied):
        auth.check(None, True, headers | {"origin": "http://evil.example"})
    auth.check(None, True, headers | {"origin": "http://127.0.0.1:8424"})
    auth.check(None, True, headers | {"origin": "http://127.0.0.1:8424", "sec-fetch-site": "same-origin"})
    for hidden in ({"origin": "null"}, {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}):
        with pytest.raises(auth.Denied):  # a sandboxed frame, a page hiding its origin, a neighbour's page
            auth.check(None, True, headers | hidden)
    with pytest.raises(auth.Denied):  # DNS rebinding: a foreign name pointed at 127.0.0.1, same-origin to itself
        auth.check(None, True, {"host": "evil.example:8424", "origin": "http://evil.example:8424"})
    headers = {"host": "tw.example.org"}
    auth.check(TOKEN, False, headers | {"authorization": f"Bearer {TOKEN}"})
    with pytest.raises(auth.Denied):
        auth.check(TOKEN, True, headers, form_token=TOKEN[:-1])
    assert auth.is_loopback("127.0.0.1") and auth.is_loopback("::1") and auth.is_loopback("localhost")
    assert not auth.is_loopback("0.0.0.0") and not auth.is_loopback("192.0.2.1")


def test_watch_tester_explains_what_fires_and_what_is_set_aside(console):
    c = console(poll=False)
    text = "Russia terminates military cooperation agreement with France\nMoscow ended the 1994 accord."
    r = c.client.post("/api/test", json={"text": text, "language": "en"})
    assert r.status_code == 200
    result = r.json()
    fired = {m["watch_id"]: m for m in result["fires"]}
    assert "agreement-terminated" in fired
    match = fired["agreement-terminated"]
    assert any(h["text"].lower().startswith("terminat") for h in match["hits"])
    assert any(a["reasons"] for a in match["agreements"]) and match["snippet"]["marks"]

    talk = "Senators call on Russia to terminate its military cooperation agreement with France"
    aside = c.client.post("/api/test", json={"text": talk, "language": "en"}).json()
    assert aside["fires"] == [] and any(s["watch"] == "agreement-terminated" for s in aside["set_aside"])

    page = c.client.post("/tester", data={"text": text, "language": "en"})
    assert page.status_code == 200 and "agreement-terminated" in page.text and "<mark>" in page.text
    assert c.client.post("/api/test", json={"text": "x" * 20_001}).status_code == 400
    assert c.client.post("/api/test", content=b"x" * 300_000).status_code == 413
    assert c.app.store.counts()["alerts"] == 0  # the tester stores nothing


def test_watch_tester_needs_the_token_when_one_is_set(console, monkeypatch):
    monkeypatch.setenv(auth.ENV_TOKEN, TOKEN)  # read from the environment when settings has none
    c = console(poll=False)
    body = {"text": "Russia terminates military cooperation agreement with France"}
    assert c.client.post("/api/test", json=body).status_code == 401
    ok = c.client.post("/api/test", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["fires"]
    assert 'name="token"' in c.client.get("/tester").text
    page = c.client.post("/tester", data=body | {"token": TOKEN})
    assert page.status_code == 200 and "agreement-terminated" in page.text
    assert TOKEN not in page.text  # never shown back
    assert c.client.post("/tester", data=body | {"token": "wrong"}).status_code == 401


def test_chart_has_a_bar_for_each_day_and_watch_with_alerts(console):
    c = console()
    expected = Counter((a.created_at.date().isoformat(), a.watch_id) for a in c.app.store.recent_alerts(100))
    assert len({day for day, _ in expected}) >= 3  # the sources were polled a day apart
    stats = c.client.get("/api/stats/alerts-per-day").json()
    assert stats["timezone"] == "UTC" and len(stats["days"]) == 30
    assert stats["days"][-1] == c.clock().date().isoformat()
    got = Counter(
        {(day, w): n for w, counts in stats["watches"].items() for day, n in zip(stats["days"], counts, strict=True)}
    )
    assert +got == expected
    page = c.client.get("/").text
    bars = re.findall(r'<rect class="bar" data-day="([^"]+)" data-watch="([^"]+)" data-count="(\d+)"', page)
    assert Counter({(d, w): int(n) for d, w, n in bars}) == expected
    assert c.client.get("/api/stats/alerts-per-day?days=0").status_code == 400


def test_head_answers_every_page_without_a_body(console):
    c = console()
    for path in ("/", "/alerts", "/outbox", "/tester", "/alerts.atom", "/api/sources", "/api/alerts",
                 "/api/deliveries", "/api/stats/alerts-per-day", "/static/console.css", "/healthz", "/readyz"):
        r = c.client.head(path)
        assert r.status_code == 200 and r.content == b"", path
    assert c.client.head("/nowhere").status_code == 404


def test_json_api_pages_with_total_and_links(console):
    c = console()
    total = c.app.store.counts()["alerts"]
    first = c.client.get("/api/alerts?limit=2")
    assert first.headers["x-total-count"] == str(total) and len(first.json()) == 2
    assert 'rel="next"' in first.headers["link"] and "offset=2" in first.headers["link"]
    seen = [a["id"] for a in first.json()]
    offset = 2
    while offset < total:
        page = c.client.get(f"/api/alerts?limit=2&offset={offset}")
        seen += [a["id"] for a in page.json()]
        offset += 2
    assert 'rel="next"' not in page.headers["link"] and 'rel="prev"' in page.headers["link"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == total
    alert = first.json()[0]
    assert alert["report_count"] == len(alert["reports"]) and isinstance(alert["reports"][0]["match"], dict)
    sources = c.client.get("/api/sources?limit=2&offset=1")
    assert sources.headers["x-total-count"] == str(len(c.app.config.sources)) and len(sources.json()) == 2
    assert c.client.get("/api/deliveries?limit=1").headers["x-total-count"] == str(
        sum(v for k, v in c.app.store.counts().items() if k.startswith("deliveries_"))
    )


def test_atom_feed_has_author_self_link_unique_ids_and_follow_up_times(console):
    c = console("  web_base_url: https://tw.example.org/console/\n")
    r = c.client.get("/alerts.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(r.content)  # well-formed XML, or this raises
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "TreatyWatch"
    self_link = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert [link.get("href") for link in self_link] == ["https://tw.example.org/console/alerts.atom"]
    entries = feed.findall(f"{ATOM}entry")
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids)) == c.app.store.counts()["alerts"]
    assert all(i.startswith("tag:tw.example.org,2025:treatywatch/console/alert/") for i in ids)
    biggest = max(c.app.store.recent_alerts(50), key=lambda a: len(a.reports))
    assert len(biggest.reports) > 1  # a follow-up came in later
    entry = next(e for e in entries if e.find(f"{ATOM}id").text.endswith(f"/alert/{biggest.id}"))
    last = max(r.added_at for r in biggest.reports)
    assert entry.find(f"{ATOM}updated").text == last.isoformat(timespec="seconds")
    assert entry.find(f"{ATOM}published").text == biggest.created_at.isoformat(timespec="seconds")
    assert feed.find(f"{ATOM}updated").text >= entry.find(f"{ATOM}updated").text


def test_atom_ids_differ_between_installs_without_a_base_url(console, tmp_path):
    c = console()
    feed = ElementTree.fromstring(c.client.get("/alerts.atom").content)
    assert feed.find(f"{ATOM}id").text.startswith("tag:") and ":treatywatch/" in feed.find(f"{ATOM}id").text
    self_link = [link.get("href") for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link == [f"http://127.0.0.1:{c.server.port}/alerts.atom"]
    from treatywatch.web.atom import tag_base

    other = c.app.config.model_copy(
        update={"settings": c.app.config.settings.model_copy(update={"state_dir": tmp_path / "elsewhere"})}
    )
    assert tag_base(other) != tag_base(c.app.config) and tag_base(c.app.config) == tag_base(c.app.config)


def test_daemon_serves_the_console_and_stops_it_within_its_shutdown_timeout(config_dir, tmp_path, http, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = app.config.settings.model_copy(update={"web_port": port, "shutdown_timeout": 3.0})
    app.config = app.config.model_copy(update={"settings": settings})
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert client.get("/").status_code == 200  # the connection stays open (keep-alive) over the stop
            daemon.stop()
            thread.join(timeout=3.0 + 5)
            assert not thread.is_alive()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        daemon.stop()
        thread.join(timeout=10)
        app.close()


def test_clock_window_edges_are_local_days():
    from datetime import UTC, datetime

    from treatywatch.web.chart import layout, per_day

    paris = ZoneInfo("Europe/Paris")
    now = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
    late = datetime(2025, 12, 5, 23, 30, tzinfo=UTC)  # already the 6th in Paris
    data = per_day([(late, "w"), (now - timedelta(days=40), "w")], now, paris, days=30)
    assert data.watches == {"w": [0] * 29 + [1]} and data.days[-1].isoformat() == "2025-12-06"
    chart = layout(data)
    assert [(b.day.isoformat(), b.count) for b in chart.bars] == [("2025-12-06", 1)]


def test_every_template_and_static_file_ships_in_the_package():
    """A wheel (the container's install) carries only what package-data lists: a template missing there is a
    console that answers 500 everywhere but in the editable install the tests use."""
    import tomllib
    from pathlib import PurePosixPath

    import treatywatch

    def ships(name: str, glob: str) -> bool:  # setuptools' glob: '*' stays within one folder
        path, pattern = PurePosixPath(name), PurePosixPath(glob)
        return len(path.parts) == len(pattern.parts) and path.match(glob)

    root = Path(treatywatch.__file__).parent
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["treatywatch"]
    files = [p.relative_to(root).as_posix() for d in ("web/templates", "web/static") for p in (root / d).iterdir()]
    missing = [f for f in files if not any(ships(f, g) for g in globs)]
    assert not missing, f'pyproject.toml package-data needs "web/templates/*.html", "web/static/*": {missing}'


def test_a_taken_port_fails_at_once_and_an_unstarted_server_stops(console):
    c = console(poll=False)  # serving on c.server.port
    with pytest.raises(OSError):
        StatusServer(c.app, "127.0.0.1", c.server.port)  # the daemon logs this and runs on without a console
    idle = StatusServer(c.app, "127.0.0.1", 0)
    idle.stop()  # never started: releases its socket, waits for nothing
    with socket.socket() as s:
        s.bind(("127.0.0.1", idle.port))  # the port is free again


def test_atom_ids_are_the_same_on_every_daemon_of_one_postgresql_database(console, tmp_path):
    """Two daemons on two machines sharing one PostgreSQL database serve one feed: the same ids, whatever their
    state folders or host names; the password never enters them."""
    from treatywatch.web.atom import tag_base

    config = console().app.config

    def on(database: str, state_dir: Path):
        return config.model_copy(
            update={"settings": config.settings.model_copy(update={"database": database, "state_dir": state_dir})}
        )

    one = tag_base(on("postgresql://tw:secret@db.example:5432/tw", tmp_path / "a"))
    two = tag_base(on("postgresql://tw:other@db.example:5432/tw", tmp_path / "b"))
    assert one == two and "secret" not in one and one.startswith("tag:db.example,")
    assert tag_base(on("postgresql://tw@db.example:5432/other", tmp_path / "a")) != one
