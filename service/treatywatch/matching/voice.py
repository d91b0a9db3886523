"""The passive and impersonal voices of an act's operative clause: which verb phrases around a termination or
suspension verb decide, as an order does ("Terminate …", "Прекратить …"), what the act ends.

Acts write the decision as often without an order: "The following agreements are hereby terminated:", "Das
Abkommen … wird gekündigt.", "Il est mis fin aux accords suivants :", "Se denuncian los siguientes convenios:",
"Fica denunciado o Acordo …", "Считать прекратившим действие Соглашение …", "Прекращается действие Соглашения …".
Each is read from the grammar, around a word the termination and suspension vocabularies' verbs matched:

- a past participle of the verb (its shape in the language: -ed, -é/-i/-u/-s/-t, -ado/-ido/-to, ge-…-t) after a
  present-tense passive auxiliary (be, être, werden, ser/quedar, ser/ficar: the closed class of their third-person
  present forms), with no negation between, and an impersonal subject before it (fr "il est mis fin");
- the reflexive passive (es "se denuncian", pt "denunciam-se"): the verb's third-person present, built from its
  lemma (stem + -a/-an, -e/-en, -am, -em), with the pronoun "se" beside it;
- Russian: a reflexive verb in the present (прекращается), or an instrumental participle after a verb written as
  an order (считать прекратившим, признать утратившими силу: the deeming construction, found by its cases, not by
  its verb).

A past ("was terminated", "wurde gekündigt", "fue denunciado", "прекратилось"), a perfect ("has been", "a été",
"ist … worden"), a modal ("may be terminated", "kann gekündigt werden", "может быть прекращено") or an active
narrative ("Russia terminated") is none of these: the auxiliaries are present-tense forms only, a participle
followed by werden/worden is no German present passive, and a Russian past is no present. Where the phrase stands
in its clause (opening it, or closing a clause whose subject names the agreements) is operative.py's reading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .doc import Doc
from .explain import Hit
from .text import DE_PARTICLES, LATIN_LANGUAGES, Analyzer, fold, is_cyrillic

# present-tense third-person forms of each language's passive auxiliaries, as written (lower case)
AUXILIARIES: dict[str, frozenset[str]] = {
    "en": frozenset({"is", "are"}),
    "fr": frozenset({"est", "sont"}),
    "de": frozenset({"wird", "werden"}),
    "es": frozenset({"es", "son", "queda", "quedan"}),
    "pt": frozenset({"é", "são", "fica", "ficam"}),
}
_IMPERSONAL = {"fr": frozenset({"il"})}  # "Il est mis fin aux accords suivants"
_REFLEXIVE_PRONOUN = {"es": "se", "pt": "se"}
# third-person present endings of the reflexive passive, by the infinitive's ending
_PRESENT_3 = {
    "es": {"ar": ("a", "an"), "er": ("e", "en"), "ir": ("e", "en")},
    "pt": {"ar": ("a", "am"), "er": ("e", "em"), "ir": ("e", "em")},
}
_PARTICIPLE = {
    "en": re.compile(r"(?<!ing)(?<!s)$"),  # any past form but the present's -s and -ing; the auxiliary decides
    "fr": re.compile(r"(?:é|i|u|s|t)e?s?$"),
    "es": re.compile(r"(?:ad|id|t|ch)[oa]s?$"),
    "pt": re.compile(r"(?:ad|id|t)[oa]s?$"),
}
_DE_INSEPARABLE = ("be", "emp", "ent", "er", "ge", "miss", "ver", "zer")
_DE_PERFECT = frozenset({"werden", "worden"})  # "gekündigt werden" (modal, future), "gekündigt worden" (perfect)
AUX_REACH = 3  # words between an auxiliary and its participle ("are hereby terminated", "est, par la présente, …")
DE_AUX_REACH = 60  # German puts the participle last: "wird das Abkommen zwischen … vom … gekündigt"


@dataclass(frozen=True)
class Phrase:
    """A passive or impersonal verb phrase: its first and last positions in the doc."""

    first: int
    last: int


def negations(cues: dict[str, list[str]]) -> frozenset[str]:
    """The negation cues (cues.yaml `negation`) folded: none may stand between an auxiliary and its participle."""
    return frozenset(fold(w) for words in cues.values() for w in words)


def voice_test(
    analyzer: Analyzer, lang: str | None, is_order: Callable[[str], bool], negation: frozenset[str]
) -> Callable[[Doc, Hit], Phrase | None]:
    """For an item in `lang`: the passive or impersonal phrase around a termination verb's hit, if it is one."""

    def voice(doc: Doc, hit: Hit) -> Phrase | None:
        words = doc.words
        if is_cyrillic(words[hit.start]):
            return _russian(analyzer, doc, hit, is_order)
        for lg in (lang,) if lang in LATIN_LANGUAGES else LATIN_LANGUAGES:
            found = _latin(analyzer, lg, doc, hit, negation)
            if found is not None:
                return found
        return None

    return voice


