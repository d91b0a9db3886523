"""`feed`: RSS 0.9x/1.0/2.0, Atom and JSON Feed through feedparser, on bytes we fetched ourselves."""

from __future__ import annotations

import html
import io
import re
import time
from datetime import date
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import feedparser
from pydantic import Field

from ..errors import ParseError
from ..items import ActFields, Item, make_item
from . import fastfeed
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode, strip_xml_declaration
from .identity import fetch_independent
from .jsonapi import next_link
from .safeparse import loads_bounded, refuse_xml_entities


class FeedConfig(SourceConfig):
    """RSS, Atom or JSON Feed; optionally paged by the feed's rel="next" link, its entries' link chosen among
    several alternates, and its dates read as calendar days."""

    type: Literal["feed"] = "feed"
    link_type: str | None = Field(
        default=None,
        description="Of an entry's several rel=alternate links, the one of this type (application/pdf) is its link. "
        "Default: the first text/html one (the page, not an XHTML snippet).",
    )
    link_title: str | None = Field(default=None, description="Or: the alternate link of this title (PDF).")
    follow_next: bool = Field(
        default=False,
        description="Follow the feed's rel=next link (RFC 5005 paging): read back, up to max_pages a poll, to "
        "entries stored before, and a backlog across polls.",
    )
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages one poll reads (with follow_next).")
    page_size: int = Field(default=20, ge=1, le=1000, description="Entries per page (where a backlog walk looks).")
    dates_are_days: bool = Field(
        default=False,
        description="The feed writes calendar days as midnight (EUR-Lex, the pravo portal's RSS): each entry's day "
        "as written is its publication date (published_on), shown as a date, never as the UTC evening before.",
    )


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
            alternates=_alternates(e, base, declared),
        )
        for e in parsed.entries[:MAX_ITEMS_PER_PAGE]
        for when, when_text in [_when(e)]
    ]
    return parsed.feed.get("language"), entries


def _alternates(entry: feedparser.FeedParserDict, base: str, declared: bool) -> tuple[tuple[str, str, str], ...]:
    """(type, title, href) of the entry's rel="alternate" links, as the fast path reads them, when several."""
    found = tuple(
        (str(link.get("type") or "").lower(), str(link.get("title") or ""), href)
        for link in entry.get("links") or []
        if link.get("rel") == "alternate"
        for href in [link.get("href") if declared else fastfeed.join(base, link.get("href"))]
        if href
    )
    return found if len(found) > 1 else ()


# EUR-Lex titles open with the act's CELEX number ("CELEX:32026L1472: Directive (EU) 2026/1472 …")
_CELEX = re.compile(r"^\s*CELEX:[0-9A-Z()_.-]+:\s*")
# a feed-level <link rel="next" href="…"/> (Atom, or atom:link in RSS), before the first entry or item
_LINK_TAG = re.compile(r"<(?:[\w-]+:)?link\b([^<>]*)>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_FIRST_ENTRY = re.compile(r"<(?:[\w-]+:)?(?:entry|item)\b", re.I)
# "Tue, 30 Jun 2026 00:00:00 +0200", "2026-06-30T00:00:00+02:00": a day written as its midnight, in its own zone
_WRITTEN_DAY = re.compile(r"(\d{1,2}) (\w{3}) (\d{4}) 00:00(?::00)?\b|^(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00)?|$)")
_MON = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}


def feed_next(text: str) -> str | None:
    """The href of the feed's own rel="next" link (entries' links are not the feed's)."""
    first = _FIRST_ENTRY.search(text)
    for tag in _LINK_TAG.finditer(text, 0, first.start() if first else len(text)):
        attrs = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTR.finditer(tag.group(1))
        }
        if (attrs.get("rel") or "").lower() == "next" and attrs.get("href"):
            return html.unescape(attrs["href"])
    return None


def written_day(text: str | None) -> date | None:
    """The calendar day a date written as midnight means, in the zone it is written in (not moved to UTC)."""
    m = _WRITTEN_DAY.search((text or "").strip())
    if m is None:
        return None
    try:
        if m.group(4):
            return date.fromisoformat(m.group(4))
        month = _MON.get(m.group(2).lower())
        return date(int(m.group(3)), month, int(m.group(1))) if month else None
    except ValueError:
        return None


def choose_link(cfg: FeedConfig, entry: fastfeed.Entry) -> str | None:
    """The entry's link among several alternates: the one of `link_type` or `link_title`, else the first page
    (text/html); a single alternate is the link as the feed reader read it."""
    if not entry.alternates:
        return entry.link
    if cfg.link_type or cfg.link_title:
        for kind, title, href in entry.alternates:
            if (not cfg.link_type or kind == cfg.link_type.lower()) and (
                not cfg.link_title or title.lower() == cfg.link_title.lower()
            ):
                return href
        return entry.link
    return next((href for kind, _, href in entry.alternates if kind in ("text/html", "html")), entry.link)


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

    def page_request(self, cfg: FeedConfig, page: int) -> Request | None:
        return self.first_request(cfg) if page == 1 else None

    def pages(self, cfg: FeedConfig) -> bool:
        """Paged only when configured so; otherwise one request a poll, as before."""
        return cfg.follow_next

    def paging(self, cfg: FeedConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages if cfg.follow_next else 1

    def parse(self, cfg: FeedConfig, request: Request, response: Response) -> Page:
        text, _ = decode(response.content, response.headers.get("content-type", ""))
        if text.lstrip()[:1] == "{":  # decoded first, so a BOM or UTF-16 does not hide the brace
            return Page(_json_feed(cfg, response, text))
        following = next_link(response.url, feed_next(text)) if cfg.follow_next else None
        feed_language, entries = read_entries(text, response.url)
        language = cfg.language or (feed_language or "")[:2].lower() or None
        dates = DateFields(cfg.id)
        base = fastfeed.document_base(response.url)
        items = []
        for entry in entries:
            guid = entry.guid if entry.guid != entry.link else None
            day = written_day(entry.when_text) if cfg.dates_are_days else None
            item = make_item(
                cfg.id,
                title=_CELEX.sub("", visible(entry.title), count=1),
                link=choose_link(cfg, entry),
                summary=visible(entry.summary),
                published=dates.parsed(entry.when, entry.when_text),
                guid=guid,
                language=language,
                base_url=response.url,
                act=ActFields(published_on=day) if day else None,
            )
            # before, guids were resolved against the feed's URL, as links are: that is the key a database has
            resolved = fastfeed.join(base, entry.guid)
            items.append(fetch_independent(item, response.url, guid, resolved if resolved != entry.link else None))
        dates.report()
        return Page(items, following)
