"""`feed`: RSS 0.9x/1.0/2.0, Atom and JSON Feed through feedparser, on bytes we fetched ourselves."""

from __future__ import annotations

import io
import re
import time
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import feedparser

from ..errors import ParseError
from ..items import Item, make_item
from . import fastfeed
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode, strip_xml_declaration
from .identity import fetch_independent
from .safeparse import loads_bounded, refuse_xml_entities


class FeedConfig(SourceConfig):
    type: Literal["feed"] = "feed"


def _when(entry: feedparser.FeedParserDict) -> tuple[time.struct_time | None, str | None]:
    """The first date feedparser read, with the text it read it from; else no date and the first date text."""
    for key in ("published", "updated", "created"):
        value = entry.get(f"{key}_parsed")
        if value:
            return value, entry.get(key)
    return None, next((entry[key] for key in ("published", "updated", "created") if entry.get(key)), None)


_HIDDEN_OPEN = re.compile(r"<(script|style|applet)\b|<!--", re.I)
_HIDDEN_CLOSE = {
    "script": re.compile(r"</script\s*>", re.I),
    "style": re.compile(r"</style\s*>", re.I),
    "applet": re.compile(r"</applet\s*>", re.I),
    "": re.compile(r"-->"),
}


def visible(markup: str) -> str:
    """Markup without what a reader never sees: script, style and applet bodies and comments (an unclosed one
    hides the rest, as in a browser). This is the part of feedparser's sanitizer our plain text needs; tags and
    entities go in make_item. One pass, each search starting where the last ended: linear on hostile input."""
    if "<" not in markup:
        return markup
    out: list[str] = []
    pos = 0
    while (opening := _HIDDEN_OPEN.search(markup, pos)) is not None:
        out.append(markup[pos : opening.start()])
        closing = _HIDDEN_CLOSE[(opening.group(1) or "").lower()].search(markup, opening.end())
        if closing is None:
            return " ".join(out)
        out.append(" ")
        pos = closing.end()
    out.append(markup[pos:])
    return "".join(out)


def _json_feed(cfg: FeedConfig, response: Response, text: str) -> list[Item]:
    """JSON Feed 1.0/1.1 (feedparser 6.0 reads only XML feeds)."""
    data = loads_bounded(text)
    dates = DateFields(cfg.id)
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        raise ParseError("JSON body is not a JSON Feed (no jsonfeed.org version)")
    language = cfg.language or (str(data.get("language") or "")[:2].lower() or None)
    items = []
    entries = data.get("items")
    for entry in entries[:MAX_ITEMS_PER_PAGE] if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        link = entry.get("url") or entry.get("external_url")
        guid = str(entry["id"]) if entry.get("id") not in (None, link) else None
        item = make_item(
            cfg.id,
            title=str(entry.get("title") or ""),
            link=link,
            summary=str(entry.get("summary") or entry.get("content_text") or entry.get("content_html") or ""),
            published=dates.text(str(entry.get("date_published") or entry.get("date_modified") or "")),
            guid=guid,
            language=language,
            base_url=response.url,
        )
        items.append(fetch_independent(item, response.url, guid, guid))
    dates.report()
    return items


def parse_feed_text(text: str, base_url: str | None = None) -> feedparser.FeedParserDict:
    """Parse decoded text as a document, never as a location.

    feedparser.parse() treats a str (and even bytes) as a URL or a file name to open when it looks like one, so a
    body of `/etc/passwd` or `http://…` would be read or fetched outside our fetcher. Only a stream is always read
    as content; the text is handed over as UTF-8 with its stale encoding declaration removed. `base_url` goes in
    as Content-Location, which feedparser only uses to resolve relative links (and relative xml:base) once.
    Documents that declare XML entities are refused first (see safeparse).
    """
    refuse_xml_entities(text)
    headers = {"content-type": "application/xml; charset=utf-8"}
    if base_url:
        headers["content-location"] = base_url
    stream = io.BytesIO(strip_xml_declaration(text).encode("utf-8", errors="replace"))
    # its sanitizer and relative-URI rewriting work on markup we reduce to plain text (see `visible`): a third of
    # its time on a typical feed, for nothing
    return feedparser.parse(stream, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)