def _russian(analyzer: Analyzer, doc: Doc, hit: Hit, is_order: Callable[[str], bool]) -> Phrase | None:
    """прекращается (a reflexive present), or считать / признать + an instrumental participle."""
    for p in range(hit.start, hit.end + 1):
        word = doc.words[p]
        parses = analyzer.morph_parses(word)
        if word.lower().endswith(("ся", "сь")) and any(
            x.tag.POS == "VERB" and "pres" in x.tag and "3per" in x.tag for x in parses
        ):
            return Phrase(hit.start, hit.end)
        if p > 0 and any(x.tag.POS in ("PRTF", "PRTS") and "ablt" in x.tag for x in parses):
            before = doc.words[p - 1]
            if before and is_order(before):
                return Phrase(p - 1, hit.end)
    return None


def _latin(analyzer: Analyzer, lang: str, doc: Doc, hit: Hit, negation: frozenset[str]) -> Phrase | None:
    words = doc.words
    for p in range(hit.start, hit.end + 1):
        word = words[p]
        if _participle(analyzer, lang, word):
            aux = _auxiliary(lang, words, p, negation)
            if aux is not None:
                if lang == "de" and p + 1 < len(words) and words[p + 1].lower() in _DE_PERFECT:
                    return None
                impersonal = aux > 0 and words[aux - 1].lower() in _IMPERSONAL.get(lang, ())
                return Phrase(aux - 1 if impersonal else aux, hit.end)
        pronoun = _REFLEXIVE_PRONOUN.get(lang)
        if pronoun is not None and _present_3(analyzer, lang, word):
            if p > 0 and words[p - 1].lower() == pronoun:
                return Phrase(p - 1, hit.end)
            if lang == "pt" and p + 1 < len(words) and words[p + 1].lower() == pronoun:
                return Phrase(p, max(hit.end, p + 1))  # denunciam-se
    return None


def _auxiliary(lang: str, words: list[str], p: int, negation: frozenset[str]) -> int | None:
    """The position of a present passive auxiliary before the participle at `p`, within reach, with no negation
    between (nor a gap between fields or pages)."""
    forms = AUXILIARIES.get(lang, frozenset())
    reach = DE_AUX_REACH if lang == "de" else AUX_REACH
    for q in range(p - 1, max(-1, p - 2 - reach), -1):
        word = words[q]
        if not word or fold(word) in negation:
            return None
        if word.lower() in forms:
            return q
    return None


def _participle(analyzer: Analyzer, lang: str, word: str) -> bool:
    """Is the word shaped as a past participle of its verb in `lang`?"""
    lower = word.lower()
    if lang == "de":
        lemma = analyzer.lemmas("de", word)[0][0]
        if lemma == fold(lower) or not lower.endswith(("t", "en")):
            return False
        stem = next((lower[len(x) :] for x in DE_PARTICLES if lower.startswith(x + "ge")), lower)
        return stem.startswith("ge") or lemma.startswith(_DE_INSEPARABLE) or lemma.endswith("ieren")
    rule = _PARTICIPLE.get(lang)
    if rule is None or not rule.search(lower):
        return False
    if lang == "en":
        return analyzer.lemmas("en", word)[0][0] != lower
    return True


def _present_3(analyzer: Analyzer, lang: str, word: str) -> bool:
    """A third-person present of its verb: the lemma's stem and a present ending (denuncia, denuncian)."""
    folded = fold(word)
    for lemma in analyzer.lemmas(lang, word)[0]:
        endings = _PRESENT_3[lang].get(lemma[-2:])
        if endings and any(folded == lemma[:-2] + e for e in endings):
            return True
    return False
