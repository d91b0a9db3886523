"""Watchlists compiled once per configuration (compiler.py) match items through a term index and explain every match."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ..config.models import Config
from ..errors import NotFoundError, QueryError, unknown_name
from ..items import BODY_MAX_CHARS, SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, Item
from . import query as q
from .agreements import CompiledAgreement, EntityHits, Ties, assess, era, mark_subjects
from .compiled import CNode
from .compiler import TermCompiler, alternatives, international, names_only, particle_noun, vocabulary_of
from .doc import Doc
from .explain import HitPlace, Match, place_hits, snippet
from .language import LanguageNote, language_note
from .modality import Talk, cue_lists, describe, talk
from .mood import Mood
from .ownership import compile_owners, entity_states, owner_entities, read_owned, with_institutions
from .reading import DEFAULT_FIELDS, Finder, ItemReading, fields_named, verb_terms, with_body
from .support import Support
from .text import DE_PARTICLE_REACH, DE_PARTICLES, LANGUAGES, MAX_TOKEN_CHARS, Analyzer, fold, is_cyrillic
from .voice import negations

DOC_CACHE_SIZE = 500_000  # words; a few tens of MB at most, cleared when full
# the particles as they are written (aus, Aus, AUS): a set lookup per word instead of folding every word
_PARTICLE_FORMS = frozenset(f for p in DE_PARTICLES for f in (p, p.capitalize(), p.upper()))


@dataclass(frozen=True)
class CompiledWatch:
    id: str
    title: str
    severity: str
    node: CNode
    sources: frozenset[str] | None
    agreements: frozenset[str] | None  # None: not required; empty: any tracked agreement
    source_query: str
    decided: bool = False  # set aside words in the scope of talk, negation or retrospection
    fields: frozenset[str] = DEFAULT_FIELDS  # what the query may fire on: `fields` and the fields the query names
    # the entities (states) a watch names beside other terms: the property it finds must be theirs (ownership.py)
    entities: frozenset[str] = frozenset()


class Watchlist:
    """All watches of one configuration, compiled, with an index from term keys to the watches they can start."""

    def __init__(self, config: Config, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer()
        cues = cue_lists()
        support = Support.of_lists(cues.get("support", {}), cues["history"]["ending"])
        compiler = TermCompiler(self.analyzer, support, cues["negation"])
        self._negation = compiler.negation
        self._sets: dict[str, CNode] = {}
        for name, ts in config.terms.items():
            self._sets[name] = compiler.term_set(name, ts)
        self.entities: dict[str, CNode] = {
            name: names_only(compiler.term_set(name, ts, reversible=False)) for name, ts in config.entities.items()
        }
        self._sets.update(self.entities)
        self.cues = compiler.cues()
        self.mood = Mood(self.analyzer)
        signing = cue_lists()["signing"]
        self._ties = Ties(
            compiler.terms("signing", signing["ties"]),
            frozenset(fold(w) for words in signing["duration"].values() for w in words),
        )
        # the sets agreement watches ask for (@agreement, @termination) are present in every report: no evidence
        query_sets = {n for w in config.watches if w.agreements for n in re.findall(r"@([\w-]+)", w.query)}
        self.agreements = [
            CompiledAgreement(
                a.id,
                a.title,
                tuple(a.parties),
                a.signed,
                compiler.names(a.title, a.aliases),
                compiler.subject(a.title, a.parties, query_sets, self._sets, self.entities),
            )
            for a in config.agreements
        ]
        signing_years = Counter(a.signed for a in self.agreements)
        self.agreements = [
            replace(
                a,
                others_years=frozenset(
                    o.signed for o in self.agreements if o.signed is not None and set(o.parties) != set(a.parties)
                ),
                year_unique=a.signed is not None and signing_years[a.signed] == 1,
            )
            for a in self.agreements
        ]
        self._era = era(self.agreements)
        # a party of every tracked agreement may go unnamed when no other country is (agreements._may_go_unnamed)
        party_sets = [set(a.parties) for a in self.agreements]
        self._common = frozenset(set.intersection(*party_sets)) if len(party_sets) >= 3 else frozenset()
        self._countries = compiler.countries() if self._common else None
        self._parties = frozenset(p for a in self.agreements for p in a.parties)
        # what a portal act's explanation says of its foreign party: a country other than the home one, or an
        # international word or organisation (vocabularies/international.yaml)
        self._foreign = alternatives(
            [self._countries or compiler.countries(), compiler.terms("international", international())]
        )
        self._implied = {s.id: frozenset(s.implies) for s in config.sources if s.implies}
        # an act's operative clause and the agreements its entries list (reading.py, operative.py)
        self._verbs = compiler.terms("operative verb", verb_terms(config.terms, self.analyzer))
        self._finder = Finder.of(
            self.agreements,
            entities=self.entities,
            era=self._era,
            common=self._common,
            countries=self._countries,
            parties=self._parties,
            negation=negations(cues["negation"]),
            ties=self._ties,
        )
        self.watches: list[CompiledWatch] = []
        for w in config.watches:
            try:
                parsed = q.parse_query(w.query)
                node = compiler.query(parsed, w.query, self._sets)
            except QueryError as exc:
                raise exc.in_watch(w.id, config.where("watches", w.id, "query")) from exc
            agreements: frozenset[str] | None = None
            if w.agreements == "all":
                agreements = frozenset()
            elif isinstance(w.agreements, list):
                agreements = frozenset(w.agreements)
            self.watches.append(
                CompiledWatch(
                    w.id,
                    w.title or w.id,
                    w.severity,
                    node,
                    frozenset(w.sources) if w.sources else None,
                    agreements,
                    w.query,
                    w.decided if w.decided is not None else agreements is not None,
                    fields=frozenset(w.fields) | fields_named(parsed),
                )
            )
        self.owners = compile_owners(compiler.phrase, alternatives)
        self._states = entity_states(config.entities, self.analyzer, self.owners)
        self.watches = [replace(w, entities=owner_entities(w.source_query, self.entities)) for w in self.watches]
        self._vocabulary = vocabulary_of(self._nodes())
        self._doc_keys: dict[str | None, dict[str, tuple[str, ...]]] = {}
        self._joined: dict[tuple[str, str], tuple[str, ...]] = {}  # particle + lemma -> keys (bounded in doc())
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        prefixes: set[str] = set()
        for i, watch in enumerate(self.watches):
            keys = with_institutions(watch.node.triggers(), watch.entities, self._states, self.owners)
            if keys is None:
                self._always.append(i)
                continue
            for key in keys:
                self._index.setdefault(key, []).append(i)
                if key.startswith("*:"):
                    prefixes.add(key[2:])
        # Wildcard prefixes become keys of the words that start with them, found once per new word like any other
        # key, so candidates come from the index alone (no pass over each item's whole text).
        self._prefixes = tuple(sorted(prefixes))

    def _nodes(self) -> list[CNode | None]:
        """Every compiled node the watchlist matches with: the keys they know are its vocabulary."""
        return [
            *self._sets.values(),
            *(a.names for a in self.agreements),
            *(a.subject for a in self.agreements),
            *(w.node for w in self.watches),
            self.cues.modal,
            self.cues.negation,
            self.cues.retrospective,
            self.cues.frames,
            self.cues.ending,
            self.cues.period,
            self.cues.acts,
            self._ties.ties,
            self.owners.private,
            self.owners.state,
            self.owners.whose,
            self.owners.person_possessive,
            *self.owners.institutions.values(),
            self._countries,
            self._foreign,
            self._verbs,
        ]

    # -- document keys ---------------------------------------------------------------------------------------
    def _keys(self, word: str, lang: str | None) -> tuple[str, ...]:
        """A document token's keys that any term knows; most words have none, which keeps the index small.
        Doc caches the result per language (bounded in `doc()`), so this runs once per new word. A long German
        word no term knows is tried as a compound (Militärabkommen → Abkommen, Militär)."""
        vocab = self._vocabulary
        keys = tuple(k for k in self.analyzer.keys(word, lang) if k in vocab or k.startswith("#"))
        if not keys and lang in (None, "de") and len(word) <= MAX_TOKEN_CHARS and not is_cyrillic(word):
            keys = self.analyzer.compound_keys(word, vocab)
        if self._prefixes:
            folded = self.analyzer.fold(word)
            keys += tuple("*:" + p for p in self._prefixes if folded.startswith(p))
        return keys

    def _particle_nouns(self, doc: Doc) -> None:
        """German nouns written as a particle ("das Aus", "Moskaus Aus für das Abkommen"): capitalised where no
        sentence opens, they get the noun's key, which a term written "Aus" has (and the preposition has not)."""
        additions: dict[int, tuple[str, ...]] = {}
        for p, word in enumerate(doc.words):
            if not (p and doc.words[p - 1] and word[:1].isupper() and word.lower() in DE_PARTICLES):
                continue
            key = particle_noun(word)
            field, span = doc.locate(p)
            text = doc.title if field == "title" else doc.summary if field == "summary" else doc.body
            if key in self._vocabulary and not re.search(r"[.!?:;]\s*$", text[: span.start]):
                additions[p] = (key,)
        if additions:
            doc.add_keys(additions)

    def _join_separable(self, doc: Doc) -> None:
        """German separable verbs: "setzt das Abkommen aus" gives the verb's position the keys of aussetzen.
        Each word before a particle is analysed once per item and each particle+lemma pair once while cached: a
        text of particles would otherwise analyse every word DE_PARTICLE_REACH times. A token too long for a verb
        is passed over."""
        forms_of: dict[str, tuple[str, ...]] = {}
        pairs: dict[tuple[str, str], tuple[str, ...]] = {}
        additions: dict[int, tuple[str, ...]] = {}
        for p, raw in enumerate(doc.words):
            if raw not in _PARTICLE_FORMS:
                continue
            word = raw.lower()
            for back in range(p - 1, max(-1, p - 1 - DE_PARTICLE_REACH), -1):
                other = doc.words[back]
                if not other:
                    break
                joined = pairs.get((word, other))
                if joined is None:
                    joined = pairs[(word, other)] = self._joined_keys(word, other, forms_of)
                if joined:
                    additions[back] = additions.get(back, ()) + joined
        if additions:
            doc.add_keys(additions)

    def _joined_keys(self, particle: str, other: str, forms_of: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """Keys some term knows of the particle joined to the word's lemmas (aus + setzen: aussetzen)."""
        forms = forms_of.get(other)
        if forms is None:
            skip = other.isdigit() or len(other) > MAX_TOKEN_CHARS or is_cyrillic(other)
            forms = forms_of[other] = () if skip else self.analyzer.lemmas("de", other)[0]
        joined: tuple[str, ...] = ()
        for f in forms:
            keys = self._joined.get((particle, f))
            if keys is None:
                keys = self._joined[(particle, f)] = tuple(
                    k
                    for k in self.analyzer.word_keys("de", particle + f, with_stem=False)
                    if k in self._vocabulary and not k.startswith("#")
                )
            joined += keys
        return joined

    # -- matching --------------------------------------------------------------------------------------------
    def doc(self, title: str, summary: str = "", lang: str | None = None, body: str = "") -> Doc:
        """The item's index. make_item caps the fields; an item that did not pass through it (stored before the
        caps) is held to them here too, so no text makes matching longer than the caps allow."""
        title, summary, body = title[:TITLE_MAX_CHARS], summary[:SUMMARY_MAX_CHARS], body[:BODY_MAX_CHARS]
        lang = lang if lang in LANGUAGES else None
        cache = self._doc_keys.setdefault(lang, {})
        if len(cache) > DOC_CACHE_SIZE:
            cache.clear()
        if len(self._joined) > DOC_CACHE_SIZE:
            self._joined.clear()
        doc = Doc(lambda w: self._keys(w, lang), self.analyzer.fold, title, summary, cache, self.analyzer.dates, body)
        if lang in (None, "de") and not _PARTICLE_FORMS.isdisjoint(doc.words):
            self._join_separable(doc)
            self._particle_nouns(doc)
        return doc

    def item_doc(self, item: Item) -> Doc:
        """The item's index, with its act's type and issuer as texts of their own (doc_type:, issuer:)."""
        doc = self.doc(item.title, item.summary, item.language)
        doc.facets = self.act_facets(item)
        return doc

    def act_facets(self, item: Item) -> dict[str, Doc]:
        """The act's type and issuer, each a text of its own (none for an item that is no act)."""
        act = item.act
        if act is None:
            return {}
        named = (("doc_type", act.doc_type), ("issuer", act.issuer))
        return {name: self.doc(value, "", item.language) for name, value in named if value}

    def candidates(self, doc: Doc) -> list[int]:
        """One pass over the item's keys finds the watches that can possibly fire."""
        found = set(self._always)
        index = self._index
        for key in doc.key_pos:
            hit = index.get(key)
            if hit:
                found.update(hit)
        return sorted(found)

    def reading(self, item: Item) -> ItemReading:
        """The item's docs by fields and its body's agreements, built when first asked."""
        implied = self._implied.get(item.source_id, frozenset())
        return ItemReading(item, self.doc, self.act_facets, self._finder, self._verbs, self.analyzer, implied)

    def match(self, item: Item, only: Iterable[str] | None = None) -> list[Match]:
        """Every watch that fires on the item, each with its explanation. Pure: no I/O, no clock."""
        reading = self.reading(item)
        reads_body = bool(item.body) and any("body" in w.fields for w in self.watches)
        wanted = set(only) if only is not None else None
        entity_hits: dict[int, EntityHits] = {}
        decided_docs: dict[int, Doc] = {}
        foreign: str | None = None  # a portal act's foreign party, found once per item
        published = item.published.year if item.published else None
        language: LanguageNote | None = None  # read for the first match only: most items match nothing
        act = item.act if item.body else None  # its document's URL links a snippet of the body to its page
        out: list[Match] = []
        for i in self.candidates(reading.doc(DEFAULT_FIELDS | {"body"} if reads_body else DEFAULT_FIELDS)):
            watch = self.watches[i]
            if wanted is not None and watch.id not in wanted:
                continue
            if watch.sources is not None and item.source_id not in watch.sources:
                continue
            doc = reading.doc(watch.fields)
            hits = watch.node.eval(doc, None)
            owner_notes: tuple[str, ...] = ()
            if watch.entities:
                hits, owner_notes = read_owned(
                    doc, watch.node, hits, watch.entities, self.entities, self.owners, self._states
                )
            if hits is None:
                continue
            if watch.decided:
                decided_doc = decided_docs.get(id(doc))
                if decided_doc is None:
                    said = self.talk(doc, item.language)
                    decided_doc = decided_docs[id(doc)] = doc.masked(said.positions) if said.positions else doc
                if decided_doc is not doc:
                    hits = watch.node.eval(decided_doc, None)
                    if hits is None:
                        continue
            concerned = []
            body_places: list[HitPlace] = []
            if watch.agreements is not None:
                head = reading.doc(watch.fields - {"body"})  # the title's positions are the same in `doc`
                found = entity_hits.get(id(head))
                if found is None:
                    found = entity_hits[id(head)] = EntityHits(
                        head, self.entities, self._implied.get(item.source_id, frozenset()), self._ties
                    )
                for agreement in self.agreements:
                    if watch.agreements and agreement.id not in watch.agreements:
                        continue
                    got = assess(
                        agreement, head, found, self._era, published, self._common, self._countries, self._parties
                    )
                    if got is not None:
                        concerned.append(got)
                if concerned:
                    concerned = mark_subjects(head, concerned)
                if item.body:
                    listed, verbs = reading.listed()
                    before = len(concerned)
                    concerned = with_body(concerned, listed, watch.agreements or None)
                    body_places = verbs if len(concerned) > before or any(x.subject for x in listed) else []
                if not concerned:
                    continue
                hits = [*hits, *(h for _, agreement_hits in concerned for h in agreement_hits)]
            places = place_hits(doc, hits)
            if body_places:
                places = tuple(dict.fromkeys((*places, *body_places)))
            document_url = act.document_url if act is not None else ""
            agreements = tuple(a for a, _ in concerned)
            shown = snippet(doc, places, document_url)
            if foreign is None and item.act is not None:
                foreign = self.foreign_party(doc, item.source_id)
            notes = (*owner_notes, foreign) if foreign is not None else owner_notes
            if not out:
                note = language_note(item)
                language = note if note.language is not None or note.origin is not None else None
            out.append(Match(watch.id, watch.title, watch.severity, places, agreements, shown, language, notes))
        return out

    def set_aside(self, item: Item) -> list[tuple[str, list[str]]]:
        """Watches whose query holds on the item's words but not once talk is set aside, each with the cue words
        (`treatywatch match` shows them, so an operator sees why "senators call on Warsaw to scrap" is silent)."""
        doc = self.item_doc(item)
        said = self.talk(doc, item.language)
        if not said.positions:
            return []
        masked = doc.masked(said.positions)
        words = describe(doc, said, kinds=False)
        out = []
        for watch in self.watches:
            if watch.decided and watch.node.eval(doc, None) is not None and watch.node.eval(masked, None) is None:
                out.append((watch.id, words))
        return out

    def foreign_party(self, doc: Doc, source_id: str) -> str:
        """Whether an act names a party outside the watchlist's home (the states party to every tracked agreement
        and those its source implies): `foreign party: «Хорватия»`, or `no foreign party named`."""
        home = (self._common | self._implied.get(source_id, frozenset())) & set(self.entities)
        covered = {p for e in home for h in self.entities[e].eval(doc, None) or [] for p in range(h.start, h.end + 1)}
        found = [h for h in self._foreign.eval(doc, None) or [] if h.start not in covered]
        if not found:
            return "no foreign party named"
        words = dict.fromkeys(" ".join(doc.words[h.start : h.end + 1]) for h in sorted(found, key=lambda h: h.start))
        return "foreign party: " + ", ".join(f"«{w}»" for w in list(words)[:3])

    def talk(self, doc: Doc, lang: str | None) -> Talk:
        """What the item says is proposed, possible, negated, looked back on or historical (modality.py)."""
        return talk(doc, self.cues, self.mood, lang)

    def watch(self, watch_id: str) -> CompiledWatch:
        for w in self.watches:
            if w.id == watch_id:
                return w
        raise NotFoundError(unknown_name("watch", watch_id, [w.id for w in self.watches]))
