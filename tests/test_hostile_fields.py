"""One bad field costs that field, one bad answer costs that source: never the feed, never the poll.

Through a real loopback server and the real pipeline into SQLite: a date no datetime can hold (year 10000, 31
February, an epoch past year 9999, a time zone pushing year 1 or 9999 out of range) leaves its item stored without
a date and the feed's other items stored too; a redirect to javascript:, data:, file: or garbage is that source's
error alone, and `poll --once` goes on with the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import tw, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer
from treatywatch.pipeline import PollResult

pytestmark = pytest.mark.timeout(30)

GOOD = [datetime(2025, 12, d, 9, 30, tzinfo=UTC) for d in range(1, 6)]
BAD_AT = 2  # the third of five items carries the bad date
ATOM_NS = "http://www.w3.org/2005/Atom"
MOSCOW = ZoneInfo("Europe/Moscow")
# the example watches name these sources; disabled stand-ins keep the references valid
STANDINS = "".join(
    f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
    for sid in ("pravo-government", "pravo-government-rss", "government-docs")
)


def rss(dates: list[str], odd: bool = False) -> bytes:
    """Five RSS items; `odd` adds an element the fast path does not know, so feedparser reads the document."""
    extra = "<source url='http://x.example/'>x</source>" if odd else ""
    items = "".join(
        f"<item><title>Item {n}</title><link>/a/{n}</link>{extra}<pubDate>{d}</pubDate></item>"
        for n, d in enumerate(dates)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def atom(dates: list[str]) -> bytes:
    entries = "".join(
        f"<entry><id>urn:e:{n}</id><title>Item {n}</title><link href='/a/{n}'/><updated>{d}</updated></entry>"
        for n, d in enumerate(dates)
    )
    return f'<?xml version="1.0"?><feed xmlns="{ATOM_NS}"><title>t</title>{entries}</feed>'.encode()


def json_feed(dates: list[object]) -> bytes:
    items = [{"id": f"j{n}", "title": f"Item {n}", "url": f"/a/{n}", "date_published": d} for n, d in enumerate(dates)]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}).encode()


def html(dates: list[str]) -> bytes:
    rows = "".join(f"<li><a href='/a/{n}'>Item {n}</a><time>{d}</time></li>" for n, d in enumerate(dates))
    return f"<html><body><ul>{rows}</ul></body></html>".encode()


def json_api(dates: list[object]) -> bytes:
    return json.dumps(
        {"items": [{"title": f"Item {n}", "url": f"/a/{n}", "d": d} for n, d in enumerate(dates)]}
    ).encode()


def pravo(dates: list[str]) -> bytes:
    docs = [
        {"eoNumber": f"000120251205{n:04d}", "name": f"Item {n}", "publishDateShort": d} for n, d in enumerate(dates)
    ]
    return json.dumps({"items": docs, "pagesTotalCount": 1}).encode()


KINDS: dict[str, tuple[str, Callable[[list], bytes], Callable[[datetime], object]]] = {
    # kind: (source yaml after the url, document, how a good date is written)
    "rss": ("type: feed", rss, format_datetime),
    "rss-feedparser": ("type: feed", lambda d: rss(d, odd=True), format_datetime),
    "atom": ("type: feed", atom, lambda t: t.isoformat().replace("+00:00", "Z")),
    "json-feed": ("type: feed", json_feed, lambda t: t.isoformat()),
    "html": (
        "type: html, items: li, fields: {title: a, link: 'a@href', published: time}",
        html,
        lambda t: t.isoformat(),
    ),
    "json": ("type: json, items: items, fields: {title: title, link: url, published: d}", json_api, datetime.isoformat),
    "pravo": ("type: pravo", pravo, lambda t: t.astimezone(MOSCOW).replace(tzinfo=None).isoformat()),
}

# (kind, bad raw date): each failed the whole source, or was read as another date, or went unreported before
BAD_DATES = [
    ("rss", "Tue, 31 Feb 2026 10:00:00 +0000"),
    ("rss", "10000-01-01T00:00:00Z"),
    ("rss", "Fri, 31 Dec 9999 23:00:00 -0500"),
    ("rss", "0000-01-01T00:00:00Z"),
    ("rss-feedparser", "99999-01-01T00:00:00Z"),
    ("rss-feedparser", "0001-01-01T00:00:00+05:00"),
    ("rss-feedparser", "Tue, 31 Feb 2026 10:00:00 +0000"),
    ("atom", "0000-01-01T00:00:00Z"),
    ("atom", "99999-01-01T00:00:00Z"),
    ("atom", "9999-12-31T23:59:59-05:00"),
    ("json-feed", "10000-01-01T00:00:00Z"),
    ("json-feed", "0001-01-01T00:00:00+05:00"),
    ("json-feed", "31.02.2026"),
    ("html", "31.02.2026"),
    ("html", "9999-12-31T23:59:59-05:00"),
    ("html", "Sat, 01 Jan 10000 00:00:00 GMT"),
    ("json", 1e20),
    ("json", -1e20),
    ("json", "0001-01-01T00:00:00+05:00"),
    ("json", "5 декабря 99999999999999999999"),
    ("pravo", "0001-01-01T00:00:00"),
    ("pravo", "2026-02-31T00:00:00"),
    ("pravo", "10000-01-01T00:00:00"),
]


@pytest.fixture
def poll_doc(app_with, http: FixtureServer) -> Callable[[str, bytes], tuple[App, PollResult]]:
    def run(kind: str, body: bytes) -> tuple[App, PollResult]:
        http.routes["/s"] = http.routes["/s/api/Documents"] = lambda h: (200, {}, body)
        app = app_with(f"  - {{id: s, url: '{http.base}/s', {KINDS[kind][0]}}}\n")
        return app, app.runner.poll("s")

    return run


def stored(app: App) -> dict[str, datetime | None]:
    """Stored items of source s: title -> published."""
    return {s.item.title: s.item.published for s in app.store.items_since(datetime(1970, 1, 1, tzinfo=UTC), ["s"])}


def date_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "date" in r.getMessage()]


@pytest.mark.parametrize(("kind", "bad"), BAD_DATES, ids=[f"{k}-{b}" for k, b in BAD_DATES])
def test_one_bad_date_costs_that_date_only(poll_doc, caplog, kind: str, bad: object) -> None:
    caplog.set_level(logging.WARNING)
    _, document, written = KINDS[kind]
    dates = [written(t) for t in GOOD]
    dates[BAD_AT] = bad
    app, r = poll_doc(kind, document(dates))
    assert r.error is None and r.new == 5
    expected = {f"Item {n}": (None if n == BAD_AT else t) for n, t in enumerate(GOOD)}
    assert stored(app) == expected
    (warning,) = date_warnings(caplog)
    assert "source s" in warning and repr(bad)[:12] in warning


@pytest.mark.parametrize("kind", list(KINDS))
def test_several_bad_dates_are_reported_in_one_line_per_poll(poll_doc, caplog, kind: str) -> None:
    caplog.set_level(logging.WARNING)
    _, document, written = KINDS[kind]
    dates: list[object] = [written(t) for t in GOOD]
    dates[0], dates[3], dates[4] = "31.02.2026", "10000-01-01T00:00:00", "0000-01-01T00:00:00"
    app, r = poll_doc(kind, document(dates))
    assert r.error is None and r.new == 5
    assert sum(v is None for v in stored(app).values()) == 3
    (warning,) = date_warnings(caplog)
    assert "source s" in warning and "3 items" in warning and "'31.02.2026'" in warning


@pytest.mark.parametrize("kind", ["json", "json-feed", "pravo"])
def test_an_integer_of_5000_digits_costs_that_field_only(poll_doc, caplog, kind: str) -> None:
    """CPython refuses to read an integer of more than 4,300 digits (ValueError out of json.loads): the whole
    response was lost for one field. It is read as a float (inf), which is no date."""
    caplog.set_level(logging.WARNING)
    _, document, written = KINDS[kind]
    dates: list[object] = [written(t) for t in GOOD]
    body = document(dates).replace(json.dumps(dates[BAD_AT]).encode(), b"1" * 5000, 1)
    app, r = poll_doc(kind, body)
    assert r.error is None and r.new == 5
    assert stored(app) == {f"Item {n}": (None if n == BAD_AT else t) for n, t in enumerate(GOOD)}
    (warning,) = date_warnings(caplog)
    assert "source s" in warning


def test_epoch_seconds_and_milliseconds_in_a_json_api_are_dates(poll_doc) -> None:
    stamps = [GOOD[0].timestamp(), int(GOOD[1].timestamp() * 1000), GOOD[2].isoformat(), None, 0]
    app, r = poll_doc("json", json_api(stamps))
    assert r.error is None
    assert stored(app) == {"Item 0": GOOD[0], "Item 1": GOOD[1], "Item 2": GOOD[2], "Item 3": None, "Item 4": None}


def test_good_dates_near_the_ends_of_the_calendar_are_kept(poll_doc, caplog) -> None:
    caplog.set_level(logging.WARNING)
    edges: list[object] = [
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T12:00:00+05:00",
        "2025-12-01",
        "2025-12-02",
    ]
    app, r = poll_doc("json-feed", json_feed(edges))
    assert r.error is None
    got = stored(app)
    assert got["Item 0"] == datetime(1, 1, 1, tzinfo=UTC)
    assert got["Item 1"] == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert got["Item 2"] == datetime(1, 1, 1, 7, tzinfo=UTC)
    assert date_warnings(caplog) == []


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")),
        datetime(9999, 12, 31, 23, 0, tzinfo=ZoneInfo("America/New_York")),
        datetime.max.replace(tzinfo=ZoneInfo("Pacific/Honolulu")),
    ],
)
def test_an_item_dated_past_the_ends_of_the_calendar_in_utc_has_no_date(value: datetime) -> None:
    """make_item is the last door: a source that hands it such a date gets an item without one, not an error."""
    from treatywatch.items import make_item

    item = make_item("s", title="t", link="https://example.org/a", published=value)
    assert item.published is None and item.key == "https://example.org/a"


BAD_LINKS = ["http://[::1/x", "http://[zz]/x", "//[::1", "http://\u2100.com/"]
LINKED: dict[str, tuple[str, Callable[[list[str]], bytes]]] = {
    "rss": (
        "type: feed",
        lambda links: RSS_LINKS.format(
            "".join(f"<item><title>Item {n}</title><link>{u}</link></item>" for n, u in enumerate(links))
        ).encode(),
    ),
    "json-feed": (
        "type: feed",
        lambda links: json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "items": [{"title": f"Item {n}", "url": u} for n, u in enumerate(links)],
            }
        ).encode(),
    ),
    "html": (
        "type: html, items: li, fields: {title: a, link: 'a@href'}",
        lambda links: "".join(f"<li><a href='{u}'>Item {n}</a></li>" for n, u in enumerate(links)).encode(),
    ),
    "json": (
        "type: json, items: items, fields: {title: title, link: url}",
        lambda links: json.dumps({"items": [{"title": f"Item {n}", "url": u} for n, u in enumerate(links)]}).encode(),
    ),
}
RSS_LINKS = '<rss version="2.0"><channel><title>t</title>{}</channel></rss>'


@pytest.mark.parametrize("bad", BAD_LINKS)
@pytest.mark.parametrize("kind", list(LINKED))
def test_one_unreadable_link_costs_that_link_only(app_with, http, kind: str, bad: str) -> None:
    """urlsplit raises ValueError on a bad IPv6 host or a host that NFKC-normalises into a separator: make_item
    let it out, and the source's other items were lost with it."""
    yaml, document = LINKED[kind]
    links = [f"/a/{n}" for n in range(5)]
    links[BAD_AT] = bad
    http.routes["/s"] = lambda h: (200, {}, document(links))
    app = app_with(f"  - {{id: s, url: '{http.base}/s', {yaml}}}\n")
    r = app.runner.poll("s")
    assert r.error is None and r.new == 5
    got = {s.item.title: s.item.link for s in app.store.items_since(datetime(1970, 1, 1, tzinfo=UTC), ["s"])}
    assert got == {f"Item {n}": ("" if n == BAD_AT else f"{http.base}/a/{n}") for n in range(5)}


