"""The Item every source produces: normalised text, canonical link, UTC date, identity key and content hash."""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Caps on an item's text, applied once in make_item, so that no stage after it (matching runs under the ingest lock)
# ever sees more. Each is well above real text: the longest legal act titles run to about 1,000 characters, feed
# summaries to a few thousand (a full article copied into the summary is cut after about 1,200 words), a legal
# act's full text to about 150,000. A cut text ends at a word and with "…", so pages, mails and the console show it.
TITLE_MAX_CHARS = 2_000
SUMMARY_MAX_CHARS = 8_000
BODY_MAX_CHARS = 200_000
# Raw feed text is cut at this many times the cap before cleaning: room for markup, and cleaning stays bounded.
RAW_PER_CLEAN_CHAR = 32
# A cut looks this far back for a space; a longer run without one (a hostile token) is cut where the cap falls.
WORD_CUT_REACH = 64
ELLIPSIS = "…"

# "<[^>]+>" rescanned to the end of the text from every "<" without a ">": quadratic. No tag contains "<".
_TAGS = re.compile(r"<[^<>]+>")
# Numeric references longer than any code point: html.unescape raises ValueError past 4,300 digits (int's limit).
_LONG_CHARREF = re.compile(r"&#(?:([xX])([0-9a-fA-F]{7,})|([0-9]{8,}));?")
# Invisible characters that have no place in a headline and change what a reader sees: bidirectional embeddings,
# overrides, isolates and marks (U+202E turns "exe.png" into "gnp.exe" on screen), the zero-width space, word joiner
# and invisible operators, the soft hyphen (it also splits a word in two for matching), the BOM, deprecated format
# controls, interlinear annotations, and C0/C1 controls other than whitespace (whitespace becomes a space).
# ZWNJ and ZWJ (U+200C, U+200D) stay: Persian, Indic scripts and emoji sequences need them to spell words.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
# Unicode's stream-safe format allows 30 combining marks in a row; NFC reorders a longer run by insertion sort
# (quadratic: 80,000 marks took 9 s). No writing system stacks more; the rest of a run is dropped.
MAX_MARKS_IN_A_ROW = 30
_TRACKING = ("utm_", "fbclid", "gclid", "yclid", "mc_cid", "mc_eid")


# An act's number, type and issuer are short names; anything longer is a field mapped to the wrong value.
ACT_FIELD_MAX_CHARS = 300
# An act's typed fields travel in `Item.extra` (the items table's JSON column: no migration) under these keys.
ACT_PREFIX = "act."


