"""A fast path for the feeds nearly everyone publishes: well-formed RSS 2.0/0.9x and Atom 1.0 with plain fields.

feedparser spends about 10 ms on a 20-item feed (SAX callbacks through its generic mixin, 0.5 ms an item), which
was most of a cold poll's CPU. ElementTree (expat in C) reads the same document in well under a millisecond. This
module reads only what `feed.py` keeps (title, link, summary, dates, guid, language) and reproduces feedparser's
rules for those fields: whitespace stripped, links joined to the base (guids stay as written: an item's identity
must not hold the URL the feed was fetched from; feed.py reads feedparser the same way), the guid standing in for
a missing link, content copied to the summary when there is none, its UTF-8/Latin-1 and cp1252 repairs, its date
parser. Anything outside that (ill-formed XML, RSS 1.0/RDF, Atom 0.3, xml:base, XHTML or markup inside a field,
repeated fields, an element it does not know inside an item) returns None, and the document goes to feedparser,
whose recovery and breadth we keep. tests/test_fastfeed.py checks both paths give the same items on every feed in
the repository, feedparser's own corpus included.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# children of an item that feedparser maps to nothing we read (or to author, tags, enclosures)
RSS_IGNORED = frozenset({"author", "category", "comments", "enclosure", f"{DC}creator", f"{DC}subject"})
RSS_FIELDS = frozenset({"title", "link", "description", "guid", "pubDate", f"{CONTENT}encoded"})
ATOM_IGNORED = frozenset({f"{ATOM}author", f"{ATOM}contributor", f"{ATOM}category", f"{ATOM}rights"})
ATOM_FIELDS = frozenset({f"{ATOM}{k}" for k in ("title", "id", "updated", "published", "summary", "content")})
TEXT_TYPES = frozenset({"text", "plain", "html", "text/plain", "text/html"})


class _Decline(Exception):
    """This document is not one the fast path reproduces exactly: feedparser reads it."""


@dataclass(frozen=True)
class Entry:
    """The fields feed.py reads from a feedparser entry, under the same names' meaning."""

    title: str = ""
    link: str | None = None
    summary: str = ""
    when: time.struct_time | None = None
    guid: str | None = None
    when_text: str | None = None  # the text `when` was read from (or a date text nothing could be read from)
    # (type, title, href) of each rel="alternate" link, when there are several (legislation.gov.uk: page, XML,
    # RDF, PDF, XHTML snippet); the source chooses among them
    alternates: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Feed:
    language: str | None
    entries: list[Entry]


def _repair(text: str) -> str:
    """feedparser's repairs on every text it pops from a UTF-8 document, in its order: UTF-8 that was read as
    Latin-1, then cp1252's code points for C1 controls. Both leave ASCII as it is."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1.search(text) else text  # translate() costs a dict lookup a character


def _text(el: ET.Element) -> str:
    """The element's text as feedparser pops it; an element holding elements is markup we leave to feedparser."""
    if len(el):
        raise _Decline
    return _repair((el.text or "").strip())


def _fields(children: Iterable[ET.Element], known: frozenset[str], ignored: frozenset[str]) -> dict[str, ET.Element]:
    """The item's fields by tag; a repeated field or an unknown child declines (feedparser's rules for those
    depend on order and depth)."""
    found: dict[str, ET.Element] = {}
    for child in children:
        tag = child.tag
        if tag in known:
            if tag in found:
                raise _Decline
            found[tag] = child
        elif tag not in ignored:
            raise _Decline
    return found


def _date(*elements: ET.Element | None) -> tuple[time.struct_time | None, str | None]:
    """The first of these dates feedparser reads, with its text; else no date and the first text there was."""
    first = None
    for el in elements:
        if el is None:
            continue
        text = _text(el)
        when = _parse_date(text)
        if when:
            return when, text
        first = first or text or None
    return None, first


def _rss_entry(item: ET.Element, base: str) -> Entry:
    f = _fields(item, RSS_FIELDS, RSS_IGNORED)
    guid_el = f.get("guid")
    guid: str | None = None
    permalink = False
    if guid_el is not None:
        flag = guid_el.get("isPermaLink", "true")
        if flag not in ("true", "false") or len(guid_el.attrib) > 1:
            raise _Decline
        permalink = flag == "true"
        guid = _text(guid_el)
    link: str | None = None
    if "link" in f:
        if f["link"].attrib:
            raise _Decline  # <link href=...> is Atom's form: feedparser's rules differ
        link = _text(f["link"])
        if link:
            link = join(base, link) or ""
        link = _fix_query(link)
    elif permalink:
        link = join(base, guid)
    summary = ""
    if "description" in f:
        summary = _text(f["description"])
    elif f"{CONTENT}encoded" in f:
        summary = _text(f[f"{CONTENT}encoded"])
    title = _text(f["title"]) if "title" in f else ""
    when, when_text = _date(f.get("pubDate"))
    return Entry(title, link, summary, when, guid, when_text)


