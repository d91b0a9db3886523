"""`feed`: RSS 0.9x/1.0/2.0, Atom and JSON Feed through feedparser, on bytes we fetched ourselves."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import ClassVar, Literal

import feedparser

from ..errors import ParseError
from ..items import make_item
from .base import Page, Request, Response, SourceConfig
from .encoding import decode, strip_xml_declaration


class FeedConfig(SourceConfig):
    type: Literal["feed"] = "feed"


def _when(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


class FeedSource:
    name: ClassVar[str] = "feed"
    config_model: ClassVar[type[SourceConfig]] = FeedConfig

    def first_request(self, cfg: FeedConfig) -> Request:
        return Request(str(cfg.url))

    def parse(self, cfg: FeedConfig, request: Request, response: Response) -> Page:
        content_type = response.headers.get("content-type", "")
        if response.content.lstrip()[:1] in (b"{", b"["):
            parsed = feedparser.parse(response.content, response_headers={"content-type": "application/json"})
        else:
            text, _ = decode(response.content, content_type)
            parsed = feedparser.parse(strip_xml_declaration(text))
        if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
            cause = parsed.get("bozo_exception")
            raise ParseError(f"not a feed ({type(cause).__name__ if cause else 'no entries'}: {cause})")
        language = cfg.language or (parsed.feed.get("language") or "")[:2].lower() or None
        items = []
        for entry in parsed.entries:
            link = entry.get("link")
            items.append(
                make_item(
                    cfg.id,
                    title=entry.get("title") or "",
                    link=link,
                    summary=entry.get("summary") or entry.get("description") or "",
                    published=_when(entry),
                    guid=entry.get("id") if entry.get("id") != link else None,
                    language=language,
                    base_url=response.url,
                )
            )
        return Page(items)
