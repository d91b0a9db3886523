"""Talk or decision: which words of an item sit in the scope of a modal, negating, retrospective or historical cue.

A termination watch must fire on "Russia scraps the accord", not on "senators call on Warsaw to scrap the accord",
"Moscow has not terminated the pact", "Paris dénoncerait l'accord", "la dénonciation est à l'étude", "thirty years
since the accord" or "the end of the Cold War". The cues are language-level (cues.yaml: thesaurus words in
dictionary forms; mood.py: the conditional and future from each language's grammar). Their scopes:
- modal verbs and nouns: the rest of the sentence clause, up to `modal_reach` words after the cue;
- frames ("under study", "à l'étude", "на рассмотрении", eventual) and mood (conditional, future, würde, бы): the
  whole short clause around them (between commas, conjunctions and relative pronouns), wherever the event stands;
- negation: the next few words;
- retrospective frames (anniversary, museum, recalls, "years ago"): the whole sentence clause;
- history: a noun of ending whose complement is a period or an era ("the end of the Cold War", "la fin de
  l'année"), or a verb of ending right after one ("when the war ended").
The watch is then evaluated on what is left; each cue that set something aside is reported with its kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..vocabularies import read_data
from .compiled import CNever, CNode
from .doc import Doc
from .explain import Hit
from .mood import Mood
from .text import TOKEN, is_cyrillic

_CLAUSE_END = re.compile(r"[.;!?:|\u2013\u2014]|\s-\s")
_SHORT_CLAUSE_END = re.compile(r"[,.;!?:|()\"«»“”„\u2013\u2014]|\s-\s")
# words that open a new short clause (conjunctions, relative pronouns), folded
_CLAUSE_OPENERS = frozenset(
    """and but or which that who whom whose while whereas after before because since as when if though although
    et mais ou qui que qu dont lorsque quand apres avant car puisque si alors
    и но а или что когда после пока если хотя поскольку чтобы
    und aber oder dass weil wenn nachdem bevor wahrend obwohl da
    e mas ou que quando apos antes porque se enquanto embora
    y pero o que cuando tras antes porque si mientras aunque""".split()
)
_RU_RELATIVE = "котор"
# "N years ago" and its equivalents: a sentence that dates what it tells back from today is a retrospective
_AGO = re.compile(
    r"\b(?:years?|decades?)\s+ago\b|\bil\s+y\s+a\s+(?:\S+\s+){1,3}(?:ans|années|décennies)\b|"
    r"\b(?:лет|года?|десятилети\w*)\s+назад\b|\bvor\s+(?:\S+\s+){1,3}(?:Jahren|Jahrzehnten)\b|"
    r"\bhá\s+(?:\S+\s+){1,3}(?:anos|décadas)\b|\bhace\s+(?:\S+\s+){1,3}(?:años|décadas)\b",
    re.I,
)
HISTORY_REACH = 4  # words from a noun of ending to the period it ends ("the end of the Cold War": 4)
# the word that ties a noun of ending to its complement in the Latin languages (Russian uses the genitive case)
_OF = frozenset("of de du des d da do das dos del der dem den".split())


@dataclass(frozen=True)
class Cues:
    modal: CNode
    negation: CNode
    retrospective: CNode
    modal_reach: int
    negation_reach: int
    frames: CNode = field(default_factory=CNever)
    ending: CNode = field(default_factory=CNever)
    period: CNode = field(default_factory=CNever)
    acts: CNode = field(default_factory=CNever)


@dataclass(frozen=True)
class Talk:
    """Positions set aside, and for each cue that set something aside: its kind and position."""

    positions: frozenset[int]
    cues: tuple[tuple[str, int, int], ...] = ()  # kind, first and last position of the cue


def cue_lists() -> dict:
    """The shipped cue vocabulary (matching/cues.yaml)."""
    data = read_data(Path(__file__).with_name("cues.yaml"))
    assert isinstance(data, dict)
    return data


def _clauses(doc: Doc, boundary: re.Pattern[str] = _CLAUSE_END, openers: bool = False) -> list[int]:
    """A clause number for every position: clauses end at sentence punctuation (short clauses also at commas and
    before conjunctions and relative pronouns) and never cross fields."""
    ids = [0] * doc.length
    clause = 0
    for text, first in _fields(doc):
        clause += 1
        last_end = 0
        for i, m in enumerate(TOKEN.finditer(text)):
            if boundary.search(text, last_end, m.start()):
                clause += 1
            elif openers and i:
                word = m.group().lower()
                if word in _CLAUSE_OPENERS or word.startswith(_RU_RELATIVE):
                    clause += 1
            ids[first + i] = clause
            last_end = m.end()
    return ids


def _fields(doc: Doc) -> list[tuple[str, int]]:
    """Each text of the item with its first position: title, summary, and each page of a body."""
    out = [(doc.title, 0), (doc.summary, doc.summary_start)]
    pages = getattr(doc, "pages", None) or []
    if pages:
        texts = doc.body.split("\f")
        out += [(texts[i], first) for i, (first, _) in enumerate(pages)]
    return out


def short_clauses(doc: Doc) -> list[int]:
    """A short-clause number for every position: clauses also end at commas and before conjunctions and
    relative pronouns (a noun phrase never crosses one)."""
    return _clauses(doc, _SHORT_CLAUSE_END, openers=True)


def _members(clause: list[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    for p, c in enumerate(clause):
        members.setdefault(c, []).append(p)
    return members


def talk_positions(doc: Doc, cues: Cues, mood: Mood | None = None, lang: str | None = None) -> frozenset[int]:
    """Positions in the scope of a cue. The cue words themselves are included (they are never the event)."""
    return talk(doc, cues, mood, lang).positions


def talk(doc: Doc, cues: Cues, mood: Mood | None = None, lang: str | None = None) -> Talk:
    """Every cue's scope, and which cues set something aside."""
    modal = cues.modal.eval(doc, None) or []
    negation = cues.negation.eval(doc, None) or []
    retro = [h.start for h in cues.retrospective.eval(doc, None) or []] + _ago(doc)
    frames = [(h.start, h.end, "frame") for h in cues.frames.eval(doc, None) or []]
    if mood is not None:
        cited: bool | None = None  # an act cited: a future is announced by it, not talk
        of = mood.of
        for p, word in enumerate(doc.words):
            if not word:
                continue  # the gap between fields
            kind = of(lang, word)
            if kind == "future":
                if cited is None:
                    cited = cues.acts.eval(doc, None) is not None
                if cited:
                    continue
            if kind is not None:
                frames.append((p, p, kind))
            elif lang in ("fr", "pt", "es"):
                infinitive = mood.near_future(lang, doc.words, p)
                if infinitive is not None and not cited:
                    cited = cues.acts.eval(doc, None) is not None if cited is None else cited
                    if not cited:
                        frames.append((p, infinitive, "future"))
    history = _history(doc, cues)
    if not (modal or negation or retro or frames or history):
        return Talk(frozenset())
    clause = _clauses(doc)
    out: set[int] = set(history)
    found: list[tuple[str, int, int]] = [("history", p, p) for p in sorted(history)]
    for hits, reach, kind in ((modal, cues.modal_reach, "modal"), (negation, cues.negation_reach, "negation")):
        for h in hits:
            c = clause[h.start]
            for p in range(h.start, min(doc.length, h.end + 1 + reach)):
                if clause[p] != c and doc.words[p]:
                    break
                out.add(p)
            found.append((kind, h.start, h.end))
    if frames:
        ids = short_clauses(doc)
        short = _members(ids)
        for start, end, kind in frames:
            out.update(short[ids[start]])
            out.update(range(start, end + 1))
            found.append((kind, start, end))
    if retro:
        # the whole clause of each cue: positions by clause once, not a pass over the item per cue
        members = _members(clause)
        for c in {clause[p] for p in retro}:
            out.update(members[c])
        found += [("retrospective", p, p) for p in sorted(set(retro))]
    return Talk(frozenset(out), tuple(found))


