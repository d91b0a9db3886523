"""Talk or decision: which words of an item sit in the scope of a modal, negating or retrospective cue.

A termination watch must fire on "Russia scraps the accord", not on "senators call on Warsaw to scrap the accord",
"Moscow has not terminated the pact" or "thirty years since the accord". The cues are language-level words shipped
in cues.yaml (readable, dictionary forms); their scope is the rest of the clause (modal), the next few words
(negation) or the whole sentence (retrospective). The watch is then evaluated on what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import yaml

from .compiled import CNode
from .doc import Doc
from .text import TOKEN

_CLAUSE_END = re.compile(r"[.;!?:|\u2013\u2014]|\s-\s")


@dataclass(frozen=True)
class Cues:
    modal: CNode
    negation: CNode
    retrospective: CNode
    modal_reach: int
    negation_reach: int


def cue_lists() -> dict:
    """The shipped cue vocabulary (matching/cues.yaml)."""
    text = resources.files("treatywatch.matching").joinpath("cues.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _clauses(doc: Doc) -> list[int]:
    """A clause number for every position: clauses end at sentence punctuation and never cross fields."""
    ids = [0] * doc.length
    clause = 0
    for text, first in ((doc.title, 0), (doc.summary, doc.summary_start)):
        clause += 1
        last_end = 0
        for i, m in enumerate(TOKEN.finditer(text)):
            if _CLAUSE_END.search(text, last_end, m.start()):
                clause += 1
            ids[first + i] = clause
            last_end = m.end()
    return ids


def talk_positions(doc: Doc, cues: Cues) -> frozenset[int]:
    """Positions in the scope of a cue. The cue words themselves are included (they are never the event)."""
    modal = cues.modal.eval(doc, None) or []
    negation = cues.negation.eval(doc, None) or []
    retro = cues.retrospective.eval(doc, None) or []
    if not (modal or negation or retro):
        return frozenset()
    clause = _clauses(doc)
    out: set[int] = set()
    for hits, reach in ((modal, cues.modal_reach), (negation, cues.negation_reach)):
        for h in hits:
            c = clause[h.start]
            for p in range(h.start, min(doc.length, h.end + 1 + reach)):
                if clause[p] != c and doc.words[p]:
                    break
                out.add(p)
    if retro:
        # the whole clause of each cue: positions by clause once, not a pass over the item per cue
        members: dict[int, list[int]] = {}
        for p, c in enumerate(clause):
            members.setdefault(c, []).append(p)
        for c in {clause[h.start] for h in retro}:
            out.update(members[c])
    return frozenset(out)