def test_an_unreadable_base_href_is_the_pages_own_url(app_with, http) -> None:
    page = b"<html><head><base href='http://[::1/'></head><body><ul><li><a href='a/1'>One</a></li></ul></body></html>"
    http.routes["/s"] = lambda h: (200, {}, page)
    app = app_with(
        f"  - {{id: s, url: '{http.base}/s', type: html, items: li, fields: {{title: a, link: 'a@href'}}}}\n"
    )
    r = app.runner.poll("s")
    assert r.error is None and [i.link for i in r.items] == [f"{http.base}/a/1"]


# -- case 4: a redirect anywhere but http(s) ----------------------------------------------------------------------

ODD_REDIRECTS = [
    ("javascript:alert(1)", "redirect to a javascript: URL refused"),
    ("data:text/html,x", "redirect to a data: URL refused"),
    ("file:///etc/passwd", "redirect to a file: URL refused"),
    ("ftp://127.0.0.1/feed.xml", "redirect to a ftp: URL refused"),
    ("JavaScript:alert(1)", "redirect to a javascript: URL refused"),
    (" javascript:alert(1)", "redirect to a javascript: URL refused"),
    ("http:x", "redirect to an invalid URL refused"),
    ("::::", "redirect to an invalid URL refused"),
    ("http://[::1/feed", "redirect to an invalid URL refused"),
    ("/feed\x01.xml", "redirect to an invalid URL refused"),
    ("http://exa mple.org/feed", "redirect to an invalid URL refused"),
]


