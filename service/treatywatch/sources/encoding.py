"""Turning fetched bytes into text when the declared charset is missing or wrong (windows-1251 feeds)."""

from __future__ import annotations

import codecs
import re

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.I)
_META = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9._-]+)", re.I)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset=[\"']?([A-Za-z0-9._-]+)", content_type, re.I)
    return m.group(1) if m else None


def _cyrillic_share(text: str) -> float:
    letters = [c for c in text if ord(c) > 127 and c.isalpha()]
    if not letters:
        return 0.0
    return sum("\u0400" <= c <= "\u04ff" for c in letters) / len(letters)


def decode(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used): BOM, then declared charsets that decode cleanly, then UTF-8, then a guess
    between windows-1251 and windows-1252 by which one yields letters of one script."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return content.decode(name, errors="replace"), name
    declared = [header_charset(content_type)]
    head = content[:2048]
    for rx in (_XML_DECL, _META):
        m = rx.search(head)
        if m:
            declared.append(m.group(1).decode("ascii"))
    for name in [*(d for d in declared if d), "utf-8"]:
        try:
            text = content.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        # A cp1252/latin-1 declaration over Russian bytes decodes "cleanly" into mojibake; check the script.
        if name.lower().replace("_", "-") in ("iso-8859-1", "latin-1", "windows-1252", "cp1252"):
            alt = content.decode("cp1251", errors="replace")
            if _cyrillic_share(alt) > 0.8 and _cyrillic_share(text) < 0.2:
                return alt, "cp1251"
        return text, name
    alt = content.decode("cp1251", errors="replace")
    if _cyrillic_share(alt) > 0.6:
        return alt, "cp1251"
    return content.decode("cp1252", errors="replace"), "cp1252"


def strip_xml_declaration(text: str) -> str:
    """After we decoded the bytes, a stale encoding declaration must not make the parser decode again."""
    return _XML_DECL_TEXT.sub("", text, count=1)
