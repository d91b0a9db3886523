"""Hostile documents and lying servers, through the real pipeline: every one ends in items or a clear source error.

Bombs are generated here (nothing huge is committed); feedparser's own ill-formed feeds live in data/hostile/.
Each test carries a 10 s pytest-timeout as a hang guard, not a speed assertion.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG, WATCHLIST_FILES, Clock, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer

pytestmark = pytest.mark.timeout(10)
CORPUS = Path(__file__).parent / "data" / "hostile" / "feedparser"
STANDINS = "".join(
    f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
    for sid in ("pravo-government", "pravo-government-rss", "government-docs")
)
ENTITY_REFUSED = "feed declares XML entities (DTD refused)"
RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Russia ends 1994 pact with France</title><link>https://example.org/a/1</link></item>
</channel></rss>"""


def _app(tmp: Path, source_yaml: str) -> App:
    config = tmp / "config"
    config.mkdir(exist_ok=True)
    for name in WATCHLIST_FILES:
        shutil.copy(EXAMPLE_CONFIG / name, config / name)
    write_config(config, "sources:\n  - " + source_yaml + "\n" + STANDINS, "sources.yaml")
    return make_app(config, tmp / "state", Clock())


@pytest.fixture
def serve(tmp_path: Path, http: FixtureServer):
    """serve(kind, body, headers) -> the PollResult of one poll of a source of that type answering with body."""

    def run(kind: str, body: bytes | Iterator[bytes], headers: dict[str, str] | None = None, extra: str = ""):
        http.routes["/s"] = http.routes["/s/api/Documents"] = lambda h: (200, headers or {}, body)
        url = f"{http.base}/s"
        yaml = {
            "feed": f"{{id: s, type: feed, url: '{url}'{extra}}}",
            "html": f"{{id: s, type: html, url: '{url}', items: li, fields: {{title: a, link: 'a@href'}}{extra}}}",
            "json": f"{{id: s, type: json, url: '{url}', items: items, fields: {{title: title, link: url}}{extra}}}",
            "pravo": f"{{id: s, type: pravo, url: '{url}'{extra}}}",
        }[kind]
        app = _app(tmp_path, yaml)
        return app, app.runner.poll("s")

    return run


# -- 1. XML entity bombs --------------------------------------------------------------------------------------------


def quadratic_blowup() -> bytes:
    """One 10 KB entity referenced 10,000 times: no nesting, 100 MB once expanded."""
    refs = "&a;" * 10_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"x" * 10_000}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>{refs}</title></item></channel></rss>'
    ).encode()


def billion_laughs() -> bytes:
    decls = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(decls)}]>'
        '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>'
    ).encode()