@pytest.mark.parametrize(("location", "message"), ODD_REDIRECTS, ids=[repr(x) for x, _ in ODD_REDIRECTS])
def test_a_redirect_anywhere_but_http_is_that_sources_error(app_with, http, caplog, location, message) -> None:
    caplog.set_level(logging.WARNING)
    http.routes["/r"] = lambda h: (302, {"Location": location}, b"")
    app = app_with(f"  - {{id: s, type: feed, url: '{http.base}/r'}}\n")
    r = app.runner.poll("s")
    assert r.error is not None and r.error.startswith(message), r.error
    assert f"(from {http.base}/r)" in r.error
    state = app.store.source_state("s")
    assert state.consecutive_failures == 1 and state.next_due is not None  # backoff, retried later
    assert not [rec for rec in caplog.records if rec.exc_info]  # one warning line, no traceback


def test_a_relative_redirect_with_a_space_is_still_followed(app_with, http) -> None:
    """Servers send unencoded spaces in paths; that is not hostile, and httpx encodes them."""
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>One</title><link>/a/1</link></item></channel></rss>'
    )
    http.routes["/r"] = lambda h: (301, {"Location": "/my feed.xml"}, b"")
    http.routes["/my%20feed.xml"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, body)
    app = app_with(f"  - {{id: s, type: feed, url: '{http.base}/r'}}\n")
    r = app.runner.poll("s")
    assert r.error is None and [i.title for i in r.items] == ["One"]


