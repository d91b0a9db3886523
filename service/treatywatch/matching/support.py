"""Support-verb constructions: in "mettre fin à", "pôr fim a", "poner fin a", "put an end to" or "ein Ende setzen"
the verb is light and the noun carries the meaning, so a term written so also meets the noun with its complement
("la fin de l'accord", "o fim do acordo", "the end of the pact", "das Ende des Abkommens"). The verbs and the words
that open a complement are language-level lists in cues.yaml (`support`)."""

from __future__ import annotations

from dataclasses import dataclass

from .text import Analyzer, fold

# English phrasal verbs take their object between the verb and the particle: "put the accord on hold", "tear the
# treaty up", "break the talks off" (the grammars' separable phrasal verbs; the German ones are joined in engine.py)
PARTICLES_EN = frozenset("on off up out down away back".split())
PHRASAL_REACH = 7  # NEAR distance from an English verb to its particle: an object of up to six words between

ARTICLES = frozenset("a an the un une le la les um uma o os as el los las ein eine einen einem einer".split())


@dataclass(frozen=True)
class Support:
    verbs: dict[str, frozenset[str]]
    of: dict[str, tuple[str, ...]]
    # the nouns of ending (cues.yaml history.ending): only these carry an event of their own ("la fin de
    # l'accord"); "aux termes de l'accord" (under its terms) or "en suspens" do not
    nouns: dict[str, frozenset[str]]

    @classmethod
    def of_lists(cls, data: dict, nouns: dict[str, list[str]]) -> Support:
        verbs = {lang: frozenset(fold(v) for v in vs) for lang, vs in data.get("verbs", {}).items()}
        ending = {lang: frozenset(fold(n) for n in ns) for lang, ns in nouns.items()}
        return cls(verbs, {lang: tuple(ws) for lang, ws in data.get("of", {}).items()}, ending)

    def nominal(self, analyzer: Analyzer, term: str, lang: str | None) -> list[str]:
        """The noun forms a support-verb term also stands for ("mettre fin" → "fin de", "fin du", "fin des")."""
        if lang is None or lang not in self.verbs:
            return []
        words = analyzer.words(term)
        if len(words) < 2:
            return []
        first, last = words[0], words[-1]
        if self._is_verb(analyzer, lang, first):
            rest = [w for w in words[1:] if fold(w) not in ARTICLES]
            noun = rest[0] if rest else ""
        elif self._is_verb(analyzer, lang, last):
            rest = [w for w in words[:-1] if fold(w) not in ARTICLES]
            noun = rest[-1] if rest else ""
        else:
            return []
        if fold(noun) not in self.nouns.get(lang, frozenset()):
            return []
        return [f"{noun} {of}" for of in self.of.get(lang, ())]

    def _is_verb(self, analyzer: Analyzer, lang: str, word: str) -> bool:
        forms, _ = analyzer.lemmas(lang, word)
        return fold(word) in self.verbs[lang] or any(f in self.verbs[lang] for f in forms)


def phrasal(term: str, lang: str | None) -> tuple[str, str] | None:
    """An English phrasal-verb term split into its verb and the rest ("put on hold" → "put", "on hold"), so the
    rest may follow the verb's object; None for any other term."""
    words = term.split()
    if lang != "en" or len(words) < 2 or words[1].lower() not in PARTICLES_EN:
        return None
    return words[0], " ".join(words[1:])
