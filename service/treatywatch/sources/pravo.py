"""`pravo`: the Russian official legal-information portal's JSON API (/api/Documents), with paging."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, HttpUrl, field_validator

from ..errors import ParseError
from ..items import make_item
from .base import Page, Request, Response, SourceConfig
from .dates import DateFields
from .jsonapi import load_json

DOCUMENT_TYPES = {
    "постановление": "fd5a8766-f6fd-4ac2-8fd9-66f414d314ac",
    "распоряжение": "7ff5b3b5-3757-44f1-bb76-3766cabe3593",
    "указ": "0790e34b-784b-4372-884e-3282622a24bd",
    "федеральный закон": "82a8bf1c-3bc7-47ed-827f-7affd43a7f27",
}
SIGNATORIES = {
    "правительство": "8005d8c9-4b6d-48d3-861a-2a37e69fccb3",
    "government": "8005d8c9-4b6d-48d3-861a-2a37e69fccb3",
    "президент": "225698f1-cfbc-4e42-9caa-32f9f7403211",
    "president": "225698f1-cfbc-4e42-9caa-32f9f7403211",
}
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _resolve(value: str, table: dict[str, str], what: str) -> str:
    if _GUID.match(value):
        return value.lower()
    guid = table.get(value.strip().lower())
    if guid is None:
        raise ValueError(f"unknown {what} '{value}'; use a GUID or one of: {', '.join(sorted(table))}")
    return guid


class PravoConfig(SourceConfig):
    type: Literal["pravo"] = "pravo"
    url: HttpUrl = Field(default=HttpUrl("http://publication.pravo.gov.ru"), description="Portal base URL.")
    block: str = Field(default="government", description="Portal block: government, president, ...")
    document_types: list[str] = Field(default_factory=list, description="Names (Распоряжение) or GUIDs.")
    signatory: str | None = Field(default=None, description="Signatory name (Правительство) or GUID.")
    page_size: Literal[10, 30, 100, 200] = 30
    max_pages: int = Field(default=5, ge=1, le=50, description="Stop paging after this many pages in one poll.")

    @field_validator("document_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return [_resolve(x, DOCUMENT_TYPES, "document type") for x in v]

    @field_validator("signatory")
    @classmethod
    def _signatory(cls, v: str | None) -> str | None:
        return _resolve(v, SIGNATORIES, "signatory") if v else None


class PravoSource:
    """The Russian official legal portal (publication.pravo.gov.ru) `/api/Documents`, paged until known items."""

    # a PagingSource (sources/base.py): newest first, paged by Index; the runner walks a backlog across polls

    name: ClassVar[str] = "pravo"
    config_model: ClassVar[type[SourceConfig]] = PravoConfig

    def page_request(self, cfg: PravoConfig, page: int) -> Request:
        params = [
            ("Block", cfg.block),
            ("PageSize", str(cfg.page_size)),
            ("Index", str(page)),
            ("SortedBy", "6"),
            ("SortDestination", "1"),
        ]
        params += [("DocumentTypes", guid) for guid in cfg.document_types]
        if cfg.signatory:
            params.append(("SignatoryAuthorityId", cfg.signatory))
        return Request(str(cfg.url).rstrip("/") + "/api/Documents", tuple(params), page)

    def first_request(self, cfg: PravoConfig) -> Request:
        return self.page_request(cfg, 1)

    def paging(self, cfg: PravoConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages

    def parse(self, cfg: PravoConfig, request: Request, response: Response) -> Page:
        data = load_json(response)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ParseError("pravo response has no 'items' list")
        base = str(cfg.url).rstrip("/")
        dates = DateFields(cfg.id, "Europe/Moscow")
        items = []
        for doc in data["items"]:
            eo = str(doc.get("eoNumber") or "").strip()
            if not eo:
                continue
            complex_name = " ".join(str(doc.get("complexName") or "").split())
            name = " ".join(str(doc.get("name") or "").split())
            items.append(
                make_item(
                    cfg.id,
                    title=name or complex_name or f"Документ {eo}",
                    link=f"{base}/document/{eo}",
                    summary=complex_name if name else "",
                    published=dates.text(str(doc.get("publishDateShort") or "")),
                    guid=eo,
                    language=cfg.language or "ru",
                    untitled=not name,
                    extra={
                        "pdf": f"{base}/file/pdf?eoNumber={eo}",
                        "number": str(doc.get("number") or ""),
                        "document_type": str(doc.get("documentTypeId") or ""),
                    },
                )
            )
        dates.report()
        pages = int(data.get("pagesTotalCount") or 1)
        # every page the portal has: the runner reads max_pages of them a poll and walks a backlog across polls
        return Page(items, self.page_request(cfg, request.page + 1) if request.page < pages else None)
