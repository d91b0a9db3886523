"""The language stage: which language an item is written in, read from its text, with the source's as the prior.

A source declares one language, but aggregators, EU portals and many outlets mix languages in one feed; an English
headline read as Portuguese meets no English term. py3langid (langid.py's naive-Bayes model over byte n-grams,
shipped inside the package; tens of microseconds a title) gives a probability for each of the languages the
analyzer reads, and the declared language enters as a prior (Bayes' rule), so the source's word stands unless
the text says otherwise clearly:

- prior DECLARED_PRIOR (0.8) on the declared language, the rest shared by the other five; the item takes the
  language of highest posterior. Another language L wins only when p(L) / p(declared) > 5 * 0.8 / 0.2 = 20.
  The model reads the title, then the summary, MODEL_CHARS (120) characters in all. On the 713 labeled texts of
  tests/cases and both dev sets, each in its declared language, the highest such ratio of a wrong language is
  0.14 (0.72 on titles alone), 140 times short of a switch; none changes language. Declared as each of the other
  five languages (3,565 trials), all but one switch to their own (a Portuguese headline on frozen food stays with
  a declared es). Reading 120 characters rather than a 300-character title and 100 of summary changes none of
  the 5,187 decisions (741 texts, no declared language and each of the six); 100 characters would change four.
- texts of fewer than MIN_WORDS words keep the declared language whatever the model says: one or two words
  ("Sanções", "Merz in Brüssel") are names or loanwords as often as they are a language.
- a text with Cyrillic letters and no Latin ones is Russian by its script (the only one of the six so written),
  without asking the model: most portal acts, at no cost.
- with no declared language (or one we do not read, which the model cannot name), the model's best language is
  taken when its probability reaches DECLARED_PRIOR; else the item keeps none and is read in every language.

The identified language and where it came from travel in the item's `extra` (the stored JSON column: no schema
change) under LANGUAGE_ORIGIN and DECLARED_LANGUAGE; `language_note` reads them back for the explanation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..items import Item
from .explain import LanguageNote
from .text import LANGUAGES, TOKEN

if TYPE_CHECKING:
    from .langmodel import Scorer

DECLARED_PRIOR = 0.8
MIN_WORDS = 4
# The model reads the title and then the summary up to this many characters in all: a headline and the summary's
# first words tell the language as well as the whole (not one decision on the labeled texts changes between 120
# characters and a 300-character title with 100 of summary, the rule before), and the model's cost is in its walk
# over the bytes: a long title or summary costs no more than this.
MODEL_CHARS = 120
# From this many texts at once (a poll's new items), the model reads them together (langmodel.Scorer): the
# two cost the same at 12-16 texts of 120 characters (a feed's 20 items: 20 µs a text together, 30 one by one)
BATCH = 16
# The model's answers by text, cleared when full: the same wire headline in many feeds, a feed that re-publishes
# an item under a new link, a poll redone after a conflict. At most about 2 MB (120 characters a text).
CACHE_SIZE = 10_000
LANGUAGE_ORIGIN = "language.origin"
DECLARED_LANGUAGE = "language.declared"
IDENTIFIED, SOURCE = "identified", "source"
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_UNSEEN: tuple[float, ...] = ()  # the cache's answer for a text it does not hold (None is an answer: too short)


@dataclass(frozen=True)
class Reading:
    """What the stage decided for one text: the language, whether it came from the text or the source, and the
    model's probability of it (None: not asked, the text being too short)."""

    language: str | None
    origin: str
    confidence: float | None = None


