"""Cleaning of page text: one spacing for both sources of text, and the repairs that OCR output needs.

Line structure is kept (explanations cite "page 2, line 14"): a word hyphenated across a line end is joined on the
first line and the next line keeps the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\u200c\u200d\ufeff]")
# a word broken at the line end: letters, then a hyphen (ASCII, Unicode hyphens, soft hyphen, OCR's "¬")
_BROKEN = re.compile(r"([^\W\d_]{2,})[-\u2010\u2011\u00ad\u00ac]$")
# the rest of that word at the next line's start: lowercase letters and any punctuation glued to them
_REST = re.compile(r"([^\W\d_]+[.,;:!?)\]»\"']*)\s*")
_WORD = re.compile(r"[^\W\d_]+")
# Latin letters that look like Cyrillic ones: OCR with rus+eng mixes them inside one Russian word
_HOMOGLYPHS = str.maketrans("aceopxyABCEHKMOPTX", "асеорхуАВСЕНКМОРТХ")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# marks a scan's dust and edges become: never in an act's text (acts quote with "" or «»)
_STRAY = str.maketrans({"`": " ", "|": " ", "¦": " ", "\u2018": " ", "\u201a": " ", "\u00b4": " "})
# a lone mark of one to three symbols at a line's start or end ("года; :", "• О прекращении"); dashes, brackets,
# quotes and "№" are text and stay
_MARK = r"[^\w\s\-\u2013\u2014«»()\[\]\"№§]{1,3}"
_EDGE_JUNK = re.compile(rf"^(?:{_MARK}\s+)+|(?:\s+{_MARK})+$")
_OPEN_QUOTE = re.compile(r"^\u201e(?!.*[\u201c\u201d])")  # „ opening a line and never closed on it: a dust mark
_LATIN = re.compile(r"[A-Za-z]")


def normalise(text: str) -> str:
    """Spaces collapsed, control characters and form feeds gone (a form feed separates pages in a body)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):  # at most one blank line in a row
            out.append(line)
    return "\n".join(out)


def _fix_script(word: str) -> str:
    """A mostly Cyrillic word with Latin look-alikes inside gets them in Cyrillic ("Pоссийской" → "Российской")."""
    cyr = len(_CYRILLIC.findall(word))
    if not cyr:
        return word
    lat = len(_LATIN.findall(word))
    if not lat or lat > cyr:
        return word
    return word.translate(_HOMOGLYPHS)


def dehyphenate(lines: list[str], is_word: Callable[[str], bool] | None = None) -> list[str]:
    """Join a word broken across a line end onto the first line; the next line keeps the rest.

    A capitalised continuation is a name pair ("Нью-" / "Йорк") and stays as it is. Where `is_word` knows the
    hyphenated form ("военно-техническом", "российско-индийского") the hyphen is the word's own and is kept.
    """
    out = list(lines)
    for i in range(len(out) - 1):
        broken = _BROKEN.search(out[i])
        if not broken:
            continue
        # OCR may see a paragraph break after the hyphen; no paragraph ends in one, so the word goes on below it
        nxt = i + 2 if not out[i + 1] and i + 2 < len(out) else i + 1
        rest = _REST.match(out[nxt])
        if not rest or not rest.group(1)[0].islower():
            continue
        left, right = broken.group(1), rest.group(1)
        word = _WORD.match(right)
        compound = word is not None and is_word is not None and is_word(f"{left}-{word.group(0)}".lower())
        out[i] = out[i][: broken.end(1)] + ("-" if compound else "") + right
        out[nxt] = out[nxt][rest.end() :]
    return out


def clean_ocr(text: str, is_word: Callable[[str], bool] | None = None) -> str:
    """Tesseract's page text, made fit for matching: spacing, look-alike letters, words broken at line ends
    (`is_word` tells a compound's own hyphen from a line-end one)."""
    text = normalise(text.translate(_STRAY))
    text = _WORD.sub(lambda m: _fix_script(m.group(0)), text)
    lines = [_OPEN_QUOTE.sub("", _EDGE_JUNK.sub("", line)).strip() for line in text.split("\n")]
    return "\n".join(dehyphenate(lines, is_word))


def meaningful_letters(text: str) -> int:
    """Letters in a text layer, or 0 when it is mostly unmapped glyphs (a font without a Unicode map)."""
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return 0
    junk = sum(1 for ch in visible if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff" or ord(ch) < 32)
    if junk * 10 > len(visible):
        return 0
    return sum(1 for ch in visible if ch.isalpha())
