"""Text analysis shared by documents and queries: folding, tokens, and per-language lemma keys.

A token's keys say which term words it can stand for. The key is the word's dictionary form, from libraries made
for it: pymorphy3 (with its Russian dictionary) for Cyrillic, simplemma for en/fr/de/pt/es. So `вышла` carries
`ru:выйти`, `met` in a French item `fr:mettre`, `põe` `pt:por`. Terms are lemmatised the same way when the watchlist
compiles, so an operator writes dictionary forms only. A word the dictionaries do not know (a rare inflection, a
name) also carries its Snowball stem (`ru~...`), and a term word carries its stem too: an unknown inflection of a
known term still meets it, while two known words meet only through their lemmas. Numbers key as `#1994`.
Latin-script tokens of an item whose language is unknown get keys for every Latin language we handle.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import snowballstemmer

from .termcache import TermKeyFile

if TYPE_CHECKING:
    import pymorphy3

TOKEN = re.compile(r"[^\W_]+", re.U)
# In ASCII text [^\W_] is [A-Za-z0-9], so every other ASCII character ends a word: translated to spaces and split,
# an 800-character summary's tokens take 5 µs where the regex takes 25 (`tokens`)
_ASCII_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})
LATIN_LANGUAGES = ("en", "fr", "pt", "de", "es")
LANGUAGES = (*LATIN_LANGUAGES, "ru")
# Infinitive endings from each language's grammar (a verb's dictionary form ends so); English verbs have none.
INFINITIVE_ENDINGS: dict[str, tuple[str, ...]] = {
    "fr": ("er", "ir", "re", "oir"),
    "pt": ("ar", "er", "ir", "or"),
    "es": ("ar", "er", "ir"),
    "de": ("en", "ern", "eln"),
}
_SNOWBALL_NAMES = {
    "en": "english",
    "fr": "french",
    "pt": "portuguese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
}
_SHORT_I = "\ue000"
# Russian readings below this share of the best one are dropped: they are the dictionary's long tail, not the text.
RU_MIN_SCORE_SHARE = 0.1
# Russian aspect pairs (прекращать/прекратить, расторгать/расторгнуть) and verbal nouns (прекращение, отмена) have
# their own dictionary forms; verbs and nouns also carry a root key: the Snowball stem of the dictionary form, щ→т
# folded, cut to this length. Adjectives do not: прекрасный never meets прекратить.
RU_VERB_ROOT = 6
_RU_VERB_TAGS = frozenset({"VERB", "INFN", "PRTF", "PRTS", "GRND", "NOUN"})
_RU_ALTERNATIONS = str.maketrans({"щ": "т"})
# German compounds: only words at least this long are split, and neither part may be shorter than this.
DE_COMPOUND_MIN = 8
DE_PART_MIN = 3
DE_HEAD_MIN = 5  # a head no term knows must be a real word of this length at least (bereich, not ich)
# German linking elements between the parts of a compound (Verteidigung-s-vertrag).
DE_LINKS = ("s", "es", "n", "en")


# German separable-verb particles (grammar, not topic): "setzt … aus" is read as aussetzen at the verb.
DE_PARTICLES = frozenset(
    "ab an auf aus bei ein fest fort her hin los mit nach vor weg zu zurück zusammen auseinander heraus".split()
)
DE_PARTICLE_REACH = 12  # tokens back from the particle to its verb
# Tokens longer than this are read as their literal (folded) text only: never lemmatised, stemmed, decompounded or
# cached. Decompounding tries a split at every character and looks each part up, so its cost grows with the square
# of the token (3,000 characters took 5 s, 20,000 over a minute). The longest words in the dictionaries we read are
# German compounds of 40 to 60 letters (Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz: 63); a
# longer token is a URL, a hash, base64 or an attack. A term word that long keys the same literal way, so it still
# matches itself.
MAX_TOKEN_CHARS = 64


def grouped_alternation(words: Iterable[str]) -> str:
    """`words` as one regex alternation (for re.I), longest first, grouped by first character: `re` tries a plain
    alternation's branches one after another at every position of the text (the 126 month names: 1.1 ms to scan a
    760-character summary), a grouped one only the branches of the character there (0.2 ms). The same matches:
    words of different first characters never match at one place (tests/test_dates.py compares both)."""
    groups: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        first = word[0].lower()
        if len(first) != 1 or not re.fullmatch(re.escape(first), word[0], re.I):
            first = word[0]  # a letter whose lower case is not its re.I twin (İ -> i̇) keeps a group of its own
        groups.setdefault(first, []).append(word)
    return "|".join(
        re.escape(first) + "(?:" + "|".join(re.escape(w[1:]) for w in group) + ")" for first, group in groups.items()
    )


@functools.cache
def date_pattern() -> re.Pattern[str]:
    """Full dates in the six languages (12.01.2026, 2026-01-12, 5 декабря 2025, 5 de dezembro de 2025,
    December 5, 2025): month names come from CLDR through Babel, not from a hand-made list. Built once per
    process, when first asked (Babel's import and the pattern's compile are 60 ms of a start)."""
    from babel.dates import get_month_names

    months: set[str] = set()
    for lang in LANGUAGES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                months.update(m.rstrip(".") for m in get_month_names(width, context, locale=lang).values())
    names = grouped_alternation(m for m in months if len(m) >= 3)
    day = r"\d{1,2}(?:er|st|nd|rd|th)?"
    return re.compile(
        rf"(?:\d{{1,2}}[./]\d{{1,2}}[./]|{day}\.?\s+(?:de\s+)?(?:{names})\.?\s+(?:de\s+)?"
        rf"|(?:{names})\.?\s+{day},?\s+)(?P<y>\d{{4}})(?!\d)|(?P<iso>\d{{4}})-\d{{2}}-\d{{2}}",
        re.I,
    )


def fold(text: str) -> str:
    """Lower case, accents dropped (é→e, ё→е) but й kept: the form every comparison uses."""
    if text.isascii():
        return text.lower()  # nothing to decompose: most words, at a fraction of the cost
    text = text.lower().replace("й", _SHORT_I)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace(_SHORT_I, "й")


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)


def languages_of(word: str, lang: str | None) -> tuple[str, ...]:
    """Which languages a token is read in: Cyrillic is Russian; Latin script follows the item's language."""
    if is_cyrillic(word):
        return ("ru",)
    if lang in LATIN_LANGUAGES:
        return (lang,)
    return LATIN_LANGUAGES


