"""How a generic listing (json, html) names its pages, for the ListingReader (base.py): by a page number in its URL
(`page_param: page`), by a cursor its body gives (`cursor: meta.next_cursor`, sent back as `cursor_param`), or by
a next-page URL its body gives (json `next_page`). Page 1 is the configured URL in every mode."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator

from ..config.common import Strict
from .base import Request


def with_param(url: str, name: str, value: str) -> str:
    """The URL with its query parameter `name` set to `value`: in its place when the URL has it, else added last;
    the other parameters as they were."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    at = [i for i, (k, _) in enumerate(query) if k == name]
    if at:
        query[at[0]] = (name, value)
        query = [q for i, q in enumerate(query) if i not in at[1:]]
    else:
        query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


class PageNumbers(Strict):
    """Config keys of a listing paged by a number in its URL (a base of JsonConfig and HtmlConfig)."""

    page_param: str | None = Field(
        default=None,
        description="Query parameter of the page number (page): the listing is then read newest first, page by "
        "page up to max_pages a poll, back to items stored before, and a backlog across polls. Page 1 is the URL "
        "as configured; a page without items ends the listing.",
    )
    first_page: int = Field(default=1, ge=0, description="The number of the listing's first page (0 or 1).")

    @field_validator("page_param")
    @classmethod
    def _param(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or any(c in v for c in "&=#? ")):
            raise ValueError(f"page_param '{v}': a query parameter's name (page, p, pageIndex)")
        return v


def numbered(cfg: Any, page: int) -> Request | None:
    """Page `page` of a listing paged by number (None for another mode's pages after the first)."""
    url = str(cfg.url)
    if page == 1:
        return Request(url)
    if cfg.page_param is None:
        return None
    return Request(with_param(url, cfg.page_param, str(cfg.first_page + page - 1)), page=page)


def following(cfg: Any, request: Request, found_items: bool) -> Request | None:
    """The next page of a listing paged by number: there is one as long as a page holds items."""
    if cfg.page_param is None or not found_items:
        return None
    return numbered(cfg, request.page + 1)
