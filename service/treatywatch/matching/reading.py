"""An item read field by field: the docs each watch's `fields` ask for, and the agreements its body lists.

The title and summary stay the primary evidence: a watch fires on the fields it names (title and summary unless
it says otherwise). The body (an act's document, an article's text) adds to a match the agreements an operative
clause lists ("1. Прекратить действие следующих соглашений: …"), each a subject of the match with its page and line,
and, once a match has a subject, the agreements the rest of the body names, as context.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..config.models import TermSet
from ..items import Item
from ..vocabularies import load_vocabulary, merge_terms
from . import query as q
from .agreements import CompiledAgreement, EntityHits, Ties, assess
from .compiled import CNode
from .doc import Doc, page_line
from .explain import AgreementHit, Hit, HitPlace, place_hits
from .operative import Clause, Entry, read_clauses
from .text import INFINITIVE_ENDINGS, LATIN_LANGUAGES, Analyzer, fold, is_cyrillic
from .voice import voice_test

DEFAULT_FIELDS = frozenset({"title", "summary"})
# The vocabularies whose verbs make a clause operative: the shipped ones and the operator's sets of these names.
OPERATIVE_SETS = ("termination", "suspension")
# Infinitives as written (text.INFINITIVE_ENDINGS): Portuguese pôr keeps its accent, a reflexive infinitive its
# pronoun (ocupar-se, ocuparse); English verbs have none, its nouns' suffixes tell them apart.
_ACCENTED_ENDINGS = {"pt": ("ôr",)}
_REFLEXIVE = {"pt": "(?:-se)?", "es": "(?:se)?"}
_INFINITIVE = {
    lang: re.compile(f"(?:{'|'.join((*ends, *_ACCENTED_ENDINGS.get(lang, ())))}){_REFLEXIVE.get(lang, '')}$")
    for lang, ends in INFINITIVE_ENDINGS.items()
}
_FR_NOUN = re.compile(r"ure$")  # rupture: a noun ending like rompre
_EN_NOUN = re.compile(r"(?:tion|sion|ment|al|ance|ence|ure|ity|ing)$")
CONTEXT_PASSAGES_MAX = 200  # sentences of a body read for agreements named in passing
_PASSAGE_END = re.compile(r"[.;!?\n\f]")
SNIPPET_WORDS = 16  # of an entry, in an agreement's reason


def fields_named(node: q.Node) -> frozenset[str]:
    """The fields a query names (title:, summary:, body:): a watch reads them whatever its `fields` say."""
    match node:
        case q.InField(name, child):
            return frozenset({name}) | fields_named(child)
        case q.And(children) | q.Or(children):
            return frozenset().union(*(fields_named(c) for c in children))
        case q.Not(child):
            return fields_named(child)
        case q.Near(left, right, _):
            return fields_named(left) | fields_named(right)
    return frozenset()


def _infinitive(lang: str, word: str) -> bool:
    """Is this Latin-script word shaped like its language's infinitive (for English: not like a noun)?"""
    w = word.lower()
    if lang == "en":
        return not _EN_NOUN.search(w)
    rule = _INFINITIVE.get(lang)
    return bool(rule and rule.search(w)) and not (lang == "fr" and _FR_NOUN.search(w))


def _russian_order(analyzer: Analyzer, word: str) -> bool:
    """An infinitive or an imperative by the dictionary (прекратить, прекратите), not прекращение or прекратило."""
    return any("INFN" in p.tag or "impr" in p.tag for p in analyzer.morph.parse(word) if p.score >= 0.1)


def verb_terms(terms: dict[str, TermSet], analyzer: Analyzer) -> dict[str, list[str]]:
    """The verbs of the termination and suspension vocabularies (nouns such as прекращение, termination are left
    out: "Прекращение действия Соглашения не затрагивает …" is a treaty's clause, not an order)."""
    merged: dict[str, list[str]] = {}
    for name in OPERATIVE_SETS:
        merged = merge_terms(merged, load_vocabulary(name))
        if name in terms:
            merged = merge_terms(merged, terms[name].by_language)
    out: dict[str, list[str]] = {}
    for lang, words in merged.items():
        for term in words:
            parts = analyzer.words(term)
            if not parts:
                continue
            if lang == "ru" or is_cyrillic(term):
                verb = any(_russian_order(analyzer, w) for w in parts)
            else:
                verb = any(_infinitive(lang, w) for w in ([parts[-1]] if lang == "de" else parts[:2]))
                verb = verb and not (lang == "de" and parts[-1][:1].isupper())  # German nouns are capitalised
            if verb:
                out.setdefault(lang, []).append(term)
    return out