@pytest.mark.parametrize("location", ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd"])
def test_poll_once_survives_an_odd_redirect_and_polls_the_others(
    config_dir: Path, tmp_path: Path, http: FixtureServer, location: str
) -> None:
    http.routes["/odd"] = lambda h: (302, {"Location": location}, b"")
    http.routes["/good"] = lambda h: (
        200,
        {"Content-Type": "application/rss+xml"},
        rss([format_datetime(t) for t in GOOD]),
    )
    write_config(
        config_dir,
        "sources:\n"
        f"  - {{id: odd, type: feed, url: '{http.base}/odd'}}\n"
        f"  - {{id: good, type: feed, url: '{http.base}/good'}}\n" + STANDINS,
        "sources.yaml",
    )
    state = tmp_path / "state"
    out = tw("poll", "--once", config=config_dir, state=state)
    assert out.returncode == 5, out.stdout + out.stderr  # some source failed, as for any source error
    assert "Traceback" not in out.stdout + out.stderr
    scheme = location.split(":")[0]
    assert f"odd: ERROR redirect to a {scheme}: URL refused (from {http.base}/odd)" in out.stderr
    assert "good: 5 items, 5 new" in out.stdout
    listed = tw("sources", "--json", config=config_dir, state=state)
    by_id = {s["id"]: s for s in json.loads(listed.stdout)}
    assert by_id["good"]["total_items"] == 5 and by_id["odd"]["consecutive_failures"] == 1
