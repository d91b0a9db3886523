"""Whose property: a watch that names a state ("@frozen_assets AND @russia") is about that state's property, so
the owner of the thing it finds decides, not the words around it.

Ownership is read from the noun phrase and its clause, in every language:
- the owner next to the thing: a possessive or genitive before or after it ("a businessman's frozen assets", "the
  assets of the oligarch", "активы банкира", "les avoirs de l'homme d'affaires", "Vermögen des Unternehmers");
- a possessive only a person takes ("his frozen assets", "seine Vermögenswerte");
- a relative owner ("a businessman, whose assets", "un homme d'affaires …, dont les avoirs sont gelés", "чьи
  активы");
- else the item: a thing with no owner of its own is private when the item names private owners and no state one.
A country named only as a private owner's nationality ("Russian businessman", "oligarque russe", "российского
частного инвестора") does not stand for the state. And a state institution named without its country ("ЦБ" in
Russian) stands for the state that owns it. Owner words are dictionary forms in owners.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale

from ..config.models import Entity
from ..vocabularies import read_data
from .compiled import CNever, CNode, CPhrase
from .doc import Doc
from .explain import Hit
from .modality import short_clauses
from .text import LANGUAGES, Analyzer, fold, is_cyrillic

OWNER_REACH = 4  # words between a thing and its owner inside one noun phrase ("assets of the Russian oligarch")
WHOSE_REACH = 6  # words back from a relative pronoun to the owner it stands for
NATIONALITY_GAP = 1  # a country's adjective next to a private owner ("российского частного инвестора")
# the words that open a complement of a noun in the Latin languages (Russian uses the genitive case)
OF_WORDS = frozenset("of de du des d da do das dos del der dem den von eines einer".split())


@dataclass(frozen=True)
class Owners:
    private: CNode = field(default_factory=CNever)
    state: CNode = field(default_factory=CNever)
    whose: CNode = field(default_factory=CNever)
    person_possessive: CNode = field(default_factory=CNever)
    # country code -> the forms of its institutions that stand for it
    institutions: dict[str, CNode] = field(default_factory=dict)


@dataclass(frozen=True)
class Owned:
    """What ownership sets aside in an item, what it adds, and why."""

    private: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()


def owner_lists() -> dict:
    """The shipped owner vocabulary (matching/owners.yaml)."""
    data = read_data(Path(__file__).with_name("owners.yaml"))
    assert isinstance(data, dict)
    return data


def _same_sentence(doc: Doc, a: int, b: int) -> bool:
    """No empty position (a field gap) and no sentence end between two positions."""
    lo, hi = min(a, b), max(a, b)
    return all(doc.words[p] for p in range(lo, hi + 1))


def _nearest(
    doc: Doc, hit: Hit, owners: list[tuple[Hit, str]], reach: int, clause: list[int] | None = None
) -> str | None:
    """The kind of the owner nearest to the thing within `reach` words, in its sentence (and its short clause,
    when given); None if there is none."""
    best: tuple[int, str] | None = None
    for owner, kind in owners:
        if clause is not None and clause[owner.start] != clause[hit.start]:
            continue
        if owner.start > hit.end:
            # after the thing, an owner is its complement: a genitive (активы банкира, Vermögen des Oligarchen)
            # or an of-phrase (assets of the oligarch, avoirs de l'homme d'affaires), not any later noun
            link = doc.words[hit.end + 1] if hit.end + 1 < owner.start else ""
            if link and link.lower() not in OF_WORDS and not is_cyrillic(link):
                continue
            gap = owner.start - hit.end - 1
        elif owner.end < hit.start:
            gap = hit.start - owner.end - 1
        else:
            continue
        if gap <= reach and _same_sentence(doc, owner.start, hit.start) and (best is None or gap < best[0]):
            best = (gap, kind)
    return best[1] if best else None


def owned_privately(doc: Doc, owners: Owners, things: list[Hit], entity_hits: list[Hit]) -> Owned:
    """Positions of things privately owned and of countries named only as a private owner's nationality."""
    private = owners.private.eval(doc, None)
    if not private:
        return Owned()
    state = owners.state.eval(doc, None) or []
    named: list[tuple[Hit, str]] = [(h, "private") for h in private] + [(h, "state") for h in state]
    out: set[int] = set()
    notes: list[str] = []
    states = len(state)  # owners that are a state: state nouns, and countries named as themselves
    for e in entity_hits:
        if any(
            -1 <= p.start - e.end - 1 <= NATIONALITY_GAP or -1 <= e.start - p.end - 1 <= NATIONALITY_GAP
            for p in private
        ):
            out.update(range(e.start, e.end + 1))
            notes.append(f"«{doc.words[e.start]}» names a private owner's nationality")
        else:
            states += 1
    whose = owners.whose.eval(doc, None) or []
    persons = owners.person_possessive.eval(doc, None) or []
    clause = short_clauses(doc)
    for thing in things:
        kind = _owner_of(doc, thing, named, whose, persons, clause)
        if kind is None and not states:
            kind = "private"  # no owner of its own, and the item names private owners only
        if kind == "private":
            out.update(range(thing.start, thing.end + 1))
            notes.append(f"«{' '.join(doc.words[thing.start : thing.end + 1])}» privately owned")
    return Owned(frozenset(out), tuple(dict.fromkeys(notes)))


