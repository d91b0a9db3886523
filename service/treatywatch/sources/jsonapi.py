"""`json`: any JSON API, given where the list is and where each field is."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..errors import ParseError
from ..items import make_item
from .base import MAX_ITEMS_PER_PAGE, Page, Request, Response, SourceConfig
from .dates import DateFields
from .encoding import decode
from .identity import fetch_independent
from .safeparse import loads_bounded
from .selectors import json_path


class JsonConfig(SourceConfig):
    type: Literal["json"] = "json"
    items: str = Field(default="", description="Dotted path to the list of items ('' when the body is the list).")
    fields: dict[str, str] = Field(description="Field (id, title, link, published, summary) -> dotted path.")
    timezone: str = Field(default="UTC", description="Zone of dates written without one.")


def load_json(response: Response) -> object:
    """JSON is UTF-8 by its RFC, but servers add BOMs and lie: decode by what the bytes are, parse bounded."""
    text, _ = decode(response.content, response.headers.get("content-type"))
    return loads_bounded(text)


class JsonSource:
    """Any JSON API: a dotted path to the list and one per field."""

    name: ClassVar[str] = "json"
    config_model: ClassVar[type[SourceConfig]] = JsonConfig

    def first_request(self, cfg: JsonConfig) -> Request:
        return Request(str(cfg.url))

    def parse(self, cfg: JsonConfig, request: Request, response: Response) -> Page:
        records = json_path(load_json(response), cfg.items)
        if not isinstance(records, list):
            raise ParseError(f"path '{cfg.items}' does not lead to a list")
        dates = DateFields(cfg.id, cfg.timezone)
        items = []
        for record in records[:MAX_ITEMS_PER_PAGE]:
            get = {name: json_path(record, path) for name, path in cfg.fields.items()}
            guid = str(get["id"]) if get.get("id") is not None else None
            item = make_item(
                cfg.id,
                title=str(get.get("title") or ""),
                link=str(get["link"]) if get.get("link") else None,
                summary=str(get.get("summary") or ""),
                published=dates.value(get.get("published")),
                guid=guid,
                language=cfg.language,
                base_url=response.url,
            )
            items.append(fetch_independent(item, response.url, guid, guid))
        dates.report()
        return Page(items)