_C1 = re.compile("[\x80-\x9f]")
_REF = re.compile("&([A-Za-z0-9_]+);")


def _fix_query(link: str) -> str:
    """feedparser undoes `?a=1&b;=2`, the damage of a parser that took query variables for entity references."""
    return _REF.sub(r"&\g<1>", link.replace("&amp;", "&"))


def _content_type(el: ET.Element) -> str:
    kind = el.get("type", "text").lower()
    if kind in ("xhtml", "application/xhtml+xml") or el.get("mode") or el.get("src"):
        raise _Decline
    return kind


def _atom_entry(entry: ET.Element, base: str) -> Entry:
    links = [c for c in entry if c.tag == f"{ATOM}link"]
    others = [c for c in entry if c.tag != f"{ATOM}link"]
    f = _fields(others, ATOM_FIELDS, ATOM_IGNORED)
    link: str | None = None
    alternates = []
    for el in links:
        href = el.get("href")
        if href is None or len(el):
            raise _Decline
        rel = el.get("rel", "alternate")
        kind = el.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
        if rel == "alternate":
            alternates.append((kind, el.get("title", ""), _urljoin(base, href)))
        if rel == "alternate" and kind in ("text/html", "application/xhtml+xml", "html", "xhtml"):
            link = _urljoin(base, href)  # the last one wins, as in feedparser
    guid = None
    if f"{ATOM}id" in f:
        if f[f"{ATOM}id"].attrib:
            raise _Decline
        guid = _text(f[f"{ATOM}id"])
        if link is None:
            link = join(base, guid)
    title = ""
    if f"{ATOM}title" in f:
        _content_type(f[f"{ATOM}title"])
        title = _text(f[f"{ATOM}title"])
    summary = ""
    if f"{ATOM}summary" in f:
        _content_type(f[f"{ATOM}summary"])
        summary = _text(f[f"{ATOM}summary"])
    elif f"{ATOM}content" in f:
        content = f[f"{ATOM}content"]
        if _content_type(content) in TEXT_TYPES:
            summary = _text(content)
    when, when_text = _date(f.get(f"{ATOM}published"), f.get(f"{ATOM}updated"))
    return Entry(title, link, summary, when, guid, when_text, tuple(alternates) if len(alternates) > 1 else ())


def document_base(url: str | None) -> str:
    """The base feedparser resolves a document's references against, from the URL it was fetched from."""
    return (make_safe_absolute_uri(url) if url else "") or ""


@functools.lru_cache(maxsize=256)
def join(base: str, uri: str | None) -> str | None:
    """A reference resolved as feedparser resolves it (its `_urljoin`: "" for what urllib cannot read). Kept for
    the last few: an item's guid is most often its link's text, joined for the link and again for the guid's old
    key (feed.py), and urllib's join is a tenth of reading an item."""
    return _urljoin(base, uri) if uri else uri


def _language(root: ET.Element) -> str | None:
    lang = root.get(XML_LANG, root.get("lang"))
    return lang.replace("_", "-") if lang else None


def read(text: str, base_url: str | None, max_items: int) -> Feed | None:
    """The feed's language and entries, or None when feedparser must read this document."""
    if "base=" in text:  # xml:base (or a bare base attribute) moves the base of relative links: feedparser's job
        return None
    try:
        root = ET.fromstring(text.encode("utf-8", errors="replace"))
    except (ET.ParseError, LookupError, ValueError):  # ill-formed, or a declaration naming an unknown encoding
        return None
    base = document_base(base_url)
    try:
        if root.tag == "rss":
            return _rss(root, base, max_items)
        if root.tag == f"{ATOM}feed":
            return _atom(root, base, max_items)
    except _Decline:
        return None
    return None


def _rss(root: ET.Element, base: str, max_items: int) -> Feed:
    channels = root.findall("channel")
    if len(channels) != 1 or len(root) != 1:
        raise _Decline
    channel = channels[0]
    language = _language(root)
    items: list[ET.Element] = []
    for child in channel:
        if child.tag == "item":
            items.append(child)
        elif child.tag == "language":
            language = _text(child) or language
        elif child.tag in (f"{DC}language", "entry", f"{ATOM}entry"):
            raise _Decline
    if sum(1 for _ in root.iter("item")) != len(items):
        raise _Decline  # items outside the channel: feedparser finds them anywhere
    return Feed(language, [_rss_entry(item, base) for item in items[:max_items]])


def _atom(root: ET.Element, base: str, max_items: int) -> Feed:
    entries = root.findall(f"{ATOM}entry")
    if sum(1 for _ in root.iter(f"{ATOM}entry")) != len(entries):
        raise _Decline
    return Feed(_language(root), [_atom_entry(entry, base) for entry in entries[:max_items]])