def order_test(analyzer: Analyzer, lang: str | None) -> Callable[[str], bool]:
    """Whether a word of an item in `lang` is a verb written as an order: its own dictionary form, shaped as an
    infinitive (Terminate, Dénoncer, Kündigen), or a Russian infinitive or imperative."""

    seen: dict[str, bool] = {}

    def is_order(word: str) -> bool:
        found = seen.get(word)
        if found is None:
            found = seen[word] = _is_order(word)
        return found

    def _is_order(word: str) -> bool:
        if is_cyrillic(word):
            return _russian_order(analyzer, word)
        folded = fold(word)
        for lg in (lang,) if lang in LATIN_LANGUAGES else LATIN_LANGUAGES:
            if folded in analyzer.lemmas(lg, word)[0] and _infinitive(lg, word):
                return True
        return False

    return is_order


@dataclass(frozen=True)
class Finder:
    """Agreement identification on a short text (a list entry, a sentence), as for an item's title: the parties
    named, the subject, the year. A listed agreement names its partner state: the year alone never stands for it
    (a domestic agreement "с АО … 1994 г." is not the 1994 treaty with France)."""

    agreements: tuple[CompiledAgreement, ...]
    entities: dict[str, CNode]
    era: tuple[int, int] | None
    common: frozenset[str]
    countries: CNode | None
    parties: frozenset[str]
    # per agreement, the first words of its names and of its parties other than the common one: a text with none
    # of them cannot name it (assess needs its name or its partner), so it is not assessed
    needs: tuple[frozenset[str], ...] = ()
    keys: frozenset[str] = frozenset()  # all of them: a sentence without any is passed over unread
    negation: frozenset[str] = frozenset()  # folded negation cues: no passive has one before its participle
    ties: Ties | None = None  # what ties a year to an agreement, as for titles (cues.yaml `signing`)

    @classmethod
    def of(cls, agreements: list[CompiledAgreement], **rest: object) -> Finder:
        entities: dict[str, CNode] = rest["entities"]  # type: ignore[assignment]
        common: frozenset[str] = rest["common"]  # type: ignore[assignment]
        needs = []
        for a in agreements:
            nodes = [a.names] if a.names is not None else []
            nodes += [entities[p] for p in a.parties if p not in common and p in entities]
            needs.append(frozenset().union(*(n.triggers() or () for n in nodes)))
        listed = tuple(replace(a, year_unique=False) for a in agreements)
        return cls(listed, needs=tuple(needs), keys=frozenset().union(*needs), **rest)  # type: ignore[arg-type]

    def find(self, doc: Doc, published: int | None, implied: frozenset[str]) -> list[tuple[AgreementHit, list[Hit]]]:
        hits = EntityHits(doc, self.entities, implied, self.ties, dated=True)
        found = []
        for a, needs in zip(self.agreements, self.needs, strict=True):
            if needs.isdisjoint(doc.key_pos):
                continue
            got = assess(a, doc, hits, self.era, published, self.common, self.countries, self.parties)
            if got is not None:
                found.append(got)
        return found


@dataclass(frozen=True)
class Listed:
    """An agreement the body names, where, and whether an operative clause lists it (a subject) or not."""

    agreement: AgreementHit
    reason: str
    subject: bool


