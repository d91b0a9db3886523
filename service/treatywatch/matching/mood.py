"""Mood and tense from the grammar of each language: which words of an item are conditional, future or a modal
auxiliary, so a decision watch reads "Paris dénoncerait l'accord", "Lisboa rescindirá", "Россия прекратит" or
"Berlin würde kündigen" as talk about what may happen, not as a decision taken. Past and present forms (a dénoncé,
denunciou, прекратила, kündigt) are left alone.

- French, Portuguese, Spanish: the future and the conditional are built on the infinitive (or an irregular stem
  ending in r: ser-, pourr-, tendr-) plus a fixed set of endings; a word is read so when the lemmatiser gives a
  verb (an infinitive) other than the word and the word is that r-stem plus one of the endings. Accents decide
  (pt terminará future, terminara pluperfect; es terminará future, terminara subjunctive past).
- Russian: pymorphy3's grammemes: every reading in the future (`futr`: perfective non-past and будет), which leaves
  out two-aspect verbs whose reading may be the present (денонсирует, аннулирует); and the particle бы.
- German and English: the auxiliaries of the subjunctive and of modality, as written (würde, sollte, könnte,
  dürfte; would, could, should, might, may in lower case, so the month May is not one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .text import INFINITIVE_ENDINGS, Analyzer, fold, is_cyrillic

_ROMANCE_ENDINGS: dict[str, tuple[str, ...]] = {
    "fr": ("raient", "rions", "riez", "rait", "rais", "ront", "rons", "rez", "rai", "ras", "ra"),
    "pt": ("ríamos", "ríeis", "riam", "rias", "ria", "remos", "reis", "rão", "rás", "rá", "rei"),
    "es": ("ríamos", "ríais", "rían", "rías", "ría", "remos", "réis", "rán", "rás", "rá", "ré"),
}
_CONDITIONAL = frozenset("raient rions riez rait rais ríamos ríeis riam rias ria ríais rían rías ría".split())
_INFINITIVE = INFINITIVE_ENDINGS  # a lemma among these is the verb a future or conditional is built on
# auxiliaries and particles of mood, lower case as written
_FORMS: dict[str, frozenset[str]] = {
    "en": frozenset({"would", "could", "should", "might", "may", "shall"}),
    "de": frozenset(
        "würde würden würdest würdet sollte sollten solltest soll sollen könnte könnten dürfte dürften möchte "
        "möchten wolle wollen".split()
    ),
    "ru": frozenset({"бы", "б"}),
}
_RU_FUTURE_AUX = frozenset({"будет", "будут", "будем", "будешь", "буду", "будете"})
# the near future of "go" + infinitive (futur proche, futuro perifrástico): "va dénoncer", "vai denunciar",
# "va a denunciar"; the Spanish one takes "a" before the infinitive
_GO: dict[str, frozenset[str]] = {
    "fr": frozenset("vais vas va allons allez vont".split()),
    "pt": frozenset("vou vais vai vamos ides vão".split()),
    "es": frozenset("voy vas va vamos vais van".split()),
}
CACHE_SIZE = 100_000


@dataclass
class Mood:
    """Per-word answers, cached by (language, word): most words are seen many times."""

    analyzer: Analyzer
    _cache: dict[tuple[str | None, str], str | None] = field(default_factory=dict)

    def of(self, lang: str | None, word: str) -> str | None:
        """'conditional', 'future' or 'modal' for a word read in `lang`, else None."""
        key = (lang, word)
        try:
            return self._cache[key]  # the hot path: a word seen before in this language
        except KeyError:
            pass
        if len(self._cache) > CACHE_SIZE:
            self._cache.clear()
        read_as = "ru" if is_cyrillic(word) else lang
        found = self._cache[key] = None if read_as is None or word.isdigit() else self._read(read_as, word)
        return found

    def near_future(self, lang: str | None, words: list[str], p: int) -> int | None:
        """The position of the infinitive when words[p] is "go" of a near future ("vai denunciar", "va a
        denunciar", "va dénoncer"), else None."""
        if lang not in _GO or words[p].lower() not in _GO[lang]:
            return None
        q = p + 1
        if lang == "es" and q < len(words) and words[q].lower() == "a":
            q += 1
        if q >= len(words) or not words[q]:
            return None
        word = words[q]
        forms, known = self.analyzer.lemmas(lang, word)
        return q if known and fold(word) in forms and fold(word).endswith(_INFINITIVE[lang]) else None

    def _read(self, lang: str, word: str) -> str | None:
        lower = word.lower()
        if lower in _FORMS.get(lang, ()):
            if lang == "en" and word == "May":
                return None
            return "modal"
        if lang == "ru":
            return self._russian(lower)
        endings = _ROMANCE_ENDINGS.get(lang)
        if endings is None or len(lower) < 4:
            return None
        ending = next((e for e in endings if lower.endswith(e)), None)
        if ending is None:
            return None
        forms, known = self.analyzer.lemmas(lang, word)
        if not known:
            return None
        if not any(f != fold(lower) and f.endswith(_INFINITIVE[lang]) for f in forms):
            return None
        return "conditional" if ending in _CONDITIONAL else "future"

    def _russian(self, word: str) -> str | None:
        if word in _RU_FUTURE_AUX:
            return "future"
        parses = self.analyzer.morph_parses(word)
        if not parses:
            return None
        return "future" if all(p.tag.tense == "futr" for p in parses) else None
