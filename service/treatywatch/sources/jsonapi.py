"""`json`: any JSON API, given where the list is and where each field is; paged by a next-page URL in the body."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator

from ..errors import ParseError
from ..items import make_item
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode
from .identity import fetch_independent
from .mapped import act_and_extra, check_fields, value
from .safeparse import loads_bounded
from .selectors import json_path


class JsonConfig(SourceConfig):
    """Any JSON API: a dotted path to the list and one per field; an API that pages by a next-page URL in its body
    (the US Federal Register's `next_page_url`) is read back to known items, and a backlog across polls."""

    type: Literal["json"] = "json"
    items: str = Field(default="", description="Dotted path to the list of items ('' when the body is the list).")
    fields: dict[str, str] = Field(
        description="Field -> dotted path, or a template of paths in braces "
        "('http://publication.pravo.gov.ru/document/{eoNumber}'). id, title, link, published and summary make the "
        "item; act_date, number, doc_type, issuer, published_on and document_url are the act's typed fields "
        "(dates without a time stay calendar dates); any other name is kept with the item."
    )
    timezone: str = Field(default="UTC", description="Zone of dates written without one.")
    next_page: str | None = Field(
        default=None,
        description="Dotted path to the next page's URL in the body (next_page_url); the listing is then read "
        "newest first, up to max_pages a poll, back to items stored before.",
    )
    page_size: int = Field(default=20, ge=1, le=1000, description="Items per page (where a backlog walk looks).")
    max_pages: int = Field(default=1, ge=1, le=50, description="Pages one poll reads (with next_page).")

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        return check_fields(v)


def load_json(response: Response) -> object:
    """JSON is UTF-8 by its RFC, but servers add BOMs and lie: decode by what the bytes are, parse bounded."""
    text, _ = decode(response.content, response.headers.get("content-type"))
    return loads_bounded(text)


def next_link(base: str, raw: object) -> Request | None:
    """The next page's request from a URL the page gave (relative to it); none unless http(s)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        url = urljoin(base, raw.strip())
        return Request(url) if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:
        return None


class JsonSource:
    """Any JSON API: a dotted path to the list and one per field (or a template over fields)."""

    # a PagingSource (sources/base.py): page 1 is the configured URL, every other page the one the last linked to

    name: ClassVar[str] = "json"
    config_model: ClassVar[type[SourceConfig]] = JsonConfig

    def first_request(self, cfg: JsonConfig) -> Request:
        return Request(str(cfg.url))

    def page_request(self, cfg: JsonConfig, page: int) -> Request | None:
        return self.first_request(cfg) if page == 1 else None

    def pages(self, cfg: JsonConfig) -> bool:
        """Paged only when configured so; otherwise one request a poll, as before."""
        return cfg.next_page is not None

    def paging(self, cfg: JsonConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages if cfg.next_page else 1

    def parse(self, cfg: JsonConfig, request: Request, response: Response) -> Page:
        data = load_json(response)
        records = json_path(data, cfg.items)
        if not isinstance(records, list):
            raise ParseError(f"path '{cfg.items}' does not lead to a list")
        dates = DateFields(cfg.id, cfg.timezone)
        items = []
        for record in records[:MAX_ITEMS_PER_PAGE]:
            get = {name: value(record, spec, name) for name, spec in cfg.fields.items()}
            guid = str(get["id"]) if get.get("id") is not None else None
            act, extra = act_and_extra(get, cfg.timezone)
            item = make_item(
                cfg.id,
                title=str(get.get("title") or ""),
                link=str(get["link"]) if get.get("link") else None,
                summary=str(get.get("summary") or ""),
                published=dates.value(get.get("published")),
                guid=guid,
                language=cfg.language,
                base_url=response.url,
                extra=extra,
                act=act,
            )
            items.append(fetch_independent(item, response.url, guid, guid))
        dates.report()
        following = next_link(response.url, json_path(data, cfg.next_page)) if cfg.next_page else None
        return Page(items, following)