@dataclass(frozen=True)
class ActFields:
    """What an official portal says of a legal act beside its title, typed: a desk reads "Распоряжение № 28-р от
    17.01.2026 · PDF" at a glance. Dates without a time are calendar dates as the portal means them (a Moscow date
    stays that date, never a UTC instant of the evening before)."""

    act_date: date | None = None
    number: str = ""
    doc_type: str = ""
    issuer: str = ""
    published_on: date | None = None
    document_url: str = ""

    def to_extra(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[ACT_PREFIX + f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    @classmethod
    def from_extra(cls, extra: dict[str, str]) -> ActFields | None:
        """The act stored in an item's extra fields, or None (not an act; a date that does not read is left out).
        Matching asks this of every item: most are no act, and their extra fields say so at a glance."""
        if not any(key.startswith(ACT_PREFIX) for key in extra):
            return None
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = extra.get(ACT_PREFIX + f.name)
            if not raw:
                continue
            if f.name in ("act_date", "published_on"):
                try:
                    values[f.name] = date.fromisoformat(raw)
                except ValueError:
                    continue
            else:
                values[f.name] = raw
        return cls(**values) if values else None  # type: ignore[arg-type]

    @staticmethod
    def day(value: date | None, language: str | None = "ru") -> str:
        """A calendar date as the portal writes it: 17.01.2026 for a Russian act, 2026-01-17 elsewhere."""
        if value is None:
            return ""
        return f"{value:%d.%m.%Y}" if (language or "ru").startswith("ru") else value.isoformat()

    def label(self, language: str | None = "ru") -> str:
        """The line a desk reads: "Распоряжение № 28-р от 17.01.2026" (the portal's way), "Rule No. 7 of
        2026-01-17" elsewhere."""
        russian = (language or "ru").startswith("ru")
        parts = [self.doc_type]
        if self.number:
            parts.append(f"№ {self.number}" if russian else f"No. {self.number}")
        if self.act_date:
            parts.append(("от " if russian else "of ") + self.day(self.act_date, language))
        return " ".join(p for p in parts if p)

    def json(self) -> dict[str, str | None]:
        """The fields as the JSON API gives them: ISO calendar dates, no time, no zone."""
        return {
            "act_date": self.act_date.isoformat() if self.act_date else None,
            "number": self.number or None,
            "doc_type": self.doc_type or None,
            "issuer": self.issuer or None,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "document_url": self.document_url or None,
        }


@dataclass(frozen=True)
class Item:
    """One news story or legal act as stored and matched. Immutable: stages return new values."""

    source_id: str
    key: str
    title: str
    link: str = ""
    summary: str = ""
    published: datetime | None = None
    language: str | None = None
    untitled: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # the key this item had before keys stopped holding the feed's URL (sources set it when it differs): a database
    # written then still knows the item by it, and moves it to the new key at the first poll (store.adopt_keys)
    legacy_key: str | None = field(default=None, compare=False, hash=False)
    # the text of the item's document or article: pages joined by "\f", lines by "\n" (see clean_body). Matched as
    # its own field (`body:`); not part of content_hash and not stored with the item: the documents table keeps it.
    body: str = field(default="", compare=False, hash=False, repr=False)

    @property
    def act(self) -> ActFields | None:
        """The act's typed fields, when its source gave any (kept in `extra`, see ActFields)."""
        return ActFields.from_extra(self.extra)

    @property
    def content_hash(self) -> str:
        """Changes when what a reader sees changes, so an updated item is offered to matching again. Worked out
        once per item and kept with it (pickled too): a poll asked for it four times per item, in two processes."""
        known: str | None = self.__dict__.get(_HASH_KEPT)
        if known is None:
            h = hashlib.sha256()
            for part in (self.title, self.summary, self.link, (self.untitled and "1") or "0"):
                h.update(part.encode("utf-8"))
                h.update(b"\0")
            known = self.__dict__[_HASH_KEPT] = h.hexdigest()[:32]
        return known

    def with_(self, **changes: object) -> Item:
        """A copy with these fields changed; a new body is cleaned and capped as make_item does."""
        if "body" in changes:
            changes["body"] = clean_body(changes["body"])  # type: ignore[arg-type]
        if not changes.keys() <= _FIELDS:
            return replace(self, **changes)  # type: ignore[arg-type]  # says which field does not exist
        # the fields copied and changed, without dataclasses.replace's call of __init__ with every field: the
        # language stage gives every new item a copy, and replace was a fifth of its cost (Item has no __post_init__)
        copy = object.__new__(Item)
        copy.__dict__.update(self.__dict__, **changes)
        if not changes.keys().isdisjoint(_HASHED):  # the copy's content hash is its own
            copy.__dict__.pop(_HASH_KEPT, None)
        return copy


_FIELDS = frozenset(f.name for f in fields(Item))
# the fields content_hash is worked out from, and where an item keeps it (not a field: not compared, not replaced)
_HASHED = frozenset({"title", "summary", "link", "untitled"})
_HASH_KEPT = "_content_hash"


def encodable(value: str) -> str:
    """Lone surrogates (a JSON "\\ud800") cannot be hashed, stored or sent: they become U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


@functools.cache
def _marks() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """One combining mark of the Basic Multilingual Plane, one character beyond the plane, and a run of marks longer
    than MAX_MARKS_IN_A_ROW (built once: the marks come from unicodedata)."""
    codes = [c for c in range(0x300, 0x20000) if unicodedata.combining(chr(c))]
    every = re.escape("".join(map(chr, codes)))
    plane = re.escape("".join(chr(c) for c in codes if c <= 0xFFFF))
    runs = re.compile(f"([{every}]{{{MAX_MARKS_IN_A_ROW}}})[{every}]+")
    return re.compile(f"[{plane}]"), re.compile("[\U00010000-\U0010ffff]"), runs


def _clip_mark_runs(text: str) -> str:
    """Runs of combining marks cut to MAX_MARKS_IN_A_ROW. The run's class reaches past the plane, so re tests each
    character against a list (about 100 µs for an item's summary); most text holds no mark at all, which the
    plane's class alone (a table) finds in 2 µs, and a mark beyond the plane needs a character beyond it."""
    one, beyond, runs = _marks()
    if one.search(text) is None and beyond.search(text) is None:
        return text
    return runs.sub(r"\1", text)


def _charref(m: re.Match[str]) -> str:
    """A long numeric reference: its value without leading zeros, or U+FFFD past the last code point."""
    digits = (m.group(2) or m.group(3)).lstrip("0") or "0"
    if m.group(1):
        return "\ufffd" if len(digits) > 6 else f"&#x{digits};"
    return "\ufffd" if len(digits) > 7 else f"&#{digits};"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters: cut at the last space within reach of the limit, ending in "…"."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", max(0, limit - 1 - WORD_CUT_REACH), limit)
    cut = space if space > 0 else limit - len(ELLIPSIS)
    return text[:cut].rstrip() + ELLIPSIS


def clean_text(value: str | None, limit: int | None = None) -> str:
    """Feed text to plain text: tags dropped, entities decoded, invisible controls dropped, NFC, whitespace
    collapsed, and at most `limit` characters. Every step is linear in the text, so hostile text cannot stall."""
    if not value:
        return ""
    text = encodable(value)
    if limit is not None and len(text) > limit * RAW_PER_CLEAN_CHAR:
        text = text[: limit * RAW_PER_CLEAN_CHAR]
        if text.rfind("<") > text.rfind(">"):
            text = text[: text.rfind("<")]  # a tag the cut split in two
    text = _TAGS.sub(" ", text)
    text = html.unescape(_LONG_CHARREF.sub(_charref, text))
    text = _INVISIBLE.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", _clip_mark_runs(text))
    text = " ".join(text.split())  # whitespace runs to one space: what \s+ is, five times faster
    return clip(text, limit) if limit is not None else text


_LINE_SPACE = re.compile(r"[^\S\n\f]+")
_PAGE_BREAK = re.compile(r" *\f *")


def clean_body(value: str | None) -> str:
    """A document's text as matching reads it: pages stay separated by "\f" and lines by "\n" (explanations
    point at "body p. 2, l. 14"), other whitespace runs become one space, invisible controls go, NFC, at most
    BODY_MAX_CHARS characters (cut at a word). Linear in the text."""
    if not value:
        return ""
    text = encodable(value)[: BODY_MAX_CHARS * RAW_PER_CLEAN_CHAR].replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", _clip_mark_runs(text))
    text = _PAGE_BREAK.sub("\f", _LINE_SPACE.sub(" ", text)).rstrip(" \n")  # leading lines count
    return clip(text, BODY_MAX_CHARS)


def canonical_url(url: str | None, base: str | None = None) -> str:
    """Absolute URL without fragment and tracking parameters, lower-case host: the same story, the same link.
    A URL urllib cannot read (a broken IPv6 host, a host NFKC turns into a separator) is no link: "" rather than
    a ValueError that would lose the item's whole feed."""
    if not url:
        return ""
    url = url.strip()
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_TRACKING)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def to_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; sources with a local zone convert before calling this. An instant the
    calendar cannot hold in UTC (0001-01-01 00:00 in Tokyo is year 0) is no date: the item keeps the rest."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def identity_key(
    guid: str | None, link: str | None, title: str, published: datetime | None, home: str | None = None
) -> str:
    """guid as written, else canonical link, else a hash of title and date: stable across polls of the same item.

    `link` is canonical (canonical_url's, as make_item keeps it). Canonical again it would only lose the spaces a
    path kept before its fragment ("/a #top" -> "/a " -> "/a"), which is what strip() does here: a poll keyed each
    item twice and ran canonical_url over its link both times (tests/test_item_keys.py holds this equality).

    `home` is the URL the document was fetched from. A link on that host (a relative one resolved against it, or
    one the site writes from the Host header it was asked under) is keyed by its path and query only, so the same
    feed read under another host name or scheme (127.0.0.1 or localhost, http or https, www. or not) gives the
    same keys. Links to other hosts are keyed whole."""
    if guid and guid.strip():
        return guid.strip()
    if link:
        url = link.strip()
        if home:
            parts, at = urlsplit(url), urlsplit(home)
            if (
                parts.scheme in ("http", "https")
                and parts.hostname
                and parts.hostname.removeprefix("www.") == (at.hostname or "").removeprefix("www.")
            ):
                return urlunsplit(("", "", parts.path or "/", parts.query, ""))
        return url
    stamp = published.isoformat() if published else ""
    return "sha1:" + hashlib.sha1(f"{title}\0{stamp}".encode()).hexdigest()


