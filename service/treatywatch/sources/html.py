"""`html`: a list page without a feed, read with CSS selectors (selectolax)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..errors import ParseError
from ..items import make_item
from .base import Page, Request, Response, SourceConfig
from .dates import parse_date
from .encoding import decode
from .selectors import split_attr

FIELDS = ("title", "link", "published", "summary", "id")


class HtmlConfig(SourceConfig):
    type: Literal["html"] = "html"
    items: str = Field(description="CSS selector of one item on the list page, e.g. li.doc-item.")
    fields: dict[str, str] = Field(description="Field -> 'css' or 'css@attr'; title and link are required.")
    timezone: str = Field(default="UTC", description="Zone of dates written without one (Europe/Moscow).")

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; allowed: {', '.join(FIELDS)}")
        if "title" not in v:
            raise ValueError("'title' is required")
        return v


def _extract(node: LexborNode, spec: str) -> str | None:
    css, attr = split_attr(spec)
    target = node.css_first(css) if css else node
    if target is None:
        return None
    if attr:
        return target.attributes.get(attr)
    return target.text(separator=" ", strip=True)


class HtmlSource:
    """A list page without a feed, read with CSS selectors; `css@attr` takes an attribute."""

    name: ClassVar[str] = "html"
    config_model: ClassVar[type[SourceConfig]] = HtmlConfig

    def first_request(self, cfg: HtmlConfig) -> Request:
        return Request(str(cfg.url))

    def parse(self, cfg: HtmlConfig, request: Request, response: Response) -> Page:
        text, _ = decode(response.content, response.headers.get("content-type"))
        try:
            tree = LexborHTMLParser(text)
        except Exception as exc:  # selectolax raises plain exceptions on hopeless input
            raise ParseError(f"cannot parse HTML: {exc}") from exc
        items = []
        for node in tree.css(cfg.items):
            values = {name: _extract(node, spec) for name, spec in cfg.fields.items()}
            title = values.get("title")
            if not title and not values.get("summary"):
                continue
            items.append(
                make_item(
                    cfg.id,
                    title=title,
                    link=values.get("link"),
                    summary=values.get("summary"),
                    published=parse_date(values.get("published"), cfg.timezone),
                    guid=values.get("id"),
                    language=cfg.language,
                    base_url=response.url,
                )
            )
        return Page(items)
