"""`html`: a list page without a feed, read with CSS selectors (selectolax); paged by a page number in its URL."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator, model_validator
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..errors import ParseError
from ..items import make_item
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode
from .identity import fetch_independent
from .jsonapi import next_link
from .mapped import act_and_extra, check_fields, value
from .paging import PageNumbers, following, numbered
from .safeparse import refuse_deep_html
from .selectors import split_attr


class HtmlConfig(SourceConfig, PageNumbers):
    type: Literal["html"] = "html"
    items: str = Field(description="CSS selector of one item on the list page, e.g. li.doc-item.")
    fields: dict[str, str] = Field(
        description="Field -> 'css' or 'css@attr', or a template over the other fields ('https://example.org/acts/"
        "{id}'); title is required. id, title, link, published and summary make the item; act_date, number, "
        "doc_type, issuer, published_on and document_url are the act's typed fields; any other name is kept with "
        "the item."
    )
    timezone: str = Field(default="UTC", description="Zone of dates written without one (Europe/Moscow).")
    page_size: int = Field(default=20, ge=1, le=1000, description="Items per page (where a backlog walk looks).")
    next_link: str | None = Field(
        default=None,
        description="The next page's link on the page, 'css' or 'css@attr' (a.next, link[rel=next]@href): the "
        "listing is then read as with page_param.",
    )
    max_pages: int = Field(
        default=1, ge=1, le=50, description="Pages one poll reads (with page_param or next_link)."
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        check_fields(v)
        if "title" not in v:
            raise ValueError("'title' is required")
        return v

    @model_validator(mode="after")
    def _one_paging(self) -> HtmlConfig:
        if self.page_param is not None and self.next_link is not None:
            raise ValueError("page_param and next_link: a listing pages one way; keep one of them")
        return self


def _extract(node: LexborNode, spec: str) -> str | None:
    css, attr = split_attr(spec)
    target = node.css_first(css) if css else node
    if target is None:
        return None
    if attr:
        return target.attributes.get(attr)
    return target.text(separator=" ", strip=True)


def _next_page(tree: LexborHTMLParser, spec: str, base: str) -> Request | None:
    """The next page's request from the page's own link to it (an attribute, by default href); none at the end."""
    css, attr = split_attr(spec)
    node = tree.css_first(css) if css else None
    return next_link(base, node.attributes.get(attr or "href") if node is not None else None)


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    """The document's <base href> (itself relative to the page) when it is http(s); else the page's own URL."""
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip() if node is not None else ""
    if not href:
        return page_url
    try:
        resolved = urljoin(page_url, href)
        return resolved if urlsplit(resolved).scheme in ("http", "https") else page_url
    except ValueError:  # a base href urllib cannot read (a broken IPv6 host) is no base
        return page_url


# A list page is read up to here (cut before a tag): its newest items come first, and a parsed tree costs about
# 20 bytes of memory per character of dense markup, so a 9 MB page of 200,000 items took 408 MB.
MAX_HTML_CHARS = 3_000_000


def _head_of_page(text: str) -> str:
    if len(text) <= MAX_HTML_CHARS:
        return text
    cut = text.rfind("<", 0, MAX_HTML_CHARS)
    return text[: cut if cut > 0 else MAX_HTML_CHARS]


class HtmlSource:
    """A list page without a feed, read with CSS selectors; `css@attr` takes an attribute."""

    # a PagingSource (sources/base.py) when page_param or next_link is set: page n is the URL with its number, or
    # the page the one before linked to

    name: ClassVar[str] = "html"
    config_model: ClassVar[type[SourceConfig]] = HtmlConfig

    def first_request(self, cfg: HtmlConfig) -> Request:
        return Request(str(cfg.url))

    def page_request(self, cfg: HtmlConfig, page: int) -> Request | None:
        return numbered(cfg, page)

    def pages(self, cfg: HtmlConfig) -> bool:
        """Paged only when configured so; otherwise one request a poll, as before."""
        return cfg.page_param is not None or cfg.next_link is not None

    def paging(self, cfg: HtmlConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages if self.pages(cfg) else 1

    def parse(self, cfg: HtmlConfig, request: Request, response: Response) -> Page:
        text, _ = decode(response.content, response.headers.get("content-type"))
        text = _head_of_page(text)
        refuse_deep_html(text)
        try:
            tree = LexborHTMLParser(text)
        except Exception as exc:  # selectolax raises plain exceptions on hopeless input
            raise ParseError(f"cannot parse HTML: {exc}") from exc
        base = _base_url(tree, response.url)
        following_page = _next_page(tree, cfg.next_link, base) if cfg.next_link else None
        # Read the last item first and cut it out of the tree: an item nested in another (a hostile page nested
        # 5,000 deep) is then read once, not again inside each ancestor's text, which made the work quadratic.
        records = []
        for node in reversed(tree.css(cfg.items)[:MAX_ITEMS_PER_PAGE]):
            found = {name: _extract(node, spec) for name, spec in cfg.fields.items() if "{" not in spec}
            # a template over the fields read ('https://example.org/acts/{id}'), as the json type's
            records.append(found | {n: value(found, spec, n) for n, spec in cfg.fields.items() if "{" in spec})
            node.decompose()
        dates = DateFields(cfg.id, cfg.timezone)
        items = []
        for values in reversed(records):
            title = values.get("title")
            if not title and not values.get("summary"):
                continue
            act, extra = act_and_extra(values, cfg.timezone)
            item = make_item(
                cfg.id,
                title=title,
                link=values.get("link"),
                summary=values.get("summary"),
                published=dates.text(values.get("published")),
                guid=values.get("id"),
                language=cfg.language,
                base_url=base,
                extra=extra,
                act=act,
            )
            items.append(fetch_independent(item, response.url, values.get("id"), values.get("id")))
        dates.report()
        return Page(items, following_page or following(cfg, request, bool(records)))