def _owner_of(
    doc: Doc, thing: Hit, named: list[tuple[Hit, str]], whose: list[Hit], persons: list[Hit], clause: list[int]
) -> str | None:
    """'private', 'state' or None (no owner in the thing's noun phrase)."""
    for w in whose:
        if 0 <= thing.start - w.end - 1 <= 2:
            before = [(h, k) for h, k in named if h.end < w.start]
            kind = _nearest(doc, w, before, WHOSE_REACH)
            if kind is not None:
                return kind
    if any(0 <= thing.start - p.end - 1 <= 2 for p in persons):
        return "private"
    return _nearest(doc, thing, named, OWNER_REACH, clause)


def _names_institution(doc: Doc, owners: Owners) -> bool:
    """Does the item carry a word an institution's name starts with? One set lookup per institution."""
    for node in owners.institutions.values():
        keys = node.triggers()
        if keys and not keys.isdisjoint(doc.key_pos):
            return True
    return False


def institution_keys(
    doc: Doc, owners: Owners, entity_countries: dict[str, frozenset[str]], entity_keys: dict[str, frozenset[str]]
) -> tuple[dict[int, tuple[str, ...]], tuple[str, ...]]:
    """Positions of institutions named without their country ("ЦБ"), given the keys of the entity that stands for
    their state, so "@russia" holds on "активов ЦБ"; and a note for each."""
    additions: dict[int, tuple[str, ...]] = {}
    notes: list[str] = []
    for code, node in owners.institutions.items():
        hits = node.eval(doc, None)
        if not hits:
            continue
        for entity, countries in entity_countries.items():
            keys = entity_keys.get(entity)
            if code not in countries or not keys:
                continue
            for h in hits:
                additions[h.start] = additions.get(h.start, ()) + tuple(keys)
                notes.append(f"«{' '.join(doc.words[h.start : h.end + 1])}» is {entity}'s institution")
    return additions, tuple(dict.fromkeys(notes))


@dataclass(frozen=True)
class States:
    """The country each entity stands for, and the keys of one of its one-word names: what an institution of
    that country is read as."""

    countries: dict[str, frozenset[str]] = field(default_factory=dict)
    keys: dict[str, frozenset[str]] = field(default_factory=dict)


