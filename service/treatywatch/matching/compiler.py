"""The watchlist's terms, sets, names and queries, compiled once per configuration into match nodes."""

from __future__ import annotations

from collections.abc import Iterable

from babel import Locale

from ..config.models import TermSet
from ..errors import QueryError
from ..vocabularies import load_vocabulary
from . import query as q
from .compiled import CAct, CAnd, CField, CNear, CNever, CNode, CNot, COr, CPhrase, CPhraseSet, CPrefix, CUnlessNear
from .doc import Doc
from .modality import Cues, cue_lists
from .support import PHRASAL_REACH, Support, phrasal
from .text import DE_PARTICLES, LANGUAGES, Analyzer, fold

# CLDR territory codes that are not states (the EU, the euro area, the UN, the world's regions, pseudo-locales)
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
SUBJECT_WORD_MIN = 5  # shorter title words (on, of, the, и) say nothing about what an agreement is about
NAME_STEM_MIN = 5  # a name's stem shorter than this is a common word's too: Paris and parado both stem to "par"


def alternatives(nodes: list[CNode]) -> CNode:
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


def international() -> dict[str, list[str]]:
    """The shipped international vocabulary's words (its country names come from CLDR here)."""
    return load_vocabulary("international")


def names_only(node: CNode) -> CNode:
    """An entity's phrases without the short stems of its names: a name meets its inflections (Russlands,
    Frankreichs) through a long stem, never a common word through a short one."""
    if isinstance(node, CPhrase):
        return _name_phrase(node)
    if isinstance(node, CPhraseSet):
        phrases = dict.fromkeys(p for group in node.by_first.values() for p in group)
        return CPhraseSet.of([_name_phrase(p) for p in phrases])
    if isinstance(node, COr):
        return alternatives([names_only(c) for c in node.children])
    return node


def _name_phrase(phrase: CPhrase) -> CPhrase:
    words = tuple(
        frozenset(k for k in keys if "~" not in k or len(k.split("~", 1)[1]) >= NAME_STEM_MIN) or keys
        for keys in phrase.words
    )
    return CPhrase(words, phrase.label)


def particle_noun(word: str) -> str:
    """The key of a German noun written as a separable particle (das Aus), apart from the particle's."""
    return f"de:{word.lower()}#noun"


def vocabulary_of(nodes: Iterable[CNode | None]) -> frozenset[str]:
    """Every key some term can match: document tokens keep only these (and numbers, for years)."""
    vocab: set[str] = set()
    stack: list[CNode | None] = list(nodes)
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
        elif isinstance(node, CNot | CField | CAct):
            stack.append(node.child)
        elif isinstance(node, CNear):
            stack += [node.left, node.right]
        elif isinstance(node, CUnlessNear):
            stack += [node.child, node.veto]
    return frozenset(vocab)