def make_item(
    source_id: str,
    *,
    title: str | None,
    link: str | None = None,
    summary: str | None = None,
    published: datetime | None = None,
    guid: str | None = None,
    language: str | None = None,
    base_url: str | None = None,
    untitled: bool = False,
    extra: dict[str, str] | None = None,
    act: ActFields | None = None,
    body: str | None = None,
) -> Item:
    """The one place raw fields become an Item, so every source normalises the same way."""
    clean_title = clean_text(title, TITLE_MAX_CHARS)
    clean_link = canonical_url(encodable(link) if link else link, base_url)
    guid = encodable(guid) if guid else guid
    when = to_utc(published)
    if act is not None:
        act = replace(
            act,
            number=clean_text(act.number, ACT_FIELD_MAX_CHARS),
            doc_type=clean_text(act.doc_type, ACT_FIELD_MAX_CHARS),
            issuer=clean_text(act.issuer, ACT_FIELD_MAX_CHARS),
            document_url=canonical_url(encodable(act.document_url), base_url),
        )
    return Item(
        source_id=source_id,
        key=identity_key(guid, clean_link, clean_title, when),
        title=clean_title,
        link=clean_link,
        summary=clean_text(summary, SUMMARY_MAX_CHARS),
        published=when,
        language=language,
        untitled=untitled,
        extra={k: encodable(v) for k, v in {**(extra or {}), **(act.to_extra() if act else {})}.items()},
        body=clean_body(body),
    )