EXTERNAL_ENTITY = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title></item></channel></rss>"""
HIDDEN_BEHIND_COMMENT = b"""<?xml version="1.0"?><!DOCTYPE rss [<!-- <a> --><!ENTITY a "aaaaaaaaaa">]>
<rss version="2.0"><channel><title>t</title><item><title>&a;&a;</title></item></channel></rss>"""


@pytest.mark.parametrize(
    "body",
    [quadratic_blowup(), billion_laughs(), EXTERNAL_ENTITY, HIDDEN_BEHIND_COMMENT],
    ids=["quadratic-blowup", "billion-laughs", "external-entity", "hidden-behind-comment"],
)
def test_entity_declarations_are_refused(serve, body, caplog):
    caplog.set_level(logging.WARNING, logger="treatywatch.pipeline")
    app, r = serve("feed", body, {"Content-Type": "application/rss+xml"})
    assert r.error == ENTITY_REFUSED
    assert app.store.source_state("s").consecutive_failures == 1  # backoff, retried later
    lines = [rec for rec in caplog.records if "source s" in rec.getMessage()]
    assert len(lines) == 1 and ENTITY_REFUSED in lines[0].getMessage() and not lines[0].exc_info


def test_doctype_without_entities_still_parses(serve):
    body = RSS.replace(
        b"<rss",
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss',
        1,
    )
    _, r = serve("feed", body)
    assert r.error is None and [i.title for i in r.items] == ["Russia ends 1994 pact with France"]


# -- 2. decompression -----------------------------------------------------------------------------------------------

TEN_MIB = 10 * 1024 * 1024


def test_gzip_inside_gzip_is_capped(serve):
    inner = gzip.compress(b"\0" * TEN_MIB)  # an already gzipped 10 MiB payload, served with Content-Encoding gzip
    _, r = serve("feed", gzip.compress(inner), {"Content-Encoding": "gzip"})
    assert r.error == "decompressed response exceeds the cap of 10000000 bytes; stopped reading"


@pytest.mark.parametrize("wrap", ["zlib", "raw"])
def test_deflate_bomb_is_capped(serve, wrap):
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS if wrap == "zlib" else -zlib.MAX_WBITS)
    body = c.compress(b"\0" * 50 * 1024 * 1024) + c.flush()
    _, r = serve("feed", body, {"Content-Encoding": "deflate"}, ", max_bytes: 1000000")
    assert r.error == "decompressed response exceeds the cap of 1000000 bytes; stopped reading"


def test_deflate_feed_is_read(serve):
    _, r = serve("feed", zlib.compress(RSS), {"Content-Encoding": "deflate"})
    assert r.error is None and len(r.items) == 1


def test_gzip_body_without_header_is_inflated_under_the_same_cap(serve, tmp_path, http):
    _, r = serve("feed", gzip.compress(RSS), {"Content-Type": "application/gzip"})
    assert r.error is None and len(r.items) == 1
    _, bomb = serve("feed", gzip.compress(b"<rss>" + b" " * TEN_MIB), {"Content-Type": "application/gzip"})
    assert bomb.error == "decompressed response exceeds the cap of 10000000 bytes; stopped reading"


def test_encoding_we_never_asked_for_is_refused(serve):
    _, r = serve("feed", b"\x1b\x00\x00garbage", {"Content-Encoding": "br"})
    assert r.error == "unsupported Content-Encoding 'br' (we accept gzip and deflate)"


def test_corrupt_gzip_is_a_fetch_error(serve):
    _, r = serve("feed", gzip.compress(RSS)[:-30] + b"\xff" * 30, {"Content-Encoding": "gzip"})
    assert r.error is not None and r.error.startswith("cannot decompress gzip body")


# -- 3. nesting -----------------------------------------------------------------------------------------------------


def nested_items(depth: int) -> bytes:
    opened = "".join(f"<ul><li><a href='/x{i}'>Russia ends pact {i}</a> with Canada " for i in range(depth))
    return f"<html><body>{opened}{'</li></ul>' * depth}</body></html>".encode()


def test_5000_nested_list_items_are_each_read_once(serve):
    _, r = serve("html", nested_items(5000), {"Content-Type": "text/html; charset=utf-8"})
    assert r.error is None and len(r.items) == 5000
    assert max(len(i.title) for i in r.items) < 40  # an item's text does not hold every item nested in it


def test_100000_nested_html_is_refused(serve):
    body = ("<html><body>" + "<div>" * 100_000 + "<li><a href='/x'>t</a></li></body></html>").encode()
    _, r = serve("html", body)
    assert r.error == "HTML nested too deeply to parse in bounded time (100003 levels; refused)"


@pytest.mark.parametrize("kind", ["json", "pravo", "feed"])
def test_100000_nested_json_is_a_parse_error(serve, kind):
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _, r = serve(kind, body, {"Content-Type": "application/json"})
    assert r.error == "JSON nested too deeply (refused)"


# -- 4. charsets ----------------------------------------------------------------------------------------------------

KREMLIN = "Кремль денонсировал соглашение с Канадой"
GERMAN_RDF = """<?xml version="1.0" encoding="ISO-8859-1"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://example.de/"><title>Nachrichten</title><link>https://example.de/</link></channel>
<item rdf:about="https://example.de/a/1"><title>Russland kündigt Militärabkommen</title>
<link>https://example.de/a/1</link></item></rdf:RDF>"""


def test_utf8_served_as_windows_1251(serve):
    body = RSS.replace(b"Russia ends 1994 pact with France", KREMLIN.encode())
    _, r = serve("feed", body, {"Content-Type": "application/rss+xml; charset=windows-1251"})
    assert [i.title for i in r.items] == [KREMLIN]


@pytest.mark.parametrize("content_type", ["application/rdf+xml", "application/xml; charset=windows-1251", ""])
def test_iso_8859_1_rdf_with_umlauts(serve, content_type):
    _, r = serve("feed", GERMAN_RDF.encode("iso-8859-1"), {"Content-Type": content_type} if content_type else {})
    assert [i.title for i in r.items] == ["Russland kündigt Militärabkommen"]


