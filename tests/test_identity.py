"""An item's identity does not depend on the URL its feed was fetched from.

The same feed served at http://127.0.0.1:PORT, at http://localhost:PORT and over TLS at https://localhost:OTHER,
through a real loopback server and the real pipeline into SQLite: after the first poll, pointing the source at the
other host names and scheme stores nothing new, opens no alert and queues no delivery. A database written before
keys stopped holding the feed's host (the old key form) is read by the new code without a single item coming back
as new.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import ssl
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import Clock, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer

pytestmark = pytest.mark.timeout(60)

STANDINS = "".join(
    f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
    for sid in ("pravo-government", "pravo-government-rss", "government-docs")
)
SUBSCRIBERS = """
subscribers:
  - id: desk
    notify: ["json://127.0.0.1:9/hook"]
    watches: [agreement-terminated]
"""
NEWS = "Russia terminates military agreements with Portugal, France and Canada"
LEAD = "Russia has terminated decades-old military cooperation agreements with Portugal, France and Canada."
OTHER_HOST = "https://www.example.org/news/5"


def rss(host: str, odd: bool = False) -> bytes:
    """Five items keyed every way a feed keys them; item 4's link is written from the Host header, as many sites
    generate their feeds. `odd` adds an element the fast path does not know, so feedparser reads the document."""
    extra = "<source url='http://x.example/'>x</source>" if odd else ""
    items = [
        f"<title>{NEWS}</title><description>{LEAD}</description><guid>f0-i1</guid>",  # relative permalink guid
        '<title>Weather</title><guid isPermaLink="false">f0-i2</guid><link>/news/2</link>',
        "<title>Markets</title><link>news/3</link>",  # relative link, no guid
        f"<title>Sport</title><link>http://{host}/news/4</link>",  # absolute, on the host it was asked for
        f"<title>Culture</title><link>{OTHER_HOST}?utm_source=feed</link>",  # another site's link
    ]
    body = "".join(f"<item>{i}{extra}</item>" for i in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def atom(host: str) -> bytes:
    entries = [
        f"<id>f1-e1</id><title>{NEWS}</title><summary>{LEAD}</summary><link href='/news/1'/>",
        "<id>f1-e2</id><title>Weather</title>",  # relative id standing in for the link
        "<id>urn:uuid:3</id><title>Markets</title><link href='news/3'/>",
        f"<id>tag:x,2025:4</id><title>Sport</title><link href='http://{host}/news/4'/>",
        f"<title>Culture</title><link href='{OTHER_HOST}'/>",
    ]
    body = "".join(f"<entry>{e}</entry>" for e in entries)
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{body}</feed>'.encode()


def json_feed(host: str) -> bytes:
    items = [
        {"id": "f2-1", "title": NEWS, "summary": LEAD, "url": "/news/1"},
        {"title": "Weather", "url": "news/2"},
        {"id": "/news/3", "title": "Markets", "url": "/news/3"},
        {"title": "Sport", "url": f"http://{host}/news/4"},
        {"title": "Culture", "url": OTHER_HOST},
    ]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}).encode()


def html(host: str) -> bytes:
    rows = [
        f"<li><a href='/news/1'>{NEWS}</a><p>{LEAD}</p></li>",
        "<li><a href='news/2'>Weather</a></li>",
        "<li><a href='?page=3'>Markets</a></li>",
        f"<li><a href='http://{host}/news/4'>Sport</a></li>",
        f"<li><a href='{OTHER_HOST}'>Culture</a></li>",
    ]
    return f"<html><body><ul>{''.join(rows)}</ul></body></html>".encode()


def json_api(host: str) -> bytes:
    records = [
        {"title": NEWS, "summary": LEAD, "url": "/news/1"},
        {"title": "Weather", "url": "news/2"},
        {"title": "Markets", "url": "/news/3#top"},
        {"title": "Sport", "url": f"//{host}/news/4"},
        {"title": "Culture", "url": OTHER_HOST},
    ]
    return json.dumps({"items": records}).encode()


KINDS: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "rss": ("type: feed", rss),
    "rss-feedparser": ("type: feed", lambda host: rss(host, odd=True)),
    "atom": ("type: feed", atom),
    "json-feed": ("type: feed", json_feed),
    "html": ("type: html, items: li, fields: {title: a, link: 'a@href', summary: p}", html),
    "json": ("type: json, items: items, fields: {title: title, link: url, summary: summary}", json_api),
}


def serve(server: FixtureServer, kind: str) -> None:
    document = KINDS[kind][1]
    server.routes["/news/feed"] = lambda h: (200, {}, document(h.headers.get("Host", "")))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for localhost: (server context, client context trusting it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS alias")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"]
    subprocess.run(
        ["openssl", *request, "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.fixture
def https(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[FixtureServer]:
    server = FixtureServer()
    server.httpd.socket = tls[0].wrap_socket(server.httpd.socket, server_side=True)
    server.base = f"https://localhost:{server.httpd.server_address[1]}"
    with server:
        yield server


def open_app(
    config_dir: Path, state: Path, clock: Clock, kind: str, url: str, transport: httpx.BaseTransport | None = None
) -> App:
    """The app as a restart after editing the source's url would build it."""
    write_config(config_dir, f"sources:\n  - {{id: s, url: '{url}', {KINDS[kind][0]}}}\n{STANDINS}", "sources.yaml")
    write_config(config_dir, SUBSCRIBERS, "subscribers.yaml")
    return make_app(config_dir, state, clock, transport=transport)


