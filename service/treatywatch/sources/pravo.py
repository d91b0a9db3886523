"""`pravo`: the Russian official legal-information portal's JSON API (/api/Documents), with paging."""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field, HttpUrl, PrivateAttr, field_validator

from ..errors import ParseError
from ..items import ActFields, make_item
from .base import Page, Request, Response, SourceConfig
from .dates import DateFields
from .jsonapi import load_json
from .pravo_dicts import (
    BLOCKS,
    BUNDLED,
    DOCUMENT_TYPES,
    ISSUER_HEADS,
    PATHS,
    SIGNATORY_ALIASES,
    Dictionaries,
    read_dictionary,
    with_portals,
)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_TYPES = {name.lower(): guid for name, guid in DOCUMENT_TYPES.items()}
# "<type> <issuer> от DD.MM.YYYY № <number>" opens every complexName
_HEAD = re.compile(r"^(?P<head>.+?)\s+от\s+(?P<date>\d{2}\.\d{2}\.\d{4})\s+№\s*(?P<number>\S+)")


def _unknown(value: str, names: list[str], what: str, guid: bool = True) -> ValueError:
    near = difflib.get_close_matches(value.strip().lower(), names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
    either = "a GUID or one of" if guid else "one of"
    return ValueError(f"unknown {what} '{value}'; {hint}use {either}: {', '.join(sorted(names))}")


def _resolve(value: str, table: dict[str, str], what: str) -> str:
    if _GUID.match(value):
        return value.lower()
    guid = table.get(" ".join(value.split()).lower())
    if guid is None:
        raise _unknown(value, list(table), what)
    return guid


def block_code(value: str) -> str:
    """A block by its code (international) or the portal's name for it (Международные договоры Российской
    Федерации), as the code the API takes."""
    wanted = " ".join(value.split()).lower()
    for code, name in BLOCKS.items():
        if wanted in (code, name.lower()):
            return code
    raise _unknown(value, list(BLOCKS), "block", guid=False)


def official_title(text: str) -> str:
    """The act's official title as a desk reads it: whitespace collapsed, straight and German quotes as «»
    (opening after a space or bracket, closing elsewhere), and the closing quotes the portal drops at the end of
    nested quotations ("О развитии общества "Корпорация") put back."""
    words = " ".join(text.split())
    out, depth = [], 0
    for i, ch in enumerate(words):
        if ch in '"„“”«»':
            opening = ch in "«„" or (ch not in "»”" and (i == 0 or words[i - 1] in " ([«"))
            if opening:
                depth += 1
            elif depth:
                depth -= 1
            out.append("«" if opening else "»")
        else:
            out.append(ch)
    return "".join(out) + "»" * depth


def _bare(text: str) -> str:
    return " ".join(re.sub(r"[\"„“”«»]", " ", text).split()).lower()


def with_name(complex_name: str, name: str) -> str:
    """complexName, with the act's name quoted after it when it lacks it: the portal lists some acts before their
    name is set in complexName (an item then changes title when the name comes, and is matched again)."""
    if not name or _bare(name) in _bare(complex_name):
        return complex_name
    return f'{complex_name} "{name}"' if complex_name.strip() else name


def issuer_name(phrase: str) -> str:
    """The issuer as the portal's dictionary names it: the title writes it in the genitive ("Распоряжение
    Правительства Российской Федерации"); the heads every portal issuer starts with are put in the nominative
    ("Правительство Российской Федерации"), the words after them stay as they are. An unknown head stays as written."""
    words = phrase.split()
    for n in (2, 1):
        head = " ".join(words[:n]).lower()
        if len(words) >= n and head in ISSUER_HEADS:
            return " ".join([ISSUER_HEADS[head], *words[n:]])
    return phrase


def portal_date(raw: object) -> date | None:
    """A portal date ("2026-01-17T00:00:00", midnight Moscow) as the calendar date it means."""
    try:
        return date.fromisoformat(str(raw or "")[:10])
    except ValueError:
        return None


def act_fields(doc: dict[str, Any], title: str, base: str, dicts: Dictionaries = BUNDLED) -> ActFields:
    """Type, issuer, number and dates of one list item: the number and date as the portal gives them, the type
    and the issuer by their GUIDs in the portal's dictionaries; a GUID they lack, as the title names it."""
    eo = str(doc.get("eoNumber") or "").strip()
    head = _HEAD.match(title)
    lead = head.group("head") if head else ""
    doc_type = dicts.name("types", str(doc.get("documentTypeId") or ""))
    if not doc_type:  # a type the dictionary does not hold: the longest one the title opens with
        doc_type = max((n for n in dicts.types if lead.lower().startswith(n.lower())), key=len, default="")
    issuer = dicts.name("signatories", str(doc.get("signatoryAuthorityId") or ""))
    if not issuer and lead.lower().startswith(doc_type.lower()):
        issuer = issuer_name(lead[len(doc_type) :].strip())
    number = str(doc.get("number") or "").strip() or (head.group("number") if head else "")
    act_date = portal_date(doc.get("documentDate"))
    if act_date is None and head:
        day, month, year = head.group("date").split(".")
        act_date = date(int(year), int(month), int(day))
    return ActFields(
        act_date=act_date,
        number=number,
        doc_type=doc_type or (lead.split()[0] if lead else ""),
        issuer=issuer,
        published_on=portal_date(doc.get("publishDateShort")),
        document_url=f"{base}/file/pdf?eoNumber={eo}",
    )


class PravoConfig(SourceConfig):
    """The portal's `/api/Documents` for one block, optionally narrowed to document types and a signatory."""

    type: Literal["pravo"] = "pravo"
    url: HttpUrl = Field(
        default=HttpUrl("http://publication.pravo.gov.ru"),
        description="Portal base URL (plain http: https is refused).",
    )
    block: str = Field(
        default="government",
        description="Portal block, by code or by the portal's name: " + ", ".join(BLOCKS) + ".",
    )
    document_types: list[str] = Field(
        default_factory=list,
        description="Document types by the portal's name (Распоряжение, Международный договор, Соглашение) or GUID.",
    )
    signatory: str | None = Field(
        default=None,
        description="Signatory by the portal's name (Правительство Российской Федерации, Министерство иностранных "
        "дел Российской Федерации) or GUID; names resolve through the portal's dictionary, fetched daily.",
    )
    page_size: Literal[10, 30, 100, 200] = Field(default=30, description="Acts per page: the portal takes these.")
    max_pages: int = Field(default=5, ge=1, le=50, description="Stop paging after this many pages in one poll.")

    @field_validator("block")
    @classmethod
    def _block(cls, v: str) -> str:
        return block_code(v)

    @field_validator("document_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return [_resolve(x, _TYPES, "document type") for x in v]

    _dicts: Dictionaries | None = PrivateAttr(default=None)

    @field_validator("signatory")
    @classmethod
    def _signatory(cls, v: str | None) -> str | None:
        """A GUID, or a name: the bundled dictionary's resolves now, any other at the poll, through the portal's."""
        if not v or not v.strip():
            return None
        name = " ".join(v.split())
        return BUNDLED.guid("signatories", name) or SIGNATORY_ALIASES.get(name.lower()) or name

    def dictionaries(self) -> Dictionaries:
        """The portal's dictionaries as the runner last read them (PravoSource.bind), else the bundled copy."""
        return self._dicts or BUNDLED

    def signatory_guid(self) -> str | None:
        """The signatory's GUID; ParseError (the source's error, shown in its health) for a name the portal's
        dictionary does not hold."""
        if self.signatory is None or _GUID.match(self.signatory):
            return self.signatory
        dicts = self.dictionaries()
        guid = dicts.guid("signatories", self.signatory)
        if guid is None:
            near = dicts.near("signatories", self.signatory)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            held = (
                "the portal's dictionary"
                if "signatories" in dicts.read
                else "the bundled dictionary (the portal's is not read yet)"
            )
            raise ParseError(f"signatory '{self.signatory}' is not in {held}{hint}")
        return guid


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
        signatory = cfg.signatory_guid()
        if signatory:
            params.append(("SignatoryAuthorityId", signatory))
        return Request(str(cfg.url).rstrip("/") + "/api/Documents", tuple(params), page)

    # a ReferenceSource (sources/base.py): the portal's dictionaries, fetched and kept a day by the runner

    def references(self, cfg: PravoConfig) -> dict[str, Request]:
        return {what: Request(str(cfg.url).rstrip("/") + path) for what, path in PATHS.items()}

    def reference(self, name: str, response: Response) -> dict[str, str]:
        if response.content.lstrip()[:1] == b"<":
            raise ParseError(f"the portal answered {PATHS[name]} with its site's HTML page, not the API's JSON")
        return read_dictionary(name, load_json(response))

    def bind(self, cfg: PravoConfig, references: dict[str, Any]) -> PravoConfig:
        bound = cfg.model_copy()
        bound._dicts = with_portals(references)
        return bound

    def first_request(self, cfg: PravoConfig) -> Request:
        return self.page_request(cfg, 1)

    def paging(self, cfg: PravoConfig) -> tuple[int, int]:
        return cfg.page_size, cfg.max_pages

    def parse(self, cfg: PravoConfig, request: Request, response: Response) -> Page:
        if response.content.lstrip()[:1] == b"<":
            raise ParseError(
                "the portal answered with its site's HTML page, not the API's JSON (is url the portal's root?)"
            )
        data = load_json(response)
        if isinstance(data, dict) and isinstance(data.get("message"), str) and "items" not in data:
            raise ParseError(f"the portal said: {' '.join(data['message'].split())}")
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ParseError("pravo response has no 'items' list")
        base = str(cfg.url).rstrip("/")
        dates = DateFields(cfg.id, "Europe/Moscow")
        items = []
        for doc in data["items"]:
            eo = str(doc.get("eoNumber") or "").strip()
            if not eo:
                continue
            name = " ".join(str(doc.get("name") or "").split())
            title = official_title(with_name(str(doc.get("complexName") or ""), name))
            items.append(
                make_item(
                    cfg.id,
                    title=title or name or f"Документ {eo}",
                    link=f"{base}/document/{eo}",
                    published=dates.text(str(doc.get("publishDateShort") or "")),
                    guid=eo,
                    language=cfg.language or "ru",
                    untitled=not name,  # listed before its name is: the title changes when it comes
                    extra={
                        "document_type_id": str(doc.get("documentTypeId") or ""),
                        "signatory_id": str(doc.get("signatoryAuthorityId") or ""),
                    },
                    act=act_fields(doc, title, base, cfg.dictionaries()),
                )
            )
        dates.report()
        pages = int(data.get("pagesTotalCount") or 1)
        # every page the portal has: the runner reads max_pages of them a poll and walks a backlog across polls
        return Page(items, self.page_request(cfg, request.page + 1) if request.page < pages else None)
