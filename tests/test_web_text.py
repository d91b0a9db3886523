"""Long text and direction controls already in the database, as an older version stored them, on every way out:
the console's pages, the JSON API, the Atom feed, and mail as it reached a real SMTP server.

Items are stored by polling a real feed; then their titles are set, in SQL, to what the version before items'
cleaning stored (it kept bidi controls and any length): new items can no longer carry them, old rows still do.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from conftest import WebhookSink, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.web.server import StatusServer

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
LEAD = "Russia terminates military cooperation agreement with France"
# RLO: "photo<RLO>gnp.exe" shows as "photoexe.png", and everything after it on the line runs right to left
HOSTILE = f"{LEAD}, see photo\u202egnp.exe \u2067and more\u2069"
LONG = LEAD + " " + "X" * (12_600 - len(LEAD) - 1)


def as_an_older_version_stored(app: App, title: str) -> None:
    """Every item and alert title set to `title`, and every match's snippet to it with its words marked, as rows
    an older version wrote."""
    with sqlite3.connect(app.config.database_path) as db:
        db.execute("UPDATE items SET title = ?", (title,))
        db.execute("UPDATE alerts SET title = ?", (title,))
        for row, explanation in db.execute("SELECT id, explanation FROM matches").fetchall():
            match = json.loads(explanation)
            marks = [[m.start(), m.end()] for m in re.finditer("terminates|gnp", title)]
            match["snippet"] = {"text": title, "marks": marks}
            db.execute("UPDATE matches SET explanation = ? WHERE id = ?", (json.dumps(match), row))


@pytest.fixture
def stored(app_with, config_dir, http: FixtureServer, smtp: SmtpSink, webhook: WebhookSink) -> Iterator[App]:
    """One alert on LEAD (pending deliveries by mail and a Markdown webhook), the console not yet served."""
    write_config(config_dir, f'subscribers:\n  - id: desk\n    notify: ["{smtp.url()}", "{webhook.url}"]\n', "s.yaml")
    feed: dict = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, json.dumps(feed).encode())
    app = app_with(f"  - {{id: jf, type: feed, url: '{http.base}/jf', language: en}}\n")
    app.runner.poll("jf")  # the baseline: the item comes after it
    item = {"id": "x1", "title": LEAD, "url": "https://example.org/a", "date_published": "2025-12-06T10:00:00Z"}
    feed["items"] = [item]
    assert app.runner.poll("jf").alerts == 1
    try:
        yield app
    finally:
        app.close()


def serve(app: App) -> tuple[StatusServer, httpx.Client]:
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    return server, httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10)


def test_direction_controls_are_isolated_in_html_and_stripped_everywhere_else(stored, smtp, webhook):
    """Before: the pages dropped the controls but left the title unisolated (an Arabic or Hebrew title, or a
    stray mark, reorders the line around it), and the JSON API answered them as stored."""
    as_an_older_version_stored(stored, HOSTILE)
    shown = BIDI.sub("", HOSTILE)
    isolated = re.compile(r"<bdi[^>]*>[^<]*photognp\.exe and more</bdi>")

    assert stored.outbox.run_once().sent == 2
    (mail,) = smtp.messages
    html = mail.get_body(preferencelist=("html",)).get_content()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert isolated.search(html), html[:800]
    assert not BIDI.search(html) and not BIDI.search(text) and not BIDI.search(mail["subject"])
    assert shown in text and "photognp.exe" in mail["subject"]
    (hook,) = webhook.bodies
    assert not BIDI.search(json.dumps(hook, ensure_ascii=False))
    assert "photognp\\.exe" in hook["message"]  # Markdown-escaped

    server, client = serve(stored)
    try:
        for path in ("/", "/alerts"):
            page = client.get(path).text
            assert isolated.search(page), path
            assert not BIDI.search(page), path
        (alert,) = client.get("/api/alerts").json()
        assert not BIDI.search(json.dumps(alert, ensure_ascii=False))
        assert alert["title"] == shown and alert["reports"][0]["title"] == shown
        snippet = alert["reports"][0]["match"]["snippet"]
        # the marks still cover the marked words in the text as the API gives it (one comes after the RLO)
        assert [snippet["text"][s:e] for s, e in snippet["marks"]] == ["terminates", "gnp"]
        assert not BIDI.search(client.get("/alerts.atom").text)
    finally:
        client.close()
        server.stop()


def test_long_titles_are_cut_in_lists_and_whole_in_the_detail(stored):
    """Before: a 12,600-character title went whole into the overview's list (44,654 px wide in Chromium; the
    browser test measures it) and into the outbox."""
    as_an_older_version_stored(stored, LONG)
    server, client = serve(stored)
    try:
        overview = client.get("/").text
        (latest,) = re.findall(r'<ul class="latest">.*?</ul>', overview, re.S)
        assert 'title="' + LONG + '"' in latest  # the whole title in the tooltip
        visible = re.sub(r"<[^>]+>", "", latest)
        assert LONG not in visible and "XXX…" in visible and len(visible) < 400
        alerts = client.get("/alerts").text
        assert re.search(r"<bdi>" + re.escape(LONG) + "</bdi>", alerts)  # the detail: all of it, wrapping
        (heading,) = re.findall(r"<h2>.*?</h2>", alerts, re.S)  # the alert's heading: cut, the whole as a tooltip
        assert 'title="' + LONG + '"' in heading and len(re.sub(r"<[^>]+>", "", heading)) < 400
    finally:
        client.close()
        server.stop()


def test_long_errors_and_labels_are_cut_in_the_outbox(stored, webhook):
    webhook.fail_with = 500
    stored.outbox.run_once()
    error = "HTTP 500: " + "E" * 5000
    with sqlite3.connect(stored.config.database_path) as db:
        db.execute("UPDATE deliveries SET last_error = ?", (error,))
    server, client = serve(stored)
    try:
        page = client.get("/outbox").text
        assert 'title="' + error + '"' in page and error + "<" not in page and "EEE…" in page
    finally:
        client.close()
        server.stop()