def _ago(doc: Doc) -> list[int]:
    """Positions of "N years ago", "il y a N ans", "N лет назад", "vor N Jahren", "há N anos", "hace N años"."""
    out: list[int] = []
    for text, first in _fields(doc):
        for m in _AGO.finditer(text):
            out.append(first + len(TOKEN.findall(text, 0, m.start())))
    return out


def _history(doc: Doc, cues: Cues) -> set[int]:
    """Nouns of ending whose complement is a period or an era, within HISTORY_REACH words after them, and verbs
    of ending right after a period noun: the end of the Cold War is history, not a decision."""
    endings = cues.ending.eval(doc, None)
    if not endings:
        return set()
    periods = cues.period.eval(doc, None)
    if not periods:
        return set()
    # periods by where they start and end: each ending looks only at those within reach (a pass over every period
    # for every ending was quadratic in a body of them: "the end of the war" 40,000 times)
    by_start: dict[int, list[Hit]] = {}
    by_end: dict[int, list[Hit]] = {}
    for p in periods:
        by_start.setdefault(p.start, []).append(p)
        by_end.setdefault(p.end, []).append(p)
    out: set[int] = set()
    for e in endings:
        following = doc.words[e.end + 1] if e.end + 1 < doc.length else ""
        linked = following.lower() in _OF or is_cyrillic(following)
        near = [p for d in range(1, HISTORY_REACH + 1) for p in by_start.get(e.end + d, ())] if linked else []
        for p in near + by_end.get(e.start - 2, []):
            between = doc.words[e.end + 1 : p.start]
            after = linked and 0 < p.start - e.end <= HISTORY_REACH and all(w and not w.isdigit() for w in between)
            before = doc.words[p.end + 1 : e.start] == ["s"]  # the war's end
            if after or before:
                out.update(range(e.start, e.end + 1))
                out.update(range(p.start, p.end + 1))
    return out


def describe(doc: Doc, said: Talk, kinds: bool = True) -> list[str]:
    """Each cue that set words aside, once: `conditional «dénoncerait»`, `modal «call on»`; without `kinds`, the
    cue's words alone (`call on`), as the console and `treatywatch match` quote them."""
    out: dict[str, None] = {}
    for kind, first, last in said.cues:
        field, start = doc.locate(first)
        _, end = doc.locate(last)
        text = {"title": doc.title, "summary": doc.summary}.get(field, getattr(doc, "body", ""))
        words = text[start.start : end.end]
        out[f"{kind} «{words}»" if kinds else words] = None
    return list(out)