@dataclass(frozen=True)
class Span:
    """A token's place: its position in the token stream and its characters in the field's text."""

    pos: int
    start: int
    end: int


class Analyzer:
    """Lemmatises with per-instance caches: real text repeats its vocabulary, so most tokens cost one lookup."""

    def __init__(
        self, cache_size: int = 200_000, lemma_cache: Path | None = None, term_file: TermKeyFile | None = None
    ) -> None:
        """`term_file`: term keys kept between processes (termcache.py), read now and written by keep_terms."""
        self._stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in _SNOWBALL_NAMES.items()}
        # pymorphy3 and simplemma are imported here, not with the module: a start whose watchlist is kept builds
        # an analyzer only when it first matches (matching/watchcache.py), a command that matches nothing never
        import pymorphy3

        from .lemmas import Lemmas

        self._morph = pymorphy3.MorphAnalyzer()
        self._lemmas = Lemmas(lemma_cache)
        self._cache: dict[tuple[str | None, str], tuple[str, ...]] = {}
        self._fold_cache: dict[str, str] = {}
        self._term_file = term_file
        # terms are few: never cleared
        self._term_cache: dict[tuple[str | None, str], frozenset[str]] = term_file.load() if term_file else {}
        self._terms_kept = len(self._term_cache)
        # lemmas of parts and neighbours as well as of tokens: compound heads and the verbs before a particle
        self._lemma_cache: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {}
        self._cache_size = cache_size
        self.dates = date_pattern()

    @property
    def morph(self) -> pymorphy3.MorphAnalyzer:
        """The Russian analyser, for grammar beyond lemmas (is this word an infinitive?)."""
        return self._morph

    def fold(self, word: str) -> str:
        folded = self._fold_cache.get(word)
        if folded is None:
            if len(word) > MAX_TOKEN_CHARS:
                return fold(word)  # a cache of long tokens would hold whole hostile texts
            if len(self._fold_cache) > self._cache_size:
                self._fold_cache.clear()
            folded = self._fold_cache[word] = fold(word)
        return folded

    def _stem(self, lang: str, word: str) -> str:
        return f"{lang}~{self._stemmers[lang].stemWord(fold(word))}"

    def lemmas(self, lang: str, word: str) -> tuple[tuple[str, ...], bool]:
        """The word's dictionary forms in `lang` (folded) and whether the dictionary knows the word."""
        if len(word) > MAX_TOKEN_CHARS:
            return (fold(word),), False
        cached = self._lemma_cache.get((lang, word))
        if cached is None:
            if len(self._lemma_cache) > self._cache_size:
                self._lemma_cache.clear()
            cached = self._lemma_cache[(lang, word)] = self._lookup_lemmas(lang, word)
        return cached

    def _lookup_lemmas(self, lang: str, word: str) -> tuple[tuple[str, ...], bool]:
        if lang == "ru":
            parses = self._morph.parse(word)
            best = parses[0].score if parses else 0.0
            kept = [p for p in parses if p.score >= best * RU_MIN_SCORE_SHARE]
            forms = tuple(dict.fromkeys(fold(p.normal_form) for p in kept))
            roots = tuple(
                "^" + self._stemmers["ru"].stemWord(fold(p.normal_form)).translate(_RU_ALTERNATIONS)[:RU_VERB_ROOT]
                for p in kept
                if p.tag.POS in _RU_VERB_TAGS
            )
            return tuple(dict.fromkeys(forms + roots)) or (fold(word),), any(p.is_known for p in parses)
        known = self._lemmas.first_known(dict.fromkeys((word, word.lower(), word.capitalize())), lang)
        if known is not None:
            return (fold(self._lemmas.lemmatize(known, lang)),), True
        return (fold(word),), False

    def morph_parses(self, word: str) -> list:
        """pymorphy3's readings of a Russian word, the dictionary's long tail dropped (as for lemmas)."""
        parses = self._morph.parse(word)
        best = parses[0].score if parses else 0.0
        return [p for p in parses if p.score >= best * RU_MIN_SCORE_SHARE]

    def word_keys(self, lang: str, word: str, *, with_stem: bool) -> tuple[str, ...]:
        """Keys of one word read in one language; the stem is added when asked or when the word is unknown."""
        return self._keys_known(lang, word, with_stem)[0]

    def _keys_known(self, lang: str, word: str, with_stem: bool) -> tuple[tuple[str, ...], bool | None]:
        """word_keys, and whether the dictionary knows the word (None: numbers, not looked up)."""
        w = fold(word)
        if w.isdigit():
            return ("#" + w,), None
        if len(word) > MAX_TOKEN_CHARS:
            return (f"{lang}:{w}",), False
        forms, known = self.lemmas(lang, word)
        keys = [f"{lang}:{f}" for f in forms]
        if with_stem or not known or lang != "ru":
            keys.append(self._stem(lang, word))
        return tuple(dict.fromkeys(keys)), known

    def term_keys(self, lang: str | None, word: str) -> frozenset[str]:
        """Every key a term word is indexed under: its lemmas and its stem, in the term's language (a Latin word
        listed under `ru`, such as Euroclear, or a term with no language, is read in every Latin language)."""
        cached = self._term_cache.get((lang, word))
        if cached is not None:
            return cached
        read_as = None if lang is not None and (lang == "ru") != is_cyrillic(word) else lang
        keys: set[str] = set()
        for lg in languages_of(word, read_as):
            keys.update(self.word_keys(lg, word, with_stem=True))
        result = self._term_cache[(lang, word)] = frozenset(keys)
        return result

    def keep_terms(self) -> None:
        """Write the term keys to the term file when a compile worked out new ones (the next start reads them)."""
        if self._term_file is not None and len(self._term_cache) != self._terms_kept:
            self._term_file.save(self._term_cache)
            self._terms_kept = len(self._term_cache)

    def keys(self, word: str, lang: str | None = None) -> tuple[str, ...]:
        """Every key a document token can match, cached by word and item language."""
        if len(word) > MAX_TOKEN_CHARS:
            literal = (k for lg in languages_of(word, lang) for k in self.word_keys(lg, word, with_stem=False))
            return tuple(dict.fromkeys(literal))  # cheap, and not cached
        cache_key = (lang, word)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        if len(self._cache) > self._cache_size:
            self._cache.clear()
        keys: list[str] = []
        for lg in languages_of(word, lang):
            keys += self.word_keys(lg, word, with_stem=False)
        result = self._cache[cache_key] = tuple(dict.fromkeys(keys))
        return result

    def compound_keys(self, word: str, wanted: frozenset[str] | set[str]) -> tuple[str, ...]:
        """German compounds: keys of the head and the modifier that some term knows (Militärabkommen → Abkommen,
        Militär). Tried only on words of DE_COMPOUND_MIN to MAX_TOKEN_CHARS letters none of whose own keys a term
        knows; the caller caches the result. Each split looks its head up once: at most MAX_TOKEN_CHARS lookups."""
        w = word.lower()
        if not DE_COMPOUND_MIN <= len(w) <= MAX_TOKEN_CHARS:
            return ()
        found: list[str] = []
        for i in range(DE_PART_MIN, len(w) - DE_PART_MIN + 1):
            part = w[i:]
            head_keys, known = self._keys_known("de", part, with_stem=False)
            head = [k for k in head_keys if k in wanted]
            if not head and (known is None or part.capitalize().lower() != part):
                known = self.lemmas("de", part.capitalize())[1]  # a number, or ß (its capital is not one letter)
            # a head no term knows still makes a compound when the dictionary knows it: Militär|bereich
            if not head and (len(part) < DE_HEAD_MIN or not known):
                continue
            modifier = w[:i]
            mods = [modifier] + [modifier[: -len(link)] for link in DE_LINKS if modifier.endswith(link)]
            modifier_keys = [
                k
                for m in mods
                if len(m) >= DE_PART_MIN
                for k in self.word_keys("de", m, with_stem=False)
                if k in wanted
            ]
            if head or modifier_keys:
                found += modifier_keys + head
                break  # the longest head: the rest of the word is its modifier
        return tuple(dict.fromkeys(found))

    def words(self, text: str) -> list[str]:
        """Query-side tokenisation: the same token rule as documents."""
        return tokens(text)


def tokens(text: str) -> list[str]:
    """TOKEN.findall(text), five times faster for ASCII text (most English items: see _ASCII_SEPARATORS)."""
    if text.isascii():
        return text.translate(_ASCII_SEPARATORS).split()
    return TOKEN.findall(text)


def spans(text: str, first_pos: int = 0) -> list[Span]:
    """Character offsets of each token; computed only for items that matched, to build explanations."""
    return [Span(first_pos + i, m.start(), m.end()) for i, m in enumerate(TOKEN.finditer(text))]