def test_windows_1251_declared_as_utf8_still_reads(serve):
    body = RSS.replace(b"Russia ends 1994 pact with France", KREMLIN.encode("cp1251"))
    _, r = serve("feed", body, {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert [i.title for i in r.items] == [KREMLIN]


def test_json_feed_with_utf8_bom(serve):
    feed = {"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "title": KREMLIN, "url": "/a/1"}]}
    body = b"\xef\xbb\xbf" + json.dumps(feed, ensure_ascii=False).encode()
    _, r = serve("feed", body, {"Content-Type": "application/feed+json"})
    assert r.error is None and [i.title for i in r.items] == [KREMLIN]
    assert r.items[0].link.endswith("/a/1") and r.items[0].link.startswith("http://127.0.0.1:")


# -- 5. base href and relative links --------------------------------------------------------------------------------


def test_html_base_href_resolves_links_once(serve, http):
    body = b"""<html><head><base href="/docs/"></head><body><ul>
    <li><a href="57123/">Decree 57123</a></li><li><a href="https://other.example/x">Abs</a></li>
    <li><a href="/root/1">Root</a></li></ul></body></html>"""
    _, r = serve("html", body, {"Content-Type": "text/html"})
    assert [i.link for i in r.items] == [
        f"{http.base}/docs/57123/",
        "https://other.example/x",
        f"{http.base}/root/1",
    ]


def test_relative_links_in_feeds_resolve_once(serve, http):
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="news/">
    <title>t</title><entry><id>urn:1</id><title>One</title><link href="a/1"/></entry>
    <entry><id>urn:2</id><title>Two</title><link href="/abs/2"/></entry></feed>"""
    _, r = serve("feed", atom, {"Content-Type": "application/atom+xml"})
    assert [i.link for i in r.items] == [f"{http.base}/news/a/1", f"{http.base}/abs/2"]


# -- 6. feedparser's own ill-formed, entity, encoding and compression documents -------------------------------------


def _headers(doc: Path, body: bytes) -> dict[str, str]:
    headers = {}
    for line in body[:2048].decode("latin-1").splitlines():
        if line.startswith("Header:"):
            name, _, value = line[len("Header:") :].strip().partition(":")
            headers[name.strip()] = value.strip()
    if doc.suffix == ".gz":
        headers["Content-Encoding"] = "gzip"
    elif doc.suffix == ".z":
        headers["Content-Encoding"] = "deflate"
    return headers


CORPUS_DOCS = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("LICENSE", "README.md"))


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory) -> Iterator[tuple[App, FixtureServer]]:
    with FixtureServer() as server:
        yield _app(tmp_path_factory.mktemp("corpus"), f"{{id: s, type: feed, url: '{server.base}/doc'}}"), server


def test_corpus_is_large_enough():
    assert len(CORPUS_DOCS) > 250


@pytest.mark.parametrize("doc", CORPUS_DOCS, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_DOCS])
def test_feedparser_corpus_document(corpus_app, doc: Path):
    app, server = corpus_app
    body = doc.read_bytes()
    server.routes["/doc"] = lambda h: (200, _headers(doc, body), body)
    r = app.runner.poll("s")
    if r.error is None:
        stored = {s.item.key for s in app.store.items_since(datetime(1970, 1, 1, tzinfo=UTC), ["s"])}
        assert {i.key for i in r.items} <= stored
    else:
        # a clear source error, not a parser meeting input it never expected (that one logs a traceback)
        assert "parser failed" not in r.error, r.error


def test_a_huge_list_page_is_read_from_its_head(app_with, http):
    """A 9 MB page of 200,000 items: the first MAX_HTML_CHARS are parsed (newest first), in bounded memory."""
    from treatywatch.sources.html import MAX_HTML_CHARS

    row = b"<li><a href='/d/%d'>Act %d</a></li>"
    body = b"<html><body><ul>" + b"".join(row % (i, i) for i in range(200_000)) + b"</ul></body></html>"
    assert len(body) > 2 * MAX_HTML_CHARS
    http.routes["/big"] = lambda h: (200, {"Content-Type": "text/html; charset=utf-8"}, body)
    app = app_with(
        f"  - {{id: big, type: html, url: '{http.base}/big', items: li, fields: {{title: a, link: a@href}}}}\n"
    )
    result = app.runner.poll("big")
    assert result.error is None
    assert 0 < len(result.items) <= 5000 and result.items[0].title == "Act 0"


def test_an_ill_formed_but_recognised_feed_with_no_items_is_empty_not_an_error(app_with, http):
    body = b"<rss><channel><title>testing &exist; entity</title></channel></rss>"  # feedparser's entities/exist.xml
    http.routes["/empty"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, body)
    app = app_with(f"  - {{id: empty, type: feed, url: '{http.base}/empty'}}\n")
    result = app.runner.poll("empty")
    assert result.error is None and result.items == []  # before: "not a feed (SAXParseException …)"
