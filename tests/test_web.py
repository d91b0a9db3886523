"""The status page and its JSON and metrics endpoints, served for real on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request

import feedparser

from conftest import local_sources, make_app, write_config
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
        _, _, metrics = get(server.port, "/metrics")
        assert "treatywatch_items_total 5" in metrics
        assert 'treatywatch_source_consecutive_failures{source="down"} 1' in metrics
        _, _, alerts = get(server.port, "/api/alerts")
        assert {a["title"] for a in json.loads(alerts)} == {
            "Russia terminates military agreements with Portugal, France and Canada",
            "EU leaders clash over reparations loan backed by frozen Russian assets",
        }
        _, ctype, page = get(server.port, "/")
        assert ctype.startswith("text/html") and "<td>down</td>" in page
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
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [item]}).encode()
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, body)
    app = app_with(f"  - {{id: jf, type: feed, url: '{http.base}/jf', language: en}}\n")
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
