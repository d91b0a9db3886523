"""`json`: any JSON API, given where the list is and where each field is; paged by a next-page URL or a cursor in
the body, or by a page number in the URL."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator, model_validator

from ..errors import ParseError
from ..items import make_item
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode
from .identity import fetch_independent
from .mapped import act_and_extra, check_fields, value
from .paging import PageNumbers, following, numbered, with_param
from .safeparse import loads_bounded
from .selectors import json_path


class JsonConfig(SourceConfig, PageNumbers):
    """Any JSON API: a dotted path to the list and one per field; an API that pages, by a next-page URL in its body
    (the US Federal Register's `next_page_url`), a cursor in its body or a page number in its URL, is read back to
    known items, and a backlog across polls."""

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
    cursor: str | None = Field(
        default=None,
        description="Dotted path to the next page's cursor in the body (meta.next_cursor): the next page is the "
        "URL with cursor_param set to it; read as with next_page.",
    )
    cursor_param: str = Field(default="cursor", description="Query parameter that takes the cursor.")
    page_size: int = Field(default=20, ge=1, le=1000, description="Items per page (where a backlog walk looks).")
    max_pages: int = Field(
        default=1, ge=1, le=50, description="Pages one poll reads (with next_page, cursor or page_param)."
    )

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        return check_fields(v)

    @model_validator(mode="after")
    def _one_paging(self) -> JsonConfig:
        modes = [k for k in ("next_page", "cursor", "page_param") if getattr(self, k) is not None]
        if len(modes) > 1:
            raise ValueError(f"{' and '.join(modes)}: a listing pages one way; keep one of them")
        return self


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

    # a PagingSource (sources/base.py): page 1 is the configured URL; page n the URL with its number, or the one the
    # page before linked to (next_page) or named by its cursor

    name: ClassVar[str] = "json"
    config_model: ClassVar[type[SourceConfig]] = JsonConfig

    def first_request(self, cfg: JsonConfig) -> Request:
        return Request(str(cfg.url))

    def page_request(self, cfg: JsonConfig, page: int) -> Request | None:
        return numbered(cfg, page)

    def pages(self, cfg: JsonConfig) -> bool:
        """Paged only when configured so; otherwise one request a poll, as before."""
        return any(mode is not None for mode in (cfg.next_page, cfg.cursor, cfg.page_param))

    def paging(self, cfg: JsonConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages if self.pages(cfg) else 1

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
        return Page(items, self._next(cfg, request, data, response.url, bool(records)))

    def _next(self, cfg: JsonConfig, request: Request, data: object, url: str, found: bool) -> Request | None:
        """The next page's request, in the listing's own mode; None at its end (or when it does not page)."""
        if cfg.next_page:
            return next_link(url, json_path(data, cfg.next_page))
        if cfg.cursor:
            token = json_path(data, cfg.cursor)
            if token is None or isinstance(token, (dict, list, bool)) or not str(token).strip() or not found:
                return None
            return Request(with_param(str(cfg.url), cfg.cursor_param, str(token)), page=request.page + 1)
        return following(cfg, request, found)