class LanguageStage:
    """Reads items' languages; caches the model's answers by text. One per runner, tester call or evaluation."""

    def __init__(
        self, languages: tuple[str, ...] = LANGUAGES, prior: float = DECLARED_PRIOR, min_words: int = MIN_WORDS
    ) -> None:
        self.languages = languages
        self.prior = prior
        self.min_words = min_words
        self._cache: dict[str, tuple[float, ...] | None] = {}  # tuples of floats: not tracked by the collector

    def read(self, title: str, summary: str, declared: str | None) -> Reading:
        """The item's language by the rule in the module's docstring."""
        if declared is not None and declared not in self.languages:
            return Reading(declared, SOURCE)  # a language the model cannot name: the source knows better
        probs = self._probabilities(title, summary)
        if probs is None:
            return Reading(declared, SOURCE)
        if declared is None:
            best = max(range(len(probs)), key=probs.__getitem__)
            if probs[best] >= self.prior:
                return Reading(self.languages[best], IDENTIFIED, probs[best])
            return Reading(None, SOURCE, probs[best])
        mine = self.languages.index(declared)
        other = (1.0 - self.prior) / (len(self.languages) - 1)
        weighed = [p * other for p in probs]
        weighed[mine] = probs[mine] * self.prior
        best = max(range(len(probs)), key=weighed.__getitem__)
        return Reading(self.languages[best], SOURCE if best == mine else IDENTIFIED, probs[best])

    def probabilities(self, title: str, summary: str) -> dict[str, float] | None:
        """Each language's probability for the text (None: too short to say)."""
        probs = self._probabilities(title, summary)
        return None if probs is None else dict(zip(self.languages, probs, strict=True))

    def load_model(self) -> None:
        """Read the model now, not at the first text that needs it (before forking processes that share it)."""
        _scorer(self.languages)

    def _probabilities(self, title: str, summary: str) -> tuple[float, ...] | None:
        """As `probabilities`, in the order of `languages`, cached by text: the declared language only weighs
        them, so one answer serves every source."""
        text = _text(title, summary)
        probs = self._cache.get(text, _UNSEEN)
        if probs is _UNSEEN:
            probs = self._without_model(text)
            if probs is _UNSEEN:
                probs = _scorer(self.languages).probabilities(text)
            self._remember(text, probs)
        return probs

    def _remember(self, text: str, probs: tuple[float, ...] | None) -> None:
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[text] = probs

    def _without_model(self, text: str) -> tuple[float, ...] | None:
        """The answer when the text decides it without the model (None: too short to say), else _UNSEEN."""
        if not self._long_enough(text):
            return None
        if "ru" in self.languages and not _LATIN.search(text) and _CYRILLIC.search(text):
            return tuple(float(lang == "ru") for lang in self.languages)
        return _UNSEEN

    def _long_enough(self, text: str) -> bool:
        """At least min_words words that are not numbers; stops counting there."""
        words = 0
        for m in TOKEN.finditer(text):
            if not m.group().isdigit():
                words += 1
                if words >= self.min_words:
                    return True
        return False

    def apply_all(self, items: list[Item]) -> list[Item]:
        """`apply` to each item, the model asked about their texts together (see BATCH): a poll's new items."""
        if len(items) < BATCH:  # read one by one anyway (langmodel.Scorer): no texts to gather first
            return [self.apply(item) for item in items]
        out: list[Item] = []
        for start in range(0, len(items), CACHE_SIZE // 2):  # what is asked for stays in the cache until read
            chunk = items[start : start + CACHE_SIZE // 2]
            ask: dict[str, None] = {}
            for item in chunk:
                if LANGUAGE_ORIGIN in item.extra or (item.language and item.language not in self.languages):
                    continue  # as apply and read decide without the text
                text = _text(item.title, item.summary)
                if text not in self._cache and text not in ask:
                    probs = self._without_model(text)
                    if probs is _UNSEEN:
                        ask[text] = None
                    else:
                        self._remember(text, probs)
            for text, probs in zip(ask, _scorer(self.languages).probabilities_of(list(ask)), strict=True):
                self._remember(text, probs)
            out += [self.apply(item) for item in chunk]
        return out

    def apply(self, item: Item) -> Item:
        """The item with its language read from its text, and where it came from noted in `extra`. An item the
        stage has seen already passes unchanged."""
        if LANGUAGE_ORIGIN in item.extra:
            return item
        reading = self.read(item.title, item.summary, item.language)
        extra = {**item.extra, LANGUAGE_ORIGIN: reading.origin}
        if item.language is not None:
            extra[DECLARED_LANGUAGE] = item.language
        return item.with_(language=reading.language, extra=extra)


def _scorer(languages: tuple[str, ...]) -> Scorer:
    """The model's scorer (langmodel.py), imported and built when the stage first asks the model."""
    from .langmodel import scorer

    return scorer(languages)


def _text(title: str, summary: str) -> str:
    """What the model reads of an item: the title, then the summary, MODEL_CHARS in all."""
    text = title[:MODEL_CHARS]
    if len(text) < MODEL_CHARS - 1 and summary:
        text = f"{text}\n{summary[: MODEL_CHARS - 1 - len(text)]}"
    return text


def language_note(item: Item) -> LanguageNote:
    """What the explanation says of the item's language (origin None: an item read before this stage existed)."""
    return LanguageNote(item.language, item.extra.get(LANGUAGE_ORIGIN), item.extra.get(DECLARED_LANGUAGE))
