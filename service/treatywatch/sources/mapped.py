"""Fields an operator maps from a listing (json, and presets built on it): the item's own (id, title, link,
published, summary), the act's typed ones (act_date, number, doc_type, issuer, published_on, document_url), and any
other name, kept with the item. Values come from a dotted path or a template of paths ('…/document/{eoNumber}')."""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from ..items import ActFields, clean_text
from .dates import parse_date
from .selectors import json_path

ITEM_FIELDS = ("id", "title", "link", "published", "summary")
ACT_FIELDS = ("act_date", "number", "doc_type", "issuer", "published_on", "document_url")
LINK_FIELDS = ("link", "document_url")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# a mapped field beyond the item's and the act's is a short value (a number, an agency, a code)
EXTRA_MAX_CHARS = 500
_BARE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# what a value put in a link keeps as it is; anything else (a space, a quote, a bracket) is percent-encoded
_URL_SAFE = ":/?#@!$&'()*+,;=%~"


def check_names(fields: dict[str, str]) -> None:
    """Field names are identifiers (they name the item's extra fields); a name a letter or two off one of the
    item's or the act's fields is a typo of it, not a field of its own."""
    for name in fields:
        if not FIELD_NAME.match(name):
            raise ValueError(f"field name '{name}': lower-case letters, digits and _ only")
        known = ITEM_FIELDS + ACT_FIELDS
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.8) if name not in known else []
        if near:
            raise ValueError(
                f"unknown field '{name}'; did you mean '{near[0]}'? (fields: {', '.join(known)}; "
                "any other name is kept with the item)"
            )


def check_fields(fields: dict[str, str]) -> dict[str, str]:
    """`check_names`, and a template's braces are balanced."""
    check_names(fields)
    for name, spec in fields.items():
        if spec.count("{") != spec.count("}"):
            raise ValueError(f"field '{name}': unbalanced braces in template '{spec}'")
    return fields


def value(record: Any, spec: str, name: str) -> Any:
    """A field of one record: the value at a dotted path, or a template with each {path} filled in (a link's
    values percent-encoded, so a value cannot end or change the URL around it). A template whose paths all miss
    gives None, as a missing path does."""
    if "{" not in spec:
        return json_path(record, spec)
    found = False

    def fill(m: re.Match[str]) -> str:
        nonlocal found
        v = json_path(record, m.group(1).strip())
        if v is None or isinstance(v, (dict, list)):
            return ""
        found = True
        return quote(str(v), safe=_URL_SAFE) if name in LINK_FIELDS else str(v)

    text = _PLACEHOLDER.sub(fill, spec)
    return text if found else None


def calendar_date(raw: Any, tz: str) -> date | None:
    """A date as the source means it: "2026-09-14" (or its midnight without a zone) is that day; a date with a time
    and a zone is that instant's date in the source's zone."""
    if raw is None or isinstance(raw, (bool, dict, list)):
        return None
    text = str(raw).strip()
    bare = _BARE_DATE.match(text)
    if bare:
        try:
            return date.fromisoformat(bare.group(1))
        except ValueError:
            return None
    when = parse_date(text, tz)
    return when.astimezone(ZoneInfo(tz)).date() if when is not None else None


def act_and_extra(values: dict[str, Any], tz: str) -> tuple[ActFields | None, dict[str, str]]:
    """The act's typed fields among the mapped values (None when none is mapped) and the other fields as text."""
    act = None
    if any(values.get(n) not in (None, "") for n in ACT_FIELDS):

        def text(n: str) -> str:
            v = values.get(n)
            return "" if v is None or isinstance(v, (dict, list)) else str(v)

        act = ActFields(
            act_date=calendar_date(values.get("act_date"), tz),
            number=text("number"),
            doc_type=text("doc_type"),
            issuer=text("issuer"),
            published_on=calendar_date(values.get("published_on"), tz),
            document_url=text("document_url"),
        )
    extra = {
        n: clean_text(v if isinstance(v, str) else str(v), EXTRA_MAX_CHARS)
        for n, v in values.items()
        if n not in ITEM_FIELDS and n not in ACT_FIELDS and v is not None and not isinstance(v, (dict, list))
    }
    return act, extra
