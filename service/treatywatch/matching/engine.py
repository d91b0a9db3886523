"""Compile watchlists once per configuration; match items through a term index and explain every match."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..config.models import Config, TermSet
from ..errors import QueryError
from ..items import Item
from . import query as q
from .agreements import CompiledAgreement, EntityHits, assess, era
from .compiled import CAnd, CField, CNear, CNever, CNode, CNot, COr, CPhrase, CPhraseSet, CPrefix
from .doc import Doc
from .explain import Hit, Match, place_hits, snippet
from .text import LATIN_LANGUAGES, Analyzer, fold, is_cyrillic

DOC_CACHE_SIZE = 500_000  # words; a few tens of MB at most, cleared when full


def _alternatives(nodes: list[CNode]) -> CNode:
    """OR of nodes; plain phrases are indexed by their first word so a big set costs a few lookups."""
    nodes = [n for n in nodes if not isinstance(n, CNever)]
    if not nodes:
        return CNever()
    phrases = [n for n in nodes if isinstance(n, CPhrase)]
    others: list[CNode] = [n for n in nodes if not isinstance(n, CPhrase)]
    if len(phrases) > 1:
        others.insert(0, CPhraseSet.of(phrases))
    else:
        others = phrases + others
    return others[0] if len(others) == 1 else COr(tuple(others))


@dataclass(frozen=True)
class CompiledWatch:
    id: str
    title: str
    severity: str
    node: CNode
    sources: frozenset[str] | None
    agreements: frozenset[str] | None  # None: not required; empty: any tracked agreement
    source_query: str


class Watchlist:
    """All watches of one configuration, compiled, with an index from term keys to the watches they can start."""

    def __init__(self, config: Config, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer()
        self._sets: dict[str, CNode] = {}
        for name, ts in config.terms.items():
            self._sets[name] = self._compile_set(name, ts)
        self.entities: dict[str, CNode] = {name: self._compile_set(name, ts) for name, ts in config.entities.items()}
        self._sets.update(self.entities)
        self.agreements = [
            CompiledAgreement(a.id, a.title, tuple(a.parties), a.signed, self._compile_names(a.title, a.aliases))
            for a in config.agreements
        ]
        self._era = era(self.agreements)
        self._implied = {s.id: frozenset(s.implies) for s in config.sources if s.implies}
        self.watches: list[CompiledWatch] = []
        for w in config.watches:
            try:
                node = self._compile(q.parse_query(w.query), w.query)
            except QueryError as exc:
                raise QueryError(
                    f"watch '{w.id}' ({config.where('watches', w.id)}): {exc.args[0].split(' at ')[0]}",
                    exc.query,
                    exc.position,
                ) from exc
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
                )
            )
        self._vocabulary = self._collect_vocabulary()
        self._doc_keys: dict[str, tuple[str, ...]] = {}
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        prefixes: set[str] = set()
        for i, watch in enumerate(self.watches):
            keys = watch.node.triggers()
            if keys is None:
                self._always.append(i)
                continue
            for key in keys:
                self._index.setdefault(key, []).append(i)
                if key.startswith("*:"):
                    prefixes.add(key[2:])
        # All wildcard prefixes in one regex: a word starting with any of them makes its watches candidates.
        self._prefix_re = (
            re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True)) + ")")
            if prefixes
            else None
        )

    # -- compiling -------------------------------------------------------------------------------------------
    def _phrase(self, text: str, lang: str | None, label: str) -> CNode:
        words = self.analyzer.words(text)
        if not words:
            return CNever()
        keys = []
        for w in words:
            if lang is not None:
                keys.append(frozenset({self.analyzer.stem(lang, w)}))
            elif is_cyrillic(w):
                keys.append(frozenset({self.analyzer.stem("ru", w)}))
            else:
                keys.append(frozenset(self.analyzer.stem(lg, w) for lg in LATIN_LANGUAGES))
        return CPhrase(tuple(keys), label)

    def _compile_set(self, name: str, ts: TermSet) -> CNode:
        phrases = [
            self._phrase(t, lang, f"@{name}: {t} ({lang})") for lang, terms in ts.by_language.items() for t in terms
        ]
        return _alternatives(phrases)

    def _compile_names(self, title: str, aliases: dict[str, list[str]]) -> CNode | None:
        phrases = [self._phrase(title, None, f"title: {title}")]
        phrases += [self._phrase(a, lang, f"alias: {a} ({lang})") for lang, names in aliases.items() for a in names]
        return _alternatives(phrases)

    def _compile(self, node: q.Node, text: str) -> CNode:
        match node:
            case q.Words(words):
                return self._phrase(words, None, words)
            case q.Prefix(prefix):
                return CPrefix(fold(prefix), prefix + "*")
            case q.SetRef(name, position):
                if name not in self._sets:
                    known = ", ".join(sorted(self._sets)) or "none defined"
                    raise QueryError(f"unknown term set or entity '@{name}' (known: {known})", text, position)
                return self._sets[name]
            case q.And(children):
                return CAnd(tuple(self._compile(c, text) for c in children))
            case q.Or(children):
                return _alternatives([self._compile(c, text) for c in children])
            case q.Not(child):
                return CNot(self._compile(child, text))
            case q.Near(left, right, distance):
                return CNear(self._compile(left, text), self._compile(right, text), distance)
            case q.InField(field, child):
                return CField(field, self._compile(child, text))
        raise AssertionError(node)

    def _collect_vocabulary(self) -> frozenset[str]:
        """Every key some term can match: document tokens keep only these (and numbers, for years)."""
        vocab: set[str] = set()
        stack: list[object] = [
            *self._sets.values(),
            *(a.names for a in self.agreements),
            *(w.node for w in self.watches),
        ]
        while stack:
            node = stack.pop()
            if isinstance(node, CPhrase):
                for keys in node.words:
                    vocab |= keys
            elif isinstance(node, CPhraseSet):
                for phrases in node.by_first.values():
                    stack.extend(phrases)
            elif isinstance(node, CAnd | COr):
                stack.extend(node.children)
            elif isinstance(node, CNot | CField):
                stack.append(node.child)
            elif isinstance(node, CNear):
                stack += [node.left, node.right]
        return frozenset(vocab)

    def _keys(self, word: str) -> tuple[str, ...]:
        """A document token's keys that any term knows; most words have none, which keeps the index small.
        Doc caches the result in `_doc_keys` (bounded in `doc()`), so this runs once per new word."""
        vocab = self._vocabulary
        return tuple(k for k in self.analyzer.keys(word) if k in vocab or k.startswith("#"))

    # -- matching --------------------------------------------------------------------------------------------
    def doc(self, title: str, summary: str = "") -> Doc:
        if len(self._doc_keys) > DOC_CACHE_SIZE:
            self._doc_keys.clear()
        return Doc(self._keys, self.analyzer.fold, title, summary, self._doc_keys)

    def candidates(self, doc: Doc) -> list[int]:
        """One pass over the item's keys finds the watches that can possibly fire."""
        found = set(self._always)
        index = self._index
        for key in doc.key_pos:
            hit = index.get(key)
            if hit:
                found.update(hit)
        if self._prefix_re is not None:
            for m in self._prefix_re.finditer(doc.folded_text):
                found.update(index["*:" + m.group(1)])
        return sorted(found)

    def match(self, item: Item, only: Iterable[str] | None = None) -> list[Match]:
        """Every watch that fires on the item, each with its explanation. Pure: no I/O, no clock."""
        doc = self.doc(item.title, item.summary)
        wanted = set(only) if only is not None else None
        entity_hits: EntityHits | None = None
        out: list[Match] = []
        for i in self.candidates(doc):
            watch = self.watches[i]
            if wanted is not None and watch.id not in wanted:
                continue
            if watch.sources is not None and item.source_id not in watch.sources:
                continue
            hits = watch.node.eval(doc, None)
            if hits is None:
                continue
            concerned = []
            if watch.agreements is not None:
                entity_hits = entity_hits or EntityHits(
                    doc, self.entities, self._implied.get(item.source_id, frozenset())
                )
                for agreement in self.agreements:
                    if watch.agreements and agreement.id not in watch.agreements:
                        continue
                    got = assess(agreement, doc, entity_hits, self._era)
                    if got is not None:
                        concerned.append(got[0])
                        hits = [*hits, *got[1]]
                if not concerned:
                    continue
            out.append(self._explain(doc, watch, hits, tuple(concerned)))
        return out

    def _explain(self, doc: Doc, watch: CompiledWatch, hits: list[Hit], agreements: tuple) -> Match:
        places = place_hits(doc, hits)
        return Match(watch.id, watch.title, watch.severity, places, agreements, snippet(doc, places))

    def watch(self, watch_id: str) -> CompiledWatch:
        for w in self.watches:
            if w.id == watch_id:
                return w
        from ..errors import NotFoundError

        raise NotFoundError(f"no watch '{watch_id}'; known: {', '.join(w.id for w in self.watches)}")