class ItemReading:
    """One item's docs and body agreements, each built once, when a watch first asks."""

    def __init__(
        self,
        item: Item,
        make_doc: Callable[[str, str, str | None, str], Doc],
        act_facets: Callable[[Item], dict[str, Doc]],
        finder: Finder,
        verbs: CNode,
        analyzer: Analyzer,
        implied: frozenset[str],
    ) -> None:
        self.item = item
        self._make_doc = make_doc
        self._act_facets = act_facets
        self._facets: dict[str, Doc] | None = None
        self._finder = finder
        self._verbs = verbs
        self._analyzer = analyzer
        self._implied = implied
        self._docs: dict[tuple[bool, bool, bool], Doc] = {}
        self._listed: tuple[list[Listed], list[HitPlace]] | None = None

    def doc(self, fields: frozenset[str]) -> Doc:
        """The item over these fields; the others are empty, so positions of title and summary stay the same."""
        use_body = bool(self.item.body) and "body" in fields
        key = ("title" in fields, "summary" in fields, use_body)
        doc = self._docs.get(key)
        if doc is None:
            doc = self._docs[key] = self._make_doc(
                self.item.title if key[0] else "",
                self.item.summary if key[1] else "",
                self.item.language,
                self.item.body if use_body else "",
            )
            if self._facets is None:
                self._facets = self._act_facets(self.item)
            doc.facets = self._facets  # doc_type:, issuer: (engine.item_doc)
        return doc

    def listed(self) -> tuple[list[Listed], list[HitPlace]]:
        """The agreements the body names (operative entries first) and the operative verbs' places."""
        if self._listed is None:
            self._listed = self._read_body()
        return self._listed

    def _read_body(self) -> tuple[list[Listed], list[HitPlace]]:
        if not self.item.body:
            return [], []
        doc = self.doc(frozenset({"body"}))
        is_order = order_test(self._analyzer, self.item.language)
        voice = voice_test(self._analyzer, self.item.language, is_order, self._finder.negation)
        clauses = read_clauses(doc, self._verbs, is_order, voice)
        published = self.item.published.year if self.item.published else None
        listed: dict[str, Listed] = {}
        verbs: list[HitPlace] = []
        for clause in clauses:
            verbs += place_hits(doc, [clause.verb])
            for entry in clause.entries:
                for agreement, _ in self._entry_agreements(entry, published):
                    if agreement.id not in listed:
                        reason = f"{entry.where()}: {_short(entry.text)}"
                        listed[agreement.id] = Listed(agreement, reason, True)
        for agreement, at, text in self._context(doc, clauses, published):
            if agreement.id not in listed:
                page, line = page_line(doc.body, at, doc.pages)
                listed[agreement.id] = Listed(agreement, f"body p. {page}, line {line}: {_short(text)}", False)
        return list(listed.values()), verbs

    def _entry_agreements(self, entry: Entry, published: int | None) -> list[tuple[AgreementHit, list[Hit]]]:
        return self._finder.find(self._make_doc(entry.text, "", self.item.language, ""), published, self._implied)

    def _context(self, doc: Doc, clauses: list[Clause], published: int | None) -> list[tuple[AgreementHit, int, str]]:
        """Agreements named sentence by sentence outside the operative entries: only sentences holding a name of
        an agreement or of a party are read, at most CONTEXT_PASSAGES_MAX of them."""
        body = doc.body
        taken = [(e.start, e.end) for c in clauses for e in c.entries]
        positions = sorted({p for key in self._finder.keys for p in doc.key_pos.get(key, ())})
        stops = [m.start() for m in _PASSAGE_END.finditer(body)] + [len(body)]
        out: list[tuple[AgreementHit, int, str]] = []
        seen: set[int] = set()
        for pos in positions:
            _, span = doc.locate(pos)
            i = bisect_left(stops, span.start)  # the first stop after the word: its passage's end
            start = stops[i - 1] + 1 if i else 0
            if start in seen or any(s <= span.start < e for s, e in taken):
                continue
            seen.add(start)
            if len(seen) > CONTEXT_PASSAGES_MAX:
                break
            raw = body[start : stops[i]]
            text = " ".join(raw.split())
            at = start + len(raw) - len(raw.lstrip())
            passage = self._make_doc(text, "", self.item.language, "")
            out += [(agreement, at, text) for agreement, _ in self._finder.find(passage, published, self._implied)]
        return out


def _short(text: str) -> str:
    words = text.split()
    return " ".join(words[:SNIPPET_WORDS]) + (" …" if len(words) > SNIPPET_WORDS else "")


def with_body(
    concerned: list[tuple[AgreementHit, list[Hit]]], listed: list[Listed], only: frozenset[str] | None
) -> list[tuple[AgreementHit, list[Hit]]]:
    """The agreements of a match with what the body lists: an operative entry makes its agreement a subject (with
    its page and line among the reasons); what the body names elsewhere is context, added only to a match that
    has a subject. None of the body's own words are hits: the title's stay the evidence."""
    out = list(concerned)
    index = {a.id: i for i, (a, _) in enumerate(out)}
    for found in listed:
        if only and found.agreement.id not in only:
            continue
        i = index.get(found.agreement.id)
        if i is not None:
            have, hits = out[i]
            subject = have.subject or found.subject
            out[i] = (replace(have, reasons=(*have.reasons, found.reason), subject=subject), hits)
        elif found.subject or any(a.subject for a, _ in out):
            agreement = replace(found.agreement, reasons=(*found.agreement.reasons, found.reason))
            out.append((replace(agreement, subject=found.subject), []))
            index[agreement.id] = len(out) - 1
    return out if any(a.subject for a, _ in out) else concerned