def compile_owners(
    phrase: Callable[[str, str | None, str], CNode], alternatives: Callable[[list[CNode]], CNode]
) -> Owners:
    """owners.yaml compiled with the watchlist's own phrase compiler, each word met by its lemmas only, not its
    stems: an owner word is a known word, and a stem would read "financiam" (they fund) as "financista"."""

    def lemma_terms(label: str, by_language: dict[str, list[str]]) -> CNode:
        phrases: list[CNode] = []
        for lang, terms in by_language.items():
            for t in terms:
                node = phrase(t, lang, f"{label}: {t} ({lang})")
                if isinstance(node, CPhrase):
                    words = tuple(frozenset(k for k in ks if "~" not in k) or ks for ks in node.words)
                    node = CPhrase(words, node.label)
                phrases.append(node)
        return alternatives(phrases)

    data = owner_lists()
    kinds = ("private", "state", "whose", "person_possessive")
    private, state, whose, persons = (lemma_terms(f"owner {kind}", data[kind]) for kind in kinds)
    institutions = {code: lemma_terms(f"institution of {code}", f) for code, f in data["institutions"].items()}
    return Owners(private, state, whose, persons, institutions)


def entity_states(entities: Mapping[str, Entity], analyzer: Analyzer, owners: Owners) -> States:
    """Which entities stand for a country with institutions in owners.yaml: the entity's pinned code, else the
    CLDR name (any of the six languages) its id or one of its terms is."""
    if not owners.institutions:
        return States()
    names = {
        fold(name): code
        for lang in LANGUAGES
        for code, name in Locale.parse(lang).territories.items()
        if code in owners.institutions
    }
    countries: dict[str, frozenset[str]] = {}
    keys: dict[str, frozenset[str]] = {}
    for entity_id, entity in entities.items():
        pinned = entity.countries()
        forms = [entity_id, *(t for terms in entity.by_language.values() for t in terms)]
        found = set(pinned) if pinned is not None else {names[fold(f)] for f in forms if fold(f) in names}
        one_word = [t for t in forms[1:] if len(analyzer.words(t)) == 1]
        if found and one_word:
            countries[entity_id] = frozenset(found)
            keys[entity_id] = analyzer.term_keys(None, one_word[0])
    return States(countries, keys)


def owner_entities(query: str, entities: Mapping[str, object]) -> frozenset[str]:
    """The entities a query names beside other terms ("@frozen_assets AND @russia"): a watch about a state's
    property. A query of entities only, or of none, is not."""
    refs = set(re.findall(r"@([\w.-]+)", query))
    named = refs & set(entities)
    rest = re.sub(r"@[\w.-]+|\b(?:AND|OR|NOT)\b|[()]", "", query).strip()
    return frozenset(named) if named and (refs - named or rest) else frozenset()


def with_institutions(
    keys: frozenset[str] | None, watch_entities: frozenset[str], states: States, owners: Owners
) -> frozenset[str] | None:
    """The keys that make a watch a candidate; a state's institution stands for the state's entity."""
    if keys is None or not watch_entities & set(states.keys):
        return keys
    extra = [n.triggers() for n in owners.institutions.values()]
    return keys.union(*(t for t in extra if t is not None))


def read_owned(
    doc: Doc,
    node: CNode,
    hits: list[Hit] | None,
    watch_entities: frozenset[str],
    entities: Mapping[str, CNode],
    owners: Owners,
    states: States,
) -> tuple[list[Hit] | None, tuple[str, ...]]:
    """A watch's hits once ownership is read: things privately owned and countries named only as a private
    owner's nationality set aside, a state's institution read as the state; and notes saying so."""
    view = doc
    added: tuple[str, ...] = ()
    if hits is None and not _names_institution(doc, owners):
        return None, ()  # the common case: the query fails and no institution could make it hold
    if hits is None and watch_entities & set(states.keys):
        additions, added = institution_keys(doc, owners, states.countries, states.keys)
        if additions:
            view = doc.masked(frozenset())
            view.add_keys(additions)
            hits = node.eval(view, None)
    if hits is None:
        return None, ()
    entity_hits = [h for name in watch_entities for h in entities[name].eval(view, None) or []]
    spans = {(h.start, h.end) for h in entity_hits}
    owned = owned_privately(view, owners, [h for h in hits if (h.start, h.end) not in spans], entity_hits)
    if owned.private:
        hits = node.eval(view.masked(owned.private), None)
    return hits, (*added, *owned.notes)  # the notes also when nothing is left: a diagnosis names them
