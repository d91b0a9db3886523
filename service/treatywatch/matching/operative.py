"""An act's operative part: the clause that terminates, suspends or denounces, and the agreements it lists.

A government act reads "1. Прекратить действие следующих соглашений:" and then a list, one agreement an entry
("Соглашение между Правительством Российской Федерации и Правительством Республики Болгария о военном
сотрудничестве, подписанное …;"), or names one agreement after the verb. Its title may name none of them. The verb
of an operative clause is a termination or suspension term (the shipped vocabularies and the operator's sets of
those names) written as an order: in its dictionary form (infinitive, imperative) at the start of a clause (the
start of a point, a sentence or what follows a colon). "Каждая из Сторон может прекратить действие настоящего
Соглашения" in a ratified treaty's text is not one (the verb is not where a clause starts), nor is "Прекращение
действия Соглашения не затрагивает …" (a noun). Pure text work: values in, values out.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from .compiled import CNode
from .doc import Doc, page_line
from .explain import Hit
from .text import date_pattern
from .voice import Phrase

# Enumerators that open a point or a list entry at the start of a line: 1. 1) (1) а) (a) IV. - – — •
_ENUMERATOR = re.compile(
    r"[ \t]*(?:(?P<num>\(?\d{1,3}(?:\.\d{1,3})*[.)])|(?P<letter>\(?[^\W\d_][)])|(?P<roman>\(?[IVXLC]{1,6}[.)])"
    r"|(?P<dash>[-–—•·]))[ \t]+"
)
# a running page number or header line ("2", "- 2 -"): not text of the entry it interrupts
_PAGE_NUMBER = re.compile(r"\s*[-–—]?\s*\d{1,4}\s*[-–—]?\s*")
# what OCR makes of an enumerator it could not read ("1." read as "т.", "Ls", "iJ", ":Р", "a Be"): one or two
# groups of up to three marks opening a line before a capitalised word
_DAMAGED_ENUMERATOR = re.compile(r"[ \t]*(?:\S{1,3}[ \t]+){1,2}")
# an article's heading on a line of its own ("Статья 1", "Article 1er", "Artigo 1.º", "Artikel 2", "Section IV"):
# the line after it starts a clause ("Статья 1\nДенонсировать Соглашение …", a denunciation law's whole shape)
_HEADING = re.compile(r"[ \t]*[^\W\d_]{3,20}\.?[ \t]+(?:\d{1,3}|[IVXLC]{1,6})(?:[^\W\d_]{1,2}|\.?[º°])?\.?[ \t]*")
HEADING_REACH = 40  # characters of the line before a clause read for a heading
# the fewest letters of an entry: less after a list's colon is a speck OCR read as a letter ("соглашений: р")
MIN_ENTRY_LETTERS = 4
_WORD_BEFORE = re.compile(r"([^\W_]+)\W*$")
_YEAR_ABBREVIATION = re.compile(r"\b\d{4}\s*[^\W\d_]{1,2}\.$")
_WORD_START = re.compile(r"\b[^\W\d_]")
NAME_REACH = 40  # characters from a single-entry clause's verb to the agreement's name
_SENTENCE_END = re.compile(r"\.(?=\s+[^\W\d_])")
_DAY_BEFORE = re.compile(r"(?<!\d)\d{1,2}$")
_CLAUSE_MARK = re.compile(r"[.:;]|[\n\f]")
MAX_ENTRIES = 300  # per clause; a real act lists a few dozen at most
MAX_CLAUSES = 100  # per body: an act has a few operative points
MAX_VERBS = 1_000  # termination verbs looked at as clauses' openings, per body
MAX_CLAUSE_CHARS = 60_000  # a list past this is cut: bounded work on any body
MAX_ENTRY_CHARS = 3_000  # an agreement's title with its place and date of signing is a few hundred
WORD_REACH = 80  # characters back from a full stop to the word before it
ENUMERATOR_REACH = 16  # an enumerator and its spaces at a line's start ("(iv) ", "12.3. ")
ABBREVIATION_MAX = 2  # "г.", "ст.", "No.": a shorter word before a full stop does not end a sentence


@dataclass(frozen=True)
class Entry:
    """One agreement the clause lists: characters start..end of the body, where a reader finds it."""

    start: int
    end: int
    page: int
    line: int
    text: str  # one line of text: the entry's line breaks and page breaks are spaces

    def where(self) -> str:
        return f"body p. {self.page}, line {self.line}"


@dataclass(frozen=True)
class Clause:
    """An operative clause: its verb (a hit in the body's Doc) and the entries it governs."""

    verb: Hit
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class _Line:
    start: int
    end: int


def _lines(body: str) -> list[_Line]:
    """The body's lines, pages' ends being line ends too."""
    out, start = [], 0
    for m in re.finditer(r"[\n\f]", body):
        out.append(_Line(start, m.start()))
        start = m.end()
    out.append(_Line(start, len(body)))
    return out


def _enumerator(text: str) -> tuple[str, int | None, int] | None:
    """(kind, number, length) of an enumerator opening a line; the number of "3." or "3)" counts the entries."""
    m = _ENUMERATOR.match(text)
    if not m:
        return None
    kind = m.lastgroup or ""
    number: int | None = None
    if kind == "num":
        token = m.group("num")
        kind = "num" + token[-1] + ("(" if token.startswith("(") else "")
        number = int(re.split(r"\D", token.lstrip("("))[0])
    return kind, number, m.end()


def _ends_sentence(text: str) -> bool:
    """A full stop that ends the entry: not after an abbreviation (г., ст.)."""
    text = text[-WORD_REACH:].rstrip()  # the word before the stop is all that counts
    if not text.endswith("."):
        return False
    before = _WORD_BEFORE.search(text[:-1])
    if before is None or len(before.group(1)) > ABBREVIATION_MAX or before.group(1).isdigit():
        return True
    return bool(_YEAR_ABBREVIATION.search(text))  # "… 1996 г.": a date, the last words of an agreement's entry


def clause_initial(body: str, offset: int) -> bool:
    """Does a clause start at this character: the body's start, after an enumerator opening a line, or after
    . : ; (the preamble's "постановляет:", the previous sentence)? Reads a few dozen characters back, whatever
    the body."""
    reach = max(0, offset - ENUMERATOR_REACH)
    line_start = max(body.rfind("\n", reach, offset), body.rfind("\f", reach, offset))
    if line_start >= 0 or reach == 0:
        head = body[line_start + 1 : offset]
        enum = _enumerator(head)
        if enum is not None and not head[enum[2] :].strip():
            return True
        if enum is None and _DAMAGED_ENUMERATOR.fullmatch(head) and body[offset : offset + 1].isupper():
            return True  # a scan's point whose number OCR misread: still the start of a point
        if line_start > 0 and not head.strip() and _after_heading(body, line_start):
            return True
    before = body[max(0, offset - WORD_REACH) : offset].rstrip()
    if not before:
        return offset <= WORD_REACH or not body[:offset].strip()
    return before[-1] in ".:;" and (before[-1] != "." or _ends_sentence(before))


def _after_heading(body: str, line_end: int) -> bool:
    """Is the line ending at `line_end` an article's heading ("Статья 1")? Reads at most HEADING_REACH characters."""
    reach = max(0, line_end - HEADING_REACH)
    start = max(body.rfind("\n", reach, line_end), body.rfind("\f", reach, line_end))
    if start < 0 and reach > 0:
        return False
    line = body[start + 1 : line_end]
    return bool(_HEADING.fullmatch(line)) and line.lstrip()[:1].isupper()


def read_clauses(
    doc: Doc,
    verbs: CNode,
    is_order: Callable[[str], bool],
    voice: Callable[[Doc, Hit], Phrase | None] | None = None,
) -> list[Clause]:
    """Every operative clause of the doc's body with the entries it lists, in reading order. `is_order` says
    whether a word is a verb written as an order (an infinitive or imperative); `voice`, where a verb is none,
    gives the passive or impersonal phrase around it (voice.py). An order or a phrase that opens a clause governs
    what follows it; a phrase that closes its clause ("The Agreement between … is terminated.", "Folgende
    Abkommen werden gekündigt:") governs its subject, or the list after its colon."""
    if not doc.pages:
        return []
    body = doc.body
    hits = [h for h in verbs.eval(doc, "body") or () if h.start >= doc.body_start]
    lines = _lines(body)
    ends = [ln.end for ln in lines]
    out: list[Clause] = []
    covered_to = -1
    for hit in sorted(hits, key=lambda h: h.start)[:MAX_VERBS]:
        if len(out) >= MAX_CLAUSES:
            break
        _, first = doc.locate(hit.start)
        if first.start < covered_to:
            continue
        words = [doc.words[p] for p in range(hit.start, hit.end + 1) if doc.words[p]]
        phrase = None
        if any(is_order(w) for w in words):
            _, last = doc.locate(hit.end)
        elif voice is not None and (phrase := voice(doc, hit)) is not None:
            _, first = doc.locate(phrase.first)
            _, last = doc.locate(phrase.last)
            if first.start < covered_to:
                continue
        else:
            continue
        index = bisect_left(ends, last.end)
        if clause_initial(body, first.start):
            entries, end = _entries(body, lines, index, last.end)
        elif phrase is not None:
            entries, end = _subject_entries(body, lines, index, first.start, last.end)
        else:
            continue
        if entries:
            out.append(Clause(hit, tuple(entries)))
            covered_to = end
    return out


def _entries(body: str, lines: list[_Line], index: int, after: int) -> tuple[list[Entry], int]:
    """The entries of the clause whose verb ends at `after` (on line `index`), and where the clause ends. A colon
    before the clause's sentence or point ends opens a list; without one, the rest of the clause is the one entry."""
    point_end = _point_end(body, lines, index)
    limit = min(point_end, after + MAX_ENTRY_CHARS)
    clause_end = _sentence_end(body, after, limit)
    colon = body.find(":", after, clause_end)
    if colon < 0:
        # the entry is the agreement's name: from its first capitalised word ("действие Соглашения между …",
        # "the Agreement between …"), when one comes within a few words
        words = _WORD_START.finditer(body, after, min(clause_end, after + NAME_REACH))
        name = next((m.start() for m in words if m.group().isupper()), after)  # not "à" of "mettre fin à l'Accord"
        return _make(body, [(name, clause_end)]), clause_end
    spans, end = _list(body, lines, colon + 1, index)
    return _make(body, spans), end


def _sentence_end(body: str, after: int, limit: int) -> int:
    """Where the sentence going on at `after` ends (past its full stop), or `limit`."""
    sentence = _SENTENCE_END.search(body, after, limit)
    while sentence is not None and not _stop_ends(body, after, sentence.start()):
        sentence = _SENTENCE_END.search(body, sentence.end(), limit)
    return sentence.end() if sentence else limit


def _stop_ends(body: str, since: int, stop: int) -> bool:
    """Does the full stop at `stop` end a sentence: not after an abbreviation, nor a day's number in a date."""
    if not _ends_sentence(body[since : stop + 1]):
        return False
    day = _DAY_BEFORE.search(body, max(since, stop - 2), stop)
    # a day's full stop is no sentence's end: "am 4. Februar 1994"
    return day is None or date_pattern().match(body, day.start()) is None


def _subject_entries(body: str, lines: list[_Line], index: int, start: int, after: int) -> tuple[list[Entry], int]:
    """The entries of a clause whose passive phrase (characters start..after, on line `index`) closes it: the list
    after its colon, else its subject, from the clause's start to its end. Nothing when the phrase goes on (it
    closes no clause) or no clause start is within MAX_ENTRY_CHARS."""
    following = body[after : after + WORD_REACH]
    rest = following.lstrip(" \t")
    if rest[:1] not in (".", ":", ";", "\n", "\f", ""):
        return [], after
    if rest[:1] == ":":
        spans, end = _list(body, lines, after + len(following) - len(rest) + 1, index)
        return _make(body, spans), end
    begin = _clause_start(body, start)
    if begin is None:
        return [], after
    end = _sentence_end(body, after, min(len(body), after + MAX_ENTRY_CHARS))
    return _make(body, [(begin, end)]), end


def _clause_start(body: str, offset: int) -> int | None:
    """Where the clause holding `offset` starts: after the last sentence end, colon, semicolon or point
    enumerator before it, or at the body's start; None when none is within MAX_ENTRY_CHARS."""
    reach = max(0, offset - MAX_ENTRY_CHARS)
    begin = 0 if reach == 0 else None
    for m in _CLAUSE_MARK.finditer(body, reach, offset):
        mark = m.group()
        if mark in "\n\f":
            enum = _enumerator(body[m.end() : m.end() + ENUMERATOR_REACH])
            if enum is not None:
                begin = m.end() + enum[2]
        elif mark != "." or _stop_ends(body, reach, m.start()):
            begin = m.end()
    if begin is None:
        return None
    enum = _enumerator(body[begin : begin + ENUMERATOR_REACH])  # a point's number after the last stop: "1. The"
    if enum is not None and begin + enum[2] <= offset:
        begin += enum[2]
    while begin < offset and body[begin].isspace():
        begin += 1
    return begin


def _point_end(body: str, lines: list[_Line], index: int) -> int:
    """Where the point holding line `index` ends: at the next line that opens with an enumerator, a blank line,
    or the end of the body."""
    limit = lines[index].end + MAX_ENTRY_CHARS
    for ln in lines[index + 1 :]:
        text = body[ln.start : ln.end]
        if ln.start > limit or not text.strip() or _enumerator(text) is not None:
            return ln.start
    return len(body)


def _list(body: str, lines: list[_Line], start: int, index: int) -> tuple[list[tuple[int, int]], int]:
    """The entries of a list opened by a colon at `start`: lines opening with the list's enumerators, or lines
    and ";"-separated pieces of an unnumbered list, until a point of another numbering or the sentence that
    closes an unnumbered list. Returns character spans and the list's end."""
    spans: list[tuple[int, int]] = []
    style: str | None = None
    expected: int | None = None
    current: list[int] | None = None
    rest = body[start : lines[index].end]
    if _letters(rest) >= MIN_ENTRY_LETTERS:
        current = [start, lines[index].end]
    end = lines[index].end
    for ln in lines[index + 1 :]:
        text = body[ln.start : ln.end]
        if not text.strip() or _PAGE_NUMBER.fullmatch(text):
            continue
        if ln.start - start > MAX_CLAUSE_CHARS or len(spans) >= MAX_ENTRIES:
            break
        so_far = body[current[0] : current[1]].rstrip() if current is not None else ""  # the entry read so far
        enum = _enumerator(text)
        if enum is not None:
            kind, number, length = enum
            if current is None and style is None:
                style, expected = kind, (number + 1 if number is not None else None)
            elif kind == style and (number is None or number == expected):
                expected = number + 1 if number is not None else None
            elif style is not None and so_far.endswith(";"):
                # ";" ends an entry that another follows: this is the next one, its enumerator misread ("В)" for 8)
                expected = expected + 1 if expected is not None else None
            elif current is not None and style is not None and so_far[-1:] not in ("", ".", ":", ";"):
                current[1] = ln.end  # a mark OCR read before an entry's continued line
                end = ln.end
                continue
            else:
                break  # the act's next point
            if current is not None:
                spans.append((current[0], current[1]))
            current = [ln.start + length, ln.end]
        elif current is None:
            current = [ln.start, ln.end]
        else:
            if style is None and so_far.endswith(";"):
                spans.append((current[0], current[1]))
                current = [ln.start, ln.end]
            elif style is None and _ends_sentence(so_far):
                break  # an unnumbered list ends with its sentence
            else:
                current[1] = ln.end
        end = ln.end
    if current is not None:
        spans.append((current[0], current[1]))
    return spans, end


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def _make(body: str, spans: list[tuple[int, int]]) -> list[Entry]:
    """Entries from spans, each split at ";" (an inline list) and trimmed of list punctuation."""
    out: list[Entry] = []
    for start, end in spans:
        piece_start = start
        for m in [*re.finditer(";", body[start:end]), None]:
            piece_end = start + m.start() if m else end
            raw = body[piece_start:piece_end]
            lead = len(raw) - len(raw.lstrip())
            text = " ".join(raw.split()).strip(" ,;.")
            if _letters(text) >= MIN_ENTRY_LETTERS and len(out) < MAX_ENTRIES:
                at = piece_start + lead
                page, line = page_line(body, at)
                out.append(Entry(at, piece_end, page, line, text[:MAX_ENTRY_CHARS]))
            piece_start = piece_end + 1
    return out
