"""The status page and its JSON and metrics endpoints, served for real on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import feedparser

from conftest import local_sources, make_app, write_config
from treatywatch.daemon import Daemon
from treatywatch.web.server import StatusServer


def get(port: int, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return resp.status, resp.headers["Content-Type"], resp.read().decode("utf-8")


def test_status_endpoints(config_dir, tmp_path, http, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, "sources:\n  - {id: down, type: feed, url: 'http://127.0.0.1:9/x'}\n", "down.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    app.runner.poll("euronews-world")
    app.runner.poll("down")
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        status, ctype, body = get(server.port, "/api/sources")
        sources = {s["id"]: s for s in json.loads(body)}
        assert status == 200 and ctype == "application/json"
        assert sources["euronews-world"]["items_last_seen"] == 5
        assert sources["down"]["consecutive_failures"] == 1 and "ConnectError" in sources["down"]["last_error"]
        _, ctype, metrics = get(server.port, "/metrics")
        assert ctype.startswith("text/plain; version=0.0.4")
        assert 'treatywatch_items_stored_total{source="euronews-world"} 5.0' in metrics
        assert 'treatywatch_source_consecutive_failures{source="down"} 1.0' in metrics
        assert "# TYPE treatywatch_polls_total counter" in metrics
        _, _, alerts = get(server.port, "/api/alerts")
        assert {a["title"] for a in json.loads(alerts)} == {
            "Russia terminates military agreements with Portugal, France and Canada",
            "EU leaders clash over reparations loan backed by frozen Russian assets",
        }
        _, ctype, page = get(server.port, "/")
        assert ctype.startswith("text/html") and 'id="source-down"' in page  # a card per source now
        assert get(server.port, "/health")[2] == '{"ok": true}'
        atom = feedparser.parse(get(server.port, "/alerts.atom")[2])
        assert not atom.bozo
        assert sorted(e.title for e in atom.entries) == [
            "[high] Russia terminates military agreements with Portugal, France and Canada",
            "[medium] EU leaders clash over reparations loan backed by frozen Russian assets",
        ]
    finally:
        server.stop()
        app.close()


def test_alerts_feed_never_links_a_hostile_url(app_with, http, clock):
    item = {
        "id": "x1",
        "title": "Russia terminates military cooperation agreement with France",
        "url": "javascript:alert(document.cookie)",
        "date_published": "2025-12-06T10:00:00Z",
    }
    empty = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}).encode()
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [item]}).encode()
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, empty)
    app = app_with(f"  - {{id: jf, type: feed, url: '{http.base}/jf', language: en}}\n")
    app.runner.poll("jf")  # the first poll is the source's baseline; the item is published after it
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, body)
    assert app.runner.poll("jf").alerts == 1
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        atom = get(server.port, "/alerts.atom")[2]
        assert "javascript" not in atom  # on the old code: <link href="javascript:alert(document.cookie)"/>
        (entry,) = feedparser.parse(atom.encode()).entries
        assert entry.title.startswith("[high] Russia terminates")
    finally:
        server.stop()
        app.close()


def request(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Status and body, also for 4xx/5xx answers (urlopen raises on those)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_health_and_readiness(app_with, config_dir, http, clock):
    """/healthz answers while the process serves; /readyz (and /health) fails, naming why, when every source is
    broken, after a failed reload, and while the store cannot be written; GET and HEAD alike."""
    app = app_with(f"  - {{id: down, type: feed, url: '{http.base}/gone.xml'}}\n")
    http.routes["/gone.xml"] = lambda h: (500, {}, b"down")
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        for path in ("/healthz", "/readyz", "/health"):
            assert request(server.port, path) == (200, b'{"ok": true}')
            assert request(server.port, path, "HEAD") == (200, b"")  # was 501 on the old code
        for _ in range(5):
            app.runner.poll("down")
        status, body = request(server.port, "/readyz")
        assert status == 503 and "down" in json.loads(body)["reasons"][0]
        assert request(server.port, "/health")[0] == 503
        assert request(server.port, "/readyz", "HEAD") == (503, b"")
        assert request(server.port, "/healthz") == (200, b'{"ok": true}')
        http.routes["/gone.xml"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, EMPTY_RSS)
        app.runner.poll("down")
        assert request(server.port, "/readyz")[0] == 200

        daemon = Daemon(app)
        good = (config_dir / "watches.yaml").read_text(encoding="utf-8")
        (config_dir / "watches.yaml").write_text(good + "\n  - {id: broken, query: '('}\n", encoding="utf-8")
        daemon.reload()
        status, body = request(server.port, "/readyz")
        assert status == 503 and json.loads(body)["reasons"][0].startswith("last configuration reload failed")
        (config_dir / "watches.yaml").write_text(good, encoding="utf-8")
        daemon.reload()
        assert request(server.port, "/readyz")[0] == 200
    finally:
        server.stop()
        app.close()


EMPTY_RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link></channel></rss>'


def test_readiness_fails_while_the_store_is_locked(config_dir, tmp_path, http, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock, busy_timeout=0.2)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    other = sqlite3.connect(app.config.database_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        status, body = request(server.port, "/readyz")
        assert status == 503 and "store not writable" in json.loads(body)["reasons"][0]
        other.execute("ROLLBACK")
        assert request(server.port, "/readyz")[0] == 200
    finally:
        other.close()
        server.stop()
        app.close()


def test_alerts_api_pages_and_explains_and_deliveries_api(config_dir, tmp_path, http, webhook, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n", "subscribers.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    app.runner.poll("euronews-world")
    webhook.fail_with = 500
    app.outbox.run_once()
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        everything = json.loads(get(server.port, "/api/alerts")[2])
        assert len(everything) == 2
        first = json.loads(get(server.port, "/api/alerts?limit=1")[2])
        second = json.loads(get(server.port, "/api/alerts?limit=1&offset=1")[2])
        assert [a["id"] for a in first + second] == [a["id"] for a in everything]
        assert json.loads(get(server.port, "/api/alerts?offset=2")[2]) == []
        term = next(a for a in everything if a["title"].startswith("Russia terminates"))
        match = term["reports"][0]["match"]  # structured, not a flattened string
        assert match["watch_id"] and match["severity"] == "high"
        assert any(h["text"].lower().startswith("terminat") for h in match["hits"])
        assert any(a["reasons"] and a["subject"] in (True, False) for a in match["agreements"])
        text, marks = match["snippet"]["text"], match["snippet"]["marks"]
        assert marks and all(0 <= s < e <= len(text) for s, e in marks)
        for bad in ("limit=0", "limit=100000", "offset=-1", "limit=x"):
            status, body = request(server.port, f"/api/alerts?{bad}")
            assert status == 400 and json.loads(body)["error"]

        failed = json.loads(get(server.port, "/api/deliveries?status=failed")[2])
        # the second one waits: a channel that just failed is not tried again in the same round
        assert len(failed) == 1 and failed[0]["subscriber"] == "desk" and failed[0]["attempts"] == 1
        assert [d["status"] for d in json.loads(get(server.port, "/api/deliveries?status=pending")[2])] == ["pending"]
        assert all(d["channel"].startswith("json://") and "500" in d["last_error"] for d in failed)
        assert json.loads(get(server.port, "/api/deliveries?status=sent")[2]) == []
        assert len(json.loads(get(server.port, "/api/deliveries?limit=1")[2])) == 1
        assert request(server.port, "/api/deliveries?status=lost")[0] == 400
    finally:
        server.stop()
        app.close()


def test_readiness_reads_one_aggregate_and_names_ten_broken_sources_and_how_many_in_all(app_with, http, clock):
    """/readyz sums the sources up in one query (every source's row at every probe was 0.4 s of a desk of 50,000),
    and a desk whose every source is broken is named by its first ten, not a list of thousands."""
    from treatywatch.store import SourceState
    from treatywatch.web.api import BROKEN_AFTER, readiness

    app = app_with("".join(f"  - {{id: s{k:02d}, type: feed, url: '{http.base}/s{k}.xml'}}\n" for k in range(12)))
    try:
        for k in range(12):
            broken = SourceState(f"s{k:02d}", last_attempt=clock(), consecutive_failures=BROKEN_AFTER)
            app.store.save_source_state(broken)
        names = ", ".join(f"s{k:02d}" for k in range(10))
        assert readiness(app) == [f"every enabled source failed {BROKEN_AFTER}+ times in a row: {names} … (12 in all)"]
        app.store.save_source_state(SourceState("s05", last_attempt=clock()))  # one works again
        assert readiness(app) == []
    finally:
        app.close()
