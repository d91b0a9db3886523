"""Fetching politely and robustly: conditional GET, Retry-After, timeouts, redirect loops, size caps, encodings."""

from __future__ import annotations

import gzip
import time
from datetime import timedelta
from pathlib import Path

from conftest import FIXTURES, Clock, make_app, write_config
from treatywatch.localserve import FixtureServer
from treatywatch.sources.base import Request
from treatywatch.sources.fetch import Fetcher, FetchLimits

EURONEWS = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
RIA_CP1251 = (FIXTURES / "news" / "ria_politics_ru.xml").read_bytes()


def one_feed_app(config_dir: Path, tmp_path: Path, clock: Clock, url: str, extra: str = ""):
    write_config(
        config_dir,
        f"""
sources:
  - id: src
    type: feed
    url: "{url}"
{extra}
  - {{id: pravo-government, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/z", enabled: false}}
""",
    )
    return make_app(config_dir, tmp_path / "state", clock)


def test_conditional_get_304_costs_no_parsing(config_dir, tmp_path, http: FixtureServer, clock):
    def feed(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"', "Last-Modified": "Sat, 06 Dec 2025 10:00:00 GMT"}, EURONEWS

    http.routes["/feed"] = feed
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/feed")
    assert app.runner.poll("src").new == 5
    second = app.runner.poll("src")
    assert second.not_modified and second.items == []
    _, headers = http.requests[-1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Sat, 06 Dec 2025 10:00:00 GMT"
    assert headers["User-Agent"].startswith("TreatyWatch/")
    assert app.store.source_state("src").consecutive_failures == 0


def test_unchanged_sources_keep_their_connection(config_dir, tmp_path, http: FixtureServer, clock):
    """A 304 leaves the connection open for the next poll: each unchanged source's poll opened a new one (and
    over HTTPS paid a new TLS handshake) because the empty response was closed unread."""
    ports: list[int] = []

    def feed(handler):
        ports.append(handler.client_address[1])
        if handler.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"'}, EURONEWS

    http.routes["/feed"] = feed
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/feed")
    assert app.runner.poll("src").new == 5
    for _ in range(4):
        clock.advance(minutes=20)
        assert app.runner.poll("src").not_modified
    assert len(ports) == 5 and len(set(ports)) == 1, ports


def test_429_retry_after_is_honoured(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/busy"] = lambda h: (429, {"Retry-After": "3600"}, b"slow down")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/busy")
    r = app.runner.poll("src")
    assert r.error == f"HTTP 429 from {http.base}/busy"
    state = app.store.source_state("src")
    assert state.consecutive_failures == 1 and state.last_error == r.error
    assert state.next_due >= clock() + timedelta(seconds=3600)


def test_backoff_grows_and_resets(config_dir, tmp_path, http: FixtureServer, clock):
    status = {"code": 500}
    http.routes["/flaky"] = lambda h: (status["code"], {}, EURONEWS if status["code"] == 200 else b"oops")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/flaky")
    delays = []
    for _ in range(4):
        app.runner.poll("src")
        state = app.store.source_state("src")
        delays.append((state.next_due - clock()).total_seconds())
    assert app.store.source_state("src").consecutive_failures == 4
    assert delays[3] > delays[0] * 2  # exponential, with jitter
    status["code"] = 200
    assert app.runner.poll("src").new == 5
    state = app.store.source_state("src")
    assert state.consecutive_failures == 0 and state.last_error is None
    # the backoff is over: the next turn is the source's interval on, as after any good poll
    assert state.next_due == clock() + timedelta(seconds=app.config.source("src").every.seconds or 0)


def test_timeout(config_dir, tmp_path, http: FixtureServer, clock):
    def slow(handler):
        time.sleep(1.5)
        return 200, {}, EURONEWS

    http.routes["/slow"] = slow
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/slow", "    timeout: 0.3s")
    r = app.runner.poll("src")
    assert r.error.startswith(f"timed out after 0.3s fetching {http.base}/slow")


def test_redirect_loop(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/loop"] = lambda h: (302, {"Location": "/loop"}, b"")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/loop")
    assert app.runner.poll("src").error == f"more than 5 redirects from {http.base}/loop"


def test_redirect_limit_per_source(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/hop1"] = lambda h: (302, {"Location": "/hop2"}, b"")
    http.routes["/hop2"] = lambda h: (302, {"Location": "/news/euronews_world.xml"}, b"")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/hop1", "    max_redirects: 1")
    assert app.runner.poll("src").error == f"more than 1 redirects from {http.base}/hop1"


def test_redirect_followed(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/old"] = lambda h: (301, {"Location": "/news/euronews_world.xml"}, b"")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/old")
    assert app.runner.poll("src").new == 5


def test_a_redirecting_url_goes_through_the_client_from_then_on(http: FixtureServer):
    """A plain GET goes straight to the client's pool; a redirect met there is asked again through the client (which
    follows it, with the hook that refuses odd ones), and so is every later request to that URL: one extra request
    the first time, none after."""
    http.routes["/old"] = lambda h: (301, {"Location": "/news/euronews_world.xml"}, b"")
    fetcher = Fetcher(user_agent="UA-test", per_host_delay=0)
    try:
        first = fetcher.fetch(Request(f"{http.base}/old"), FetchLimits())
        assert first.status == 200 and first.url == f"{http.base}/news/euronews_world.xml" and b"<rss" in first.content
        assert [path for path, _ in http.requests] == ["/old", "/old", "/news/euronews_world.xml"]
        second = fetcher.fetch(Request(f"{http.base}/old"), FetchLimits())
        assert second.url == first.url
        assert [path for path, _ in http.requests][3:] == ["/old", "/news/euronews_world.xml"]
    finally:
        fetcher.close()


def test_proxies_from_the_environment_are_honoured(http: FixtureServer, monkeypatch):
    """httpx's client sends through the proxy the environment names (HTTP_PROXY); a request straight to its pool
    would not, so there is none while one is set."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", http.base)  # the fixture server doubles as a plain HTTP proxy
    fetcher = Fetcher(user_agent="UA-test", per_host_delay=0)
    try:
        got = fetcher.fetch(Request("http://feeds.invalid/news/euronews_world.xml"), FetchLimits())
        assert got.status == 200 and http.requests[-1][0] == "http://feeds.invalid/news/euronews_world.xml"
    finally:
        fetcher.close()


def test_huge_declared_body_is_refused_unread(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/huge"] = lambda h: (200, {"Content-Length": str(50 * 1024 * 1024)}, b"")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/huge", "    max_bytes: 1000000")
    assert app.runner.poll("src").error == "response of 52428800 bytes exceeds the cap of 1000000 bytes"


def test_huge_streamed_body_is_cut_off(config_dir, tmp_path, http: FixtureServer, clock):
    produced = {"bytes": 0}

    def chunks():
        for _ in range(800):  # 50 MB if read whole
            produced["bytes"] += 65536
            yield b"x" * 65536

    http.routes["/stream"] = lambda h: (200, {"Content-Type": "application/xml"}, chunks())
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/stream", "    max_bytes: 1000000")
    r = app.runner.poll("src")
    assert r.error == "response exceeds the cap of 1000000 bytes; stopped reading"
    assert produced["bytes"] < 20 * 1024 * 1024  # the server was not drained


def test_gzip(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/gz"] = lambda h: (
        200,
        {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        gzip.compress(EURONEWS),
    )
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/gz")
    assert app.runner.poll("src").new == 5
    assert "gzip" in http.requests[-1][1]["Accept-Encoding"]


def test_wrong_charset_declaration(config_dir, tmp_path, http: FixtureServer, clock):
    lying = RIA_CP1251.replace(b'encoding="windows-1251"', b'encoding="utf-8"')
    http.routes["/lying"] = lambda h: (200, {"Content-Type": "application/xml; charset=iso-8859-1"}, lying)
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/lying")
    r = app.runner.poll("src")
    assert r.items[0].title.startswith("Правительство прекратило действие соглашений")


def test_utf8_bom(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/bom"] = lambda h: (200, {}, b"\xef\xbb\xbf" + EURONEWS)
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/bom")
    assert app.runner.poll("src").new == 5


NO_GUID_NO_LINK = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Russia ends 1994 pact with France</title><pubDate>Sat, 06 Dec 2025 10:00:00 +0000</pubDate></item>
<item><title>Weather</title><description>Snow.</description></item>
</channel></rss>"""


def test_items_without_guid_or_link_keep_their_key(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/noguid"] = lambda h: (200, {}, NO_GUID_NO_LINK)
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/noguid")
    first = app.runner.poll("src")
    assert len(first.items) == 2 and all(i.key.startswith("sha1:") for i in first.items)
    assert first.items[0].key != first.items[1].key
    assert app.runner.poll("src").new == 0  # the same keys on the next poll


def test_garbage_is_a_parse_error_not_a_crash(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/garbage"] = lambda h: (200, {}, b"<html><body>Maintenance</body>")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/garbage")
    r = app.runner.poll("src")
    assert r.error.startswith("not a feed")


def test_per_host_gap_and_headers(http: FixtureServer):
    slept: list[float] = []
    ticks = iter(range(100))
    fetcher = Fetcher(user_agent="UA-test", per_host_delay=2.0, sleep=slept.append, clock=lambda: next(ticks) * 0.1)
    limits = FetchLimits(headers=(("X-Api-Key", "k"),))
    for _ in range(3):
        fetcher.fetch(Request(f"{http.base}/news/euronews_world.xml"), limits)
    assert len(slept) == 2 and all(s > 1.5 for s in slept)
    assert http.requests[-1][1]["X-Api-Key"] == "k" and http.requests[-1][1]["User-Agent"] == "UA-test"
    fetcher.close()


def test_connection_refused(config_dir, tmp_path, clock):
    app = one_feed_app(config_dir, tmp_path, clock, "http://127.0.0.1:9/feed")
    r = app.runner.poll("src")
    assert r.error.startswith("ConnectError fetching http://127.0.0.1:9/feed")


def test_per_source_proxy(config_dir, tmp_path, http: FixtureServer, clock):
    # the fixture server doubles as a plain HTTP proxy: the request line carries the absolute URL
    app = one_feed_app(
        config_dir, tmp_path, clock, "http://feeds.invalid/news/euronews_world.xml", f"    proxy: {http.base}"
    )
    r = app.runner.poll("src")
    assert r.error is None and r.new == 5
    assert http.requests[-1][0] == "http://feeds.invalid/news/euronews_world.xml"


def test_secrets_in_source_urls_are_redacted(config_dir, tmp_path, http: FixtureServer, clock, caplog):
    from treatywatch.sources.fetch import redact_url

    assert (
        redact_url("https://u:pw@api.example/x?api_key=abc&q=1&flag")
        == "https://u:****@api.example/x?api_key=****&q=1&flag"
    )
    http.routes["/private"] = lambda h: (403, {}, b"no")
    app = one_feed_app(config_dir, tmp_path, clock, f"{http.base}/private?token=s3cr3t&page=1")
    r = app.runner.poll("src")
    assert r.error == f"HTTP 403 from {http.base}/private?token=****&page=1"
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in (app.store.source_state("src").last_error or "")


def test_a_session_cookie_a_portal_sets_is_sent_back(http: FixtureServer):
    """The fetcher reads cookies only from responses that set one (httpx looked at every response for them, 11 % of
    an unchanged poll): a portal's session cookie must still come back with the next request, and one that sets
    none must cost nothing and send nothing."""
    http.routes["/session"] = lambda h: (200, {"Set-Cookie": "sid=abc123; Path=/"}, b"{}")
    http.routes["/plain"] = lambda h: (200, {}, b"{}")
    fetcher = Fetcher(user_agent="UA-test", per_host_delay=0)
    try:
        fetcher.fetch(Request(f"{http.base}/plain"), FetchLimits())
        assert "Cookie" not in http.requests[-1][1]
        fetcher.fetch(Request(f"{http.base}/session"), FetchLimits())
        fetcher.fetch(Request(f"{http.base}/plain"), FetchLimits())
        assert http.requests[-1][1].get("Cookie") == "sid=abc123"
    finally:
        fetcher.close()
