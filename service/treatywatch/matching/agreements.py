"""Does an item concern a tracked agreement? By name, or by naming all its parties, with the year as evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .compiled import CNode
from .doc import Doc
from .explain import AgreementHit, Hit
from .modality import short_clauses
from .text import TOKEN

_SENTENCE_END = re.compile(r"[.!?;]\s")

NAME_SCORE = 1.0
PARTIES_SCORE = 0.6
YEAR_BONUS = 0.3
OTHER_YEAR_PENALTY = 0.4
# Named by its parties only, the item must also speak of what the agreement is about (military cooperation), or
# give its year: "a Russian company's supply contract with a French firm" is not the Russia–France defence pact.
SUBJECT_BONUS = 0.2
NO_SUBJECT_PENALTY = 0.2
THRESHOLD = 0.5
# A year counts against an agreement only inside the era of the tracked agreements (signing years give or take
# this many years): "not applied since 2014" or "the 2022 invasion" are context, not another signing year.
ERA_MARGIN = 5
TIE_REACH = 5  # words between a year and the instrument noun or verb of signing it belongs to


@dataclass(frozen=True)
class CompiledAgreement:
    id: str
    title: str
    parties: tuple[str, ...]
    signed: int | None
    names: CNode | None
    subject: CNode | None = None
    # signing years of tracked agreements between other parties: "pacts from 1989 to 2000" names Canada's and
    # Portugal's, which say nothing against France's 1994 one
    others_years: frozenset[int] = frozenset()
    # no other tracked agreement was signed that year: "Moscow denounces the 2000 military accord" tells which
    year_unique: bool = False


@dataclass(frozen=True)
class Ties:
    """What ties a year to an agreement (cues.yaml `signing`): instrument nouns and verbs of signing near it,
    and no word of duration or limit right before it."""

    ties: CNode
    duration: frozenset[str]  # folded


class EntityHits:
    """Per-document cache: each entity is looked up once however many agreements name it."""

    def __init__(
        self,
        doc: Doc,
        entities: dict[str, CNode],
        implied: frozenset[str] = frozenset(),
        ties: Ties | None = None,
        dated: bool = False,
    ) -> None:
        self._doc = doc
        self._entities = entities
        self._cache: dict[str, list[Hit] | None] = {e: [] for e in implied}
        self._other_country: bool | None = None
        self._ties = ties
        self._dated = dated
        self._years: frozenset[int] | None = None

    def years(self) -> frozenset[int]:
        """The years the item ties to an agreement ("the 1994 accord", "signed in 1994"), once per item; every
        year the text mentions on its own when no ties are known. `dated`: a full date tied to a signing counts
        too (an act's list entry: "подписанное в Оттаве 20 ноября 1989 года")."""
        if self._years is None:
            self._years = (
                self._doc.years if self._ties is None else signing_years(self._doc, self._ties, dated=self._dated)
            )
        return self._years

    def other_country_named(self, parties: frozenset[str], countries: CNode | None) -> bool:
        """Does the item name a country none of these entities stands for? Once per item, however many
        agreements ask."""
        if self._other_country is None:
            covered = {p for e in parties for h in self.get(e) or () for p in range(h.start, h.end + 1)}
            named = (countries.eval(self._doc, None) if countries is not None else None) or []
            self._other_country = any(h.start not in covered for h in named)
        return self._other_country

    def get(self, entity_id: str) -> list[Hit] | None:
        """Where the item names the entity; a dateline ("Brussels, 6 December 2025 –") is where it was written,
        not a party."""
        if entity_id not in self._cache:
            node = self._entities.get(entity_id)
            hits = node.eval(self._doc, None) if node is not None else None
            if hits and self._doc.dateline:
                hits = [h for h in hits if h.start not in self._doc.dateline] or None
            self._cache[entity_id] = hits
        return self._cache[entity_id]


def signing_years(doc: Doc, ties: Ties, dated: bool = False) -> frozenset[int]:
    """Years with an instrument noun or a verb of signing within TIE_REACH words in their sentence, and no word of
    duration or limit right before them: "the 1994 accord", "accord de 1994", "соглашение 1996 года", "signed in
    1994"; not "since 2014", "until 2029", "the 2022 invasion". With `dated`, the years of full dates too, the
    reach counted from the date's first word ("firmado en París el 4 de febrero de 1994")."""
    years = doc.all_years if dated else doc.years
    if not years:
        return years
    tie_hits = ties.ties.eval(doc, None) or []
    if not tie_hits:
        return frozenset()
    clause = short_clauses(doc)
    starts = doc.date_starts if dated else {}
    out: set[int] = set()
    for year in years:
        for pos in doc.key_pos.get(f"#{year}", ()):
            first = starts.get(pos, pos)
            if ties.duration.intersection(doc.folded[max(0, first - 2) : first]):
                continue  # since 2014, since the 2022 invasion, с 2014 года
            if any(_tied(pos, h, clause) or _tied(first, h, clause) for h in tie_hits):
                out.add(year)
                break
    return frozenset(out)


def _tied(pos: int, tie: Hit, clause: list[int]) -> bool:
    """The tie is within TIE_REACH words of the year, in its short clause (no comma or conjunction between)."""
    if tie.start > pos:
        lo, hi = pos, tie.start
    elif tie.end < pos:
        lo, hi = tie.end, pos
    else:
        return False
    return hi - lo - 1 <= TIE_REACH and clause[lo] == clause[hi]


def era(agreements: list[CompiledAgreement]) -> tuple[int, int] | None:
    years = [a.signed for a in agreements if a.signed is not None]
    return (min(years) - ERA_MARGIN, max(years) + ERA_MARGIN) if years else None


def assess(
    agreement: CompiledAgreement,
    doc: Doc,
    entities: EntityHits,
    signing_era: tuple[int, int] | None,
    published: int | None = None,
    common: frozenset[str] = frozenset(),
    countries: CNode | None = None,
    all_parties: frozenset[str] = frozenset(),
) -> tuple[AgreementHit, list[Hit]] | None:
    """Score how surely the item concerns this agreement; None below the threshold. The publication year is when
    the item was written, never evidence for or against a signing year."""
    reasons: list[str] = []
    hits: list[Hit] = []
    score = 0.0
    named = agreement.names.eval(doc, None) if agreement.names is not None else None
    if named:
        score = NAME_SCORE
        hits += named
        reasons.append("names it")
    else:
        party_hits = [entities.get(p) for p in agreement.parties]
        unnamed = {p for p, h in zip(agreement.parties, party_hits, strict=True) if h is None}
        # A party of every tracked agreement (Russia, in a Russia-centric watchlist) tells none of them apart, and
        # Russian reports rarely name it ("Правительство расторгло соглашение с Хорватией о сотрудничестве в военной
        # области"). It may go unnamed when the other parties are named, the agreement's subject is spoken of, and
        # no country outside the watchlist's parties is named (CLDR names): "Gabon ends its defence accord with
        # France" is another state's decision, not Russia's.
        # A partner state may go unnamed too when the year tells the agreement apart ("Moscow denounces the 2000
        # military accord"), under the same conditions: its subject spoken of, no other country named.
        by_year = agreement.year_unique and agreement.signed in entities.years()
        if (unnamed - common and not by_year) or len(unnamed) == len(agreement.parties):
            return None
        about = agreement.subject.eval(doc, None) if agreement.subject is not None else None
        if unnamed and not (about and not entities.other_country_named(all_parties, countries)):
            return None
        score = PARTIES_SCORE
        reasons.append(
            "names all parties: "
            + ", ".join(
                _party_reason(p, h, unnamed, common, agreement.signed)
                for p, h in zip(agreement.parties, party_hits, strict=True)
            )
        )
        for ph in party_hits:
            hits += ph or []
        if agreement.subject is not None:
            if about:
                score += SUBJECT_BONUS
                hits += about
                reasons.append("speaks of its subject")
            else:
                score -= NO_SUBJECT_PENALTY
                reasons.append("nothing of its subject")
    if agreement.signed is not None:
        historic = {
            y
            for y in entities.years()
            if signing_era
            and signing_era[0] <= y <= signing_era[1]
            and y != published
            and y not in agreement.others_years
        }
        if agreement.signed in entities.years():
            score += YEAR_BONUS
            reasons.append(f"year {agreement.signed} mentioned")
        elif historic and not named:
            score -= OTHER_YEAR_PENALTY
            reasons.append(f"mentions {', '.join(map(str, sorted(historic)))}, not {agreement.signed}")
    if score < THRESHOLD:
        return None
    return AgreementHit(agreement.id, agreement.title, round(min(score, 1.0), 2), tuple(reasons)), hits


def _party_reason(
    party: str, hits: list[Hit] | None, unnamed: set[str], common: frozenset[str], signed: int | None
) -> str:
    """How the item stands for one party, in an explanation."""
    if hits:
        return party
    if party not in unnamed:
        return f"{party} (implied by the source)"
    if party in common:
        return f"{party} (party to every tracked agreement)"
    return f"{party} (unnamed; the year {signed} tells which agreement)"


def _lead_end(doc: Doc) -> int:
    """The last position of the summary's first sentence: with the title, where a report says what it is about.
    The first sentence end is found once (searching from the start before every word was quadratic)."""
    text = doc.summary
    end = _SENTENCE_END.search(text)
    if end is None:
        return doc.length
    for i, m in enumerate(TOKEN.finditer(text)):
        if i and m.start() >= end.end():
            return doc.summary_start + i - 1
    return doc.length


def mark_subjects(doc: Doc, concerned: list[tuple[AgreementHit, list[Hit]]]) -> list[tuple[AgreementHit, list[Hit]]]:
    """An agreement is a subject of the item when the title names what sets it apart from the others concerned
    (its name, its partner state), else when the lead does; one named only further down ("the move follows
    similar steps on Portugal") is context. Hits all of them share (Russia, "military") decide nothing."""
    if len(concerned) <= 1:
        return concerned
    places = [{(h.start, h.end) for h in hits} for _, hits in concerned]
    shared = set.intersection(*places)
    own = [min((start for start, _ in p - shared), default=doc.length) for p in places]
    for limit in (doc.title_end - 1, _lead_end(doc)):
        inside = {i for i, first in enumerate(own) if first <= limit}
        if inside:
            return [(a if i in inside else replace(a, subject=False), h) for i, (a, h) in enumerate(concerned)]
    return concerned
