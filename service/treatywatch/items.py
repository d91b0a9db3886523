"""The Item every source produces: normalised text, canonical link, UTC date, identity key and content hash."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_TRACKING = ("utm_", "fbclid", "gclid", "yclid", "mc_cid", "mc_eid")


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

    @property
    def content_hash(self) -> str:
        """Changes when what a reader sees changes, so an updated item is offered to matching again."""
        h = hashlib.sha256()
        for part in (self.title, self.summary, self.link, (self.untitled and "1") or "0"):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:32]

    def with_(self, **changes: object) -> Item:
        return replace(self, **changes)  # type: ignore[arg-type]


def encodable(value: str) -> str:
    """Lone surrogates (a JSON "\\ud800") cannot be hashed, stored or sent: they become U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def clean_text(value: str | None) -> str:
    """Feed text to plain text: tags dropped, entities decoded, NFC, whitespace collapsed."""
    if not value:
        return ""
    text = _TAGS.sub(" ", encodable(value))
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", text).strip()


def canonical_url(url: str | None, base: str | None = None) -> str:
    """Absolute URL without fragment and tracking parameters, lower-case host: the same story, the same link."""
    if not url:
        return ""
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_TRACKING)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def to_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; sources with a local zone convert before calling this."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def identity_key(guid: str | None, link: str | None, title: str, published: datetime | None) -> str:
    """guid, else canonical link, else a hash of title and date: stable across polls of the same item."""
    if guid and guid.strip():
        return guid.strip()
    if link:
        return canonical_url(link)
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
) -> Item:
    """The one place raw fields become an Item, so every source normalises the same way."""
    clean_title = clean_text(title)
    clean_link = canonical_url(encodable(link) if link else link, base_url)
    guid = encodable(guid) if guid else guid
    when = to_utc(published)
    return Item(
        source_id=source_id,
        key=identity_key(guid, clean_link, clean_title, when),
        title=clean_title,
        link=clean_link,
        summary=clean_text(summary),
        published=when,
        language=language,
        untitled=untitled,
        extra={k: encodable(v) for k, v in (extra or {}).items()},
    )