def read_entries(text: str, base_url: str | None) -> tuple[str | None, list[fastfeed.Entry]]:
    """The feed's language and entries: through the fast path when it reproduces feedparser, else feedparser."""
    refuse_xml_entities(text)
    fast = fastfeed.read(strip_xml_declaration(text), base_url, MAX_ITEMS_PER_PAGE)
    if fast is not None:
        return fast.language, fast.entries
    return feedparser_entries(text, base_url)


def feedparser_entries(text: str, base_url: str | None) -> tuple[str | None, list[fastfeed.Entry]]:
    """What feedparser reads: every document the fast path declines (and, in tests, the reference for it).

    As in the fast path, links are resolved against the feed's URL and guids are not. feedparser resolves both, so
    it is not told the URL and links are joined here, as it would join them; only a document with an xml:base
    (which moves the base of what follows it, and only feedparser reads) is parsed with the URL, and a guid it
    resolved onto the feed's own origin keeps its path only."""
    declared = "base=" in text
    parsed = parse_feed_text(text, base_url if declared else None)
    base = fastfeed.document_base(base_url)
    # feedparser recovers from most ill-formed XML (bozo); a document it recognised as a feed is one, even
    # empty (the empty-source warning covers that), and one it did not recognise is not
    if not parsed.entries and not parsed.get("version"):
        cause = parsed.get("bozo_exception")
        raise ParseError(f"not a feed ({type(cause).__name__ if cause else 'no entries'}: {cause})")
    entries = [
        fastfeed.Entry(
            title=e.get("title") or "",
            link=e.get("link") if declared else fastfeed.join(base, e.get("link")),
            summary=e.get("summary") or e.get("description") or "",
            when=when,
            guid=_off_origin(e.get("id"), base) if declared else e.get("id"),
            when_text=when_text,
        )
        for e in parsed.entries[:MAX_ITEMS_PER_PAGE]
        for when, when_text in [_when(e)]
    ]
    return parsed.feed.get("language"), entries


def _off_origin(guid: str | None, base: str) -> str | None:
    """A guid feedparser resolved onto the origin of the feed's URL, without that origin."""
    if guid and base:
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        if guid.startswith(origin + "/"):
            return guid[len(origin) :]
    return guid


class FeedSource:
    """RSS 0.9x/1.0/2.0, Atom and JSON Feed; any declared or sniffed encoding."""

    name: ClassVar[str] = "feed"
    config_model: ClassVar[type[SourceConfig]] = FeedConfig

    def first_request(self, cfg: FeedConfig) -> Request:
        return Request(str(cfg.url))

    def parse(self, cfg: FeedConfig, request: Request, response: Response) -> Page:
        text, _ = decode(response.content, response.headers.get("content-type", ""))
        if text.lstrip()[:1] == "{":  # decoded first, so a BOM or UTF-16 does not hide the brace
            return Page(_json_feed(cfg, response, text))
        feed_language, entries = read_entries(text, response.url)
        language = cfg.language or (feed_language or "")[:2].lower() or None
        dates = DateFields(cfg.id)
        base = fastfeed.document_base(response.url)
        items = []
        for entry in entries:
            guid = entry.guid if entry.guid != entry.link else None
            item = make_item(
                cfg.id,
                title=visible(entry.title),
                link=entry.link,
                summary=visible(entry.summary),
                published=dates.parsed(entry.when, entry.when_text),
                guid=guid,
                language=language,
                base_url=response.url,
            )
            # before, guids were resolved against the feed's URL, as links are: that is the key a database has
            resolved = fastfeed.join(base, entry.guid)
            items.append(fetch_independent(item, response.url, guid, resolved if resolved != entry.link else None))
        dates.report()
        return Page(items)
