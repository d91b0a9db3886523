"""Text analysis shared by documents and queries: folding, tokens, and per-language stem keys.

A token's keys say which term forms it can stand for: `en:termin`, `ru:прекрат`, `#1994`. Latin-script tokens
get a key for every Latin language we stem (a French item may be tagged `en`); Cyrillic tokens are Russian.
Snowball stems differ by aspect and alternation (прекрат- / прекращ-), so Russian keys fold щ→т and a token
also carries its own shorter stems: "прекращение" reaches a term `прекратить`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import snowballstemmer

TOKEN = re.compile(r"[^\W_]+", re.U)
LATIN_LANGUAGES = ("en", "fr", "pt", "de", "es")
_SNOWBALL_NAMES = {
    "en": "english",
    "fr": "french",
    "pt": "portuguese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
}
_RU_ALTERNATIONS = str.maketrans({"щ": "т"})
_SHORT_I = "\ue000"
# Russian tokens also carry stems shortened by up to this many letters, never below the minimum length.
RU_PREFIX_SLACK = 3
RU_PREFIX_MIN = 6


def fold(text: str) -> str:
    """Lower case, accents dropped (é→e, ё→е) but й kept: the form every comparison uses."""
    text = text.lower().replace("й", _SHORT_I)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace(_SHORT_I, "й")


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)


@dataclass(frozen=True)
class Span:
    """A token's place: its position in the token stream and its characters in the field's text."""

    pos: int
    start: int
    end: int


class Analyzer:
    """Stems with a per-instance cache: real text repeats its vocabulary, so most tokens cost one dict lookup."""

    def __init__(self, cache_size: int = 200_000) -> None:
        self._stemmers = {lang: snowballstemmer.stemmer(name) for lang, name in _SNOWBALL_NAMES.items()}
        self._cache: dict[str, tuple[str, ...]] = {}
        self._fold_cache: dict[str, str] = {}
        self._cache_size = cache_size

    def fold(self, word: str) -> str:
        folded = self._fold_cache.get(word)
        if folded is None:
            if len(self._fold_cache) > self._cache_size:
                self._fold_cache.clear()
            folded = self._fold_cache[word] = fold(word)
        return folded

    def stem(self, lang: str, word: str) -> str:
        """The key a term word in `lang` is indexed under (no prefix slack on the term side)."""
        w = fold(word)
        if w.isdigit():
            return "#" + w
        stem = self._stemmers[lang].stemWord(w)
        if lang == "ru":
            stem = stem.translate(_RU_ALTERNATIONS)
        return f"{lang}:{stem}"

    def keys(self, word: str) -> tuple[str, ...]:
        """Every key a document token can match, cached by its folded form."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(self._cache) > self._cache_size:
            self._cache.clear()
        w = self.fold(word)
        if w.isdigit():
            keys: tuple[str, ...] = ("#" + w,)
        elif is_cyrillic(w):
            stem = self._stemmers["ru"].stemWord(w).translate(_RU_ALTERNATIONS)
            shortest = max(RU_PREFIX_MIN, len(stem) - RU_PREFIX_SLACK)
            keys = tuple("ru:" + stem[:n] for n in range(len(stem), shortest - 1, -1)) or ("ru:" + stem,)
        else:
            keys = tuple(dict.fromkeys(f"{lang}:{self._stemmers[lang].stemWord(w)}" for lang in LATIN_LANGUAGES))
        self._cache[word] = keys
        return keys

    def words(self, text: str) -> list[str]:
        """Query-side tokenisation: the same token rule as documents."""
        return TOKEN.findall(text)


def spans(text: str, first_pos: int = 0) -> list[Span]:
    """Character offsets of each token; computed only for items that matched, to build explanations."""
    return [Span(first_pos + i, m.start(), m.end()) for i, m in enumerate(TOKEN.finditer(text))]
