"""Turning fetched bytes into text by what the bytes are, not only by what the headers claim.

Servers lie both ways: UTF-8 served as `charset=windows-1251` (mojibake РљСЂРµРјР»СЊ), windows-1251 declared as
UTF-8 or ISO-8859-1, ISO-8859-1 German that a Cyrillic-leaning guess turned into `kьndigt`. Order of evidence:
a BOM; bytes that are valid UTF-8 with non-ASCII in them (text in another encoding almost never is); then every
declared charset (header, XML declaration, <meta>) and the likely single-byte ones, plus charset-normalizer's own
guess, each decoded strictly and scored with charset-normalizer's mess ratio (mixed scripts inside words, odd
accents, control characters); the least messy wins, declarations first on a tie.
"""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.I)
_META = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9._-]+)", re.I)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_FALLBACKS = ("cp1251", "cp1252")
_SAMPLE = 64 * 1024  # scoring a sample keeps detection linear and cheap on a 10 MB body


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset=[\"']?\s*([A-Za-z0-9._-]+)", content_type, re.I)
    return m.group(1) if m else None


def _codec(name: str | None) -> str | None:
    """Python's canonical codec name, or None for unknown and for ones that are not text encodings."""
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _declared(content: bytes, content_type: str | None) -> list[str]:
    names = [header_charset(content_type)]
    head = content[:2048]
    for rx in (_XML_DECL, _META):
        m = rx.search(head)
        if m:
            names.append(m.group(1).decode("ascii"))
    out: list[str] = []
    for n in names:
        c = _codec(n)
        if c and c not in out:
            out.append(c)
    return out


def _detected(sample: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return _codec(best.encoding) if best is not None else None


def decode(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used); never raises (undecodable bytes become U+FFFD as a last resort)."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return content.decode(name, errors="replace"), name
    declared = _declared(content, content_type)
    wide = [d for d in declared if d.startswith(("utf-16", "utf-32"))]
    if not wide:
        if content.isascii():
            return content.decode("ascii"), "ascii"
        try:
            return content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    # charset_normalizer is imported for what is not UTF-8 or ASCII only: most feeds never need it
    from charset_normalizer.md import mess_ratio

    sample = content[:_SAMPLE]
    candidates = [*declared, "utf-8", *_FALLBACKS]
    best: tuple[float, int, str] | None = None
    for rank, name in enumerate(dict.fromkeys(candidates)):
        try:
            text = sample.decode(name)
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4 or name not in ("utf-8", "utf-16", "utf-32"):
                continue  # a multi-byte character cut by the sample end is not a failure
            text = sample[: exc.start].decode(name)
        except LookupError:
            continue
        score = mess_ratio(text, 1.0)
        if best is None or (score, rank) < best[:2]:
            best = (score, rank, name)
        if score == 0.0:
            break  # the first clean candidate in order of evidence
    if best is None or best[0] > 0.2:
        guess = _detected(sample)
        if guess and (best is None or mess_ratio(sample.decode(guess, errors="replace"), 1.0) < best[0]):
            best = (0.0, -1, guess)
    name = best[2] if best is not None else (declared[0] if declared else "utf-8")
    return content.decode(name, errors="replace"), name


def strip_xml_declaration(text: str) -> str:
    """After we decoded the bytes, a stale encoding declaration must not make the parser decode again."""
    return _XML_DECL_TEXT.sub("", text, count=1)