def stored_keys(app: App) -> set[str]:
    return {s.item.key for s in app.store.items_since(datetime(1970, 1, 1, tzinfo=UTC), ["s"])}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_same_feed_from_another_host_name_and_scheme_is_nothing_new(
    kind: str, config_dir: Path, tmp_path: Path, http: FixtureServer, https: FixtureServer, tls, clock: Clock
) -> None:
    serve(http, kind)
    serve(https, kind)
    port = http.httpd.server_address[1]
    state = tmp_path / "state"
    app = open_app(config_dir, state, clock, kind, f"http://127.0.0.1:{port}/news/feed")
    first = app.runner.poll("s")
    assert first.error is None and first.new == 5 and first.alerts == 1
    queued = len(app.store.deliveries())
    assert queued == 1
    keys = stored_keys(app)
    assert not any("127.0.0.1" in k for k in keys), keys  # no key holds the host the feed was fetched from
    app.close()

    for url in (f"http://localhost:{port}/news/feed", f"{https.base}/news/feed"):
        clock.advance(minutes=15)
        transport = httpx.HTTPTransport(verify=tls[1])
        app = open_app(config_dir, state, clock, kind, url, transport=transport)
        again = app.runner.poll("s")
        assert again.error is None, url
        assert (again.new, again.alerts, again.followups) == (0, 0, 0), url
        assert len(app.store.deliveries()) == queued, url
        assert stored_keys(app) == keys, url
        app.close()


def test_keys_are_as_the_feed_writes_them(config_dir: Path, tmp_path: Path, http: FixtureServer, clock) -> None:
    """Guids as written (a relative one is not resolved against the feed's URL); a link on the feed's own host
    without its scheme and host; another site's link whole (canonical: tracking parameters dropped)."""
    serve(http, "rss")
    app = open_app(config_dir, tmp_path / "state", clock, "rss", f"{http.base}/news/feed")
    r = app.runner.poll("s")
    assert [i.key for i in r.items] == ["f0-i1", "f0-i2", "/news/news/3", "/news/4", OTHER_HOST]
    assert [i.link for i in r.items][:2] == [f"{http.base}/news/f0-i1", f"{http.base}/news/2"]  # links resolved


def test_a_database_with_the_old_key_form_sends_nothing_again(
    config_dir: Path, tmp_path: Path, http: FixtureServer, clock: Clock
) -> None:
    serve(http, "rss")
    state = tmp_path / "state"
    app = open_app(config_dir, state, clock, "rss", f"{http.base}/news/feed")
    first = app.runner.poll("s")
    assert first.new == 5 and first.alerts == 1
    queued = len(app.store.deliveries())
    new_keys = stored_keys(app)
    db = Path(str(app.store.path))
    app.close()
    # the keys as the code before this change wrote them: relative guids and links resolved against the feed's URL
    old = {
        "f0-i1": f"{http.base}/news/f0-i1",
        "/news/news/3": f"{http.base}/news/news/3",
        "/news/4": f"{http.base}/news/4",
    }
    with sqlite3.connect(db) as conn:
        for new, was in old.items():
            assert conn.execute("UPDATE items SET key = ? WHERE source_id = 's' AND key = ?", (was, new)).rowcount == 1

    clock.advance(minutes=15)
    app = open_app(config_dir, state, clock, "rss", f"{http.base}/news/feed")
    upgraded = app.runner.poll("s")
    assert (upgraded.error, upgraded.new, upgraded.alerts, upgraded.changed) == (None, 0, 0, 0)
    assert len(app.store.deliveries()) == queued
    assert stored_keys(app) == new_keys  # the old keys were adopted: the new form from now on
    app.close()

    clock.advance(minutes=15)  # and so the source may move host afterwards
    app = open_app(config_dir, state, clock, "rss", f"{http.base.replace('127.0.0.1', 'localhost')}/news/feed")
    moved = app.runner.poll("s")
    assert (moved.error, moved.new, moved.alerts) == (None, 0, 0)
    assert len(app.store.deliveries()) == queued
    app.close()
