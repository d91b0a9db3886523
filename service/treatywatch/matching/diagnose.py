"""Why a watch fired where it should not, or stayed silent where it should have fired: the hits, the rule that
decided, and the class of the error (`treatywatch evaluate --errors`), so an operator sees what to fix.

Classes: language (the item was read in another language than its source's), words (no term of a set met, or a
term met in another sense), modality (talk: a modal, conditional, future or frame cue), negation, retrospective,
historical (an end that is history), attribution (no tracked agreement, or the wrong ones), signing year (a year
that was, or was not, tied to an agreement), ownership (whose property), domestic (a portal act with no foreign
party), source (the watch does not read this source).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..items import Item
from .agreements import EntityHits, signing_years
from .compiled import CUnlessNear
from .engine import Watchlist
from .explain import Match
from .modality import describe
from .ownership import read_owned

_TALK_CLASS = {
    "modal": "modality",
    "conditional": "modality",
    "future": "modality",
    "frame": "modality",
    "negation": "negation",
    "retrospective": "retrospective",
    "history": "historical",
}


@dataclass(frozen=True)
class Diagnosis:
    watch_id: str
    error: str  # "false alarm" or "miss"
    cls: str
    rule: str  # the rule that decided, in a line
    hits: str  # what fired (the match's explanation) or what met before the rule set it aside

    def text(self) -> str:
        hits = f"\n      hits: {self.hits}" if self.hits else ""
        return f"{self.error} {self.watch_id} [{self.cls}]: {self.rule}{hits}"


def diagnose(
    watchlist: Watchlist,
    item: Item,
    watch_id: str,
    match: Match | None,
    declared: str | None = None,
    expected_agreements: frozenset[str] | None = None,
) -> Diagnosis:
    """The diagnosis of one wrong outcome: `match` is the watch's match when it fired (a false alarm), else None."""
    if match is not None:
        return _false_alarm(watchlist, item, match, declared, expected_agreements)
    return _miss(watchlist, item, watch_id, declared)


def _language(item: Item, declared: str | None) -> str | None:
    if declared and item.language and item.language != declared:
        return f"read as {item.language} (identified), the source declares {declared}"
    return None


def _false_alarm(
    watchlist: Watchlist, item: Item, match: Match, declared: str | None, expected: frozenset[str] | None
) -> Diagnosis:
    watch = watchlist.watch(match.watch_id)
    doc = watchlist.item_doc(item)
    why = match.why()
    got = {a.id.lower() for a in match.agreements}
    if watch.agreements is not None and expected is not None and got != {a.lower() for a in expected}:
        years = sorted(EntityHits(doc, watchlist.entities, ties=watchlist._ties).years())
        if any("year" in r for a in match.agreements for r in a.reasons) and years:
            return Diagnosis(watch.id, "false alarm", "signing year", f"years read as signing years: {years}", why)
        return Diagnosis(watch.id, "false alarm", "attribution", f"concerns {sorted(got)}, not {sorted(expected)}", why)
    if "no foreign party named" in match.notes:
        return Diagnosis(watch.id, "false alarm", "domestic", "a portal act with no foreign party", why)
    said = watchlist.talk(doc, item.language)
    if watch.decided and said.cues:
        kind = _TALK_CLASS.get(said.cues[0][0], "modality")
        cues = ", ".join(describe(doc, said))
        return Diagnosis(watch.id, "false alarm", kind, f"cues found but the event stood outside them: {cues}", why)
    if watch.entities:
        return Diagnosis(watch.id, "false alarm", "ownership", f"the owner was read as {sorted(watch.entities)}", why)
    language = _language(item, declared)
    if language:
        return Diagnosis(watch.id, "false alarm", "language", language, why)
    return Diagnosis(watch.id, "false alarm", "words", "a term met in another sense", why)


def _miss(watchlist: Watchlist, item: Item, watch_id: str, declared: str | None) -> Diagnosis:
    watch = watchlist.watch(watch_id)
    if watch.sources is not None and item.source_id not in watch.sources:
        return Diagnosis(watch.id, "miss", "source", f"the watch reads only {sorted(watch.sources)}", "")
    doc = watchlist.item_doc(item)
    hits = watch.node.eval(doc, None)
    if hits is None and watch.entities:
        hits, _ = read_owned(
            doc, watch.node, None, watch.entities, watchlist.entities, watchlist.owners, watchlist._states
        )
    if hits is None:
        language = _language(item, declared)
        if language:
            return Diagnosis(watch.id, "miss", "language", language + "; no term of the query met", "")
        missing = [
            name
            for name in dict.fromkeys(re.findall(r"@([\w.-]+)", watch.source_query))
            if name in watchlist._sets and watchlist._sets[name].eval(doc, None) is None
        ]
        for name in missing:
            node = watchlist._sets[name]
            if isinstance(node, CUnlessNear) and node.child.eval(doc, None) is not None:
                vetoes = node.veto.eval(doc, None) or []
                words = ", ".join(dict.fromkeys(f"«{doc.words[h.start]}»" for h in vetoes))
                rule = f"@{name} set aside within {node.reach} words of a private owner (unless_near): {words}"
                return Diagnosis(watch.id, "miss", "ownership", rule, "")
        what = ", ".join(f"@{n}" for n in missing) or "its words"
        return Diagnosis(watch.id, "miss", "words", f"no term of {what} met", "")
    met = "; ".join(dict.fromkeys(h.label for h in hits))
    if watch.entities:
        owned, notes = read_owned(
            doc, watch.node, hits, watch.entities, watchlist.entities, watchlist.owners, watchlist._states
        )
        if owned is None:
            return Diagnosis(watch.id, "miss", "ownership", "privately owned: " + "; ".join(notes), met)
    if watch.decided:
        said = watchlist.talk(doc, item.language)
        if said.positions and watch.node.eval(doc.masked(said.positions), None) is None:
            kind = _TALK_CLASS.get(said.cues[0][0], "modality") if said.cues else "modality"
            return Diagnosis(watch.id, "miss", kind, "set aside: " + ", ".join(describe(doc, said)), met)
    if watch.agreements is not None:
        ties = EntityHits(doc, watchlist.entities, ties=watchlist._ties)
        untied = sorted(doc.years - signing_years(doc, watchlist._ties))
        if untied and not ties.years():
            return Diagnosis(
                watch.id, "miss", "signing year", f"no tracked agreement concerned; years not tied: {untied}", met
            )
        return Diagnosis(watch.id, "miss", "attribution", "no tracked agreement concerned", met)
    return Diagnosis(watch.id, "miss", "other", "the query holds on the item's words", met)