class TermCompiler:
    """Terms, term sets, names and queries into match nodes, with one analyzer and one list of support verbs;
    the compiled negation is the veto of reversed terms."""

    def __init__(self, analyzer: Analyzer, support: Support, negation: dict[str, list[str]]) -> None:
        self.analyzer = analyzer
        self.support = support
        # not reversible, so compiling it needs no veto of its own
        self.negation: CNode = self.terms("negation", negation)

    def phrase(self, text: str, lang: str | None, label: str) -> CNode:
        words = self.analyzer.words(text)
        if not words:
            return CNever()
        if lang == "de" and len(words) == 1 and words[0][:1].isupper() and words[0].lower() in DE_PARTICLES:
            return CPhrase((frozenset({particle_noun(words[0])}),), label)  # das Aus: the noun, not the particle
        return CPhrase(tuple(self.analyzer.term_keys(lang, w) for w in words), label)

    def countries(self) -> CNode:
        """Every country's name in the six languages, from CLDR through Babel."""
        phrases = [
            self.phrase(name, lang, f"country: {code}")
            for lang in LANGUAGES
            for code, name in Locale.parse(lang).territories.items()
            if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
        ]
        return alternatives(phrases)

    def cues(self) -> Cues:
        data = cue_lists()
        reach = data.get("reach", {})

        modal, negation, retro, frames = (
            self.terms(kind, data[kind]) for kind in ("modal", "negation", "retrospective", "frames")
        )
        history = data["history"]
        ending, period = (self.terms(f"history {kind}", history[kind]) for kind in ("ending", "period"))
        acts = self.terms("act", data["acts"])
        return Cues(modal, negation, retro, reach["modal"], reach["negation"], frames, ending, period, acts)

    def subject(
        self,
        title: str,
        parties: list[str],
        query_sets: set[str],
        sets: dict[str, CNode],
        entities: dict[str, CNode],
    ) -> CNode | None:
        """What the agreement is about, as evidence against a namesake: the content words of its title (military,
        cooperation, visits) and every term set of the operator's that holds one of them (@military in all its
        languages). Party names and the sets the watches themselves ask for (@agreement) are not evidence."""
        doc = Doc(lambda w: self.analyzer.keys(w), fold, title, "", {})
        taken: set[int] = set()
        for name in parties:
            node = entities.get(name)
            for h in (node.eval(doc, None) if node is not None else None) or []:
                taken.update(range(h.start, h.end + 1))
        evidence: list[CNode] = []
        parties_at = frozenset(taken)
        for name, node in sets.items():
            hits = node.eval(doc, None) if name not in entities else None
            if not hits:
                continue
            places = {p for h in hits for p in range(h.start, h.end + 1)}
            taken.update(places)
            # a set that only names the parties (countries in @international) says nothing of the subject
            if name not in query_sets and not places <= parties_at:
                evidence.append(node)
        for pos, word in enumerate(doc.words):
            if pos not in taken and len(word) >= SUBJECT_WORD_MIN and not word.isdigit():
                evidence.append(self.phrase(word, None, f"subject: {word}"))
        return alternatives(evidence) if evidence else None

    def term_set(self, name: str, ts: TermSet, reversible: bool = True) -> CNode:
        node = self.terms(f"@{name}", ts.by_language, reversible)
        if not ts.unless_near:
            return node
        return CUnlessNear(node, self.terms(f"@{name} unless near", ts.unless_near), ts.unless_within)

    def terms(self, label: str, by_language: dict[str, list[str]], reversible: bool = False) -> CNode:
        """Terms by language, one alternative each, labelled `label: term (lang)` in explanations; a support-verb
        term also by its noun and complement (support.py). With `reversible` (an operator's term sets), a term of
        a modifier and a noun also meets the noun with the modifier after it, as a predicate or postposed
        participle: "assets kept immobilised", "активы заморожены", "Vermögenswerte bleiben eingefroren"."""
        nodes = []
        turned: list[CNode] = []
        for lang, terms in by_language.items():
            for t in terms:
                nodes.append(self.phrase(t, lang, f"{label}: {t} ({lang})"))
                words = t.split()
                if reversible and len(words) == 2 and not all(w[:1].isupper() for w in words):
                    turned.append(self.phrase(f"{words[1]} {words[0]}", lang, f"{label}: {t} ({lang})"))
                nodes += [
                    self.phrase(noun, lang, f"{label}: {t} ({lang}, as «{noun}»)")
                    for noun in self.support.nominal(self.analyzer, t, lang)
                ]
                split = phrasal(t, lang) if reversible else None
                if split:  # put the accord on hold
                    verb, rest = (self.phrase(w, lang, f"{label}: {t} ({lang})") for w in split)
                    nodes.append(CAnd((verb, CNear(verb, rest, PHRASAL_REACH))))
        if turned:  # one indexed set for all of them; not "активы не заморожены"
            nodes.append(CUnlessNear(alternatives(turned), self.negation, 0))
        return alternatives(nodes)

    def names(self, title: str, aliases: dict[str, list[str]]) -> CNode | None:
        phrases = [self.phrase(title, None, f"title: {title}")]
        phrases += [self.phrase(a, lang, f"alias: {a} ({lang})") for lang, names in aliases.items() for a in names]
        return alternatives(phrases)

    def query(self, node: q.Node, text: str, sets: dict[str, CNode]) -> CNode:
        match node:
            case q.Words(words):
                return self.phrase(words, None, words)
            case q.Prefix(prefix):
                return CPrefix(fold(prefix), prefix + "*")
            case q.SetRef(name, position):
                if name not in sets:
                    known = ", ".join(sorted(sets)) or "none defined"
                    raise QueryError(f"unknown term set or entity '@{name}' (known: {known})", text, position)
                return sets[name]
            case q.And(children):
                return CAnd(tuple(self.query(c, text, sets) for c in children))
            case q.Or(children):
                return alternatives([self.query(c, text, sets) for c in children])
            case q.Not(child):
                return CNot(self.query(child, text, sets))
            case q.Near(left, right, distance):
                return CNear(self.query(left, text, sets), self.query(right, text, sets), distance)
            case q.InField(field, child) if field in q.ACT_FIELDS:
                return CAct(field, self.query(child, text, sets))
            case q.InField(field, child):
                return CField(field, self.query(child, text, sets))
        raise AssertionError(node)
