"""simplemma's dictionaries, opened in milliseconds instead of decoded in seconds.

simplemma 2 ships each language as an lzma front-coded stream that it decodes into a Python dict on first use:
2 s a language, 10 s for the five we read, paid by every `treatywatch` command. We decode each language once per
machine into a small SQLite file (form → lemma) in a cache folder, and hand simplemma a mapping over it, so all its
strategies (affixes, hyphens, rules) work as before while a process opens the file instantly and looks up only
the words it meets (our Analyzer caches those again).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import version
from pathlib import Path

import simplemma
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
from simplemma.strategies.dictionaries.dictionary_factory import (
    CachingDictionaryFactory,
    DecodedStrMapping,
    MappingStrToByteString,
    _load_dictionary_from_disk,
)
from simplemma.utils import normalize_token

from .cachefiles import default_cache_dir, replaced_atomically

# Lookups remembered per language: simplemma asks for the same few keys many times per word (the word, its other
# case, again from each strategy), and a German compound's splits ask for overlapping parts. Cleared when full.
LOOKUP_MEMO_SIZE = 50_000


class _SqliteMapping(DecodedStrMapping):
    """Read-only form → lemma lookups on one language's file."""

    __slots__ = ("_conn", "_lock", "_memo")

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._memo: dict[str, str | None] = {}

    def _lookup(self, key: str) -> str | None:
        try:
            return self._memo[key]
        except KeyError:
            pass
        with self._lock:
            row = self._conn.execute("SELECT v FROM d WHERE k = ?", (key.encode(),)).fetchone()
            if len(self._memo) >= LOOKUP_MEMO_SIZE:
                self._memo.clear()
            value = self._memo[key] = row[0].decode() if row else None
        return value

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [k for (k,) in self._conn.execute("SELECT k FROM d")]
        return (k.decode() for k in keys)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM d").fetchone()[0])


def _build(lang: str, path: Path) -> None:
    """Decode simplemma's stream once and write it atomically (a concurrent builder just wins the rename)."""
    with replaced_atomically(path) as tmp:
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("CREATE TABLE d (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        conn.executemany("INSERT INTO d VALUES (?, ?)", _load_dictionary_from_disk(lang).items())
        conn.commit()
        conn.close()


class SqliteDictionaries(CachingDictionaryFactory):
    """A simplemma DictionaryFactory over per-language SQLite files in `folder`, built on first use."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(cache_max_size=16)
        self.folder = folder or default_cache_dir()
        self._version = version("simplemma")

    def _get_dictionary_uncached(self, lang: str) -> Mapping[str, str]:
        path = self.folder / f"simplemma-{self._version}-{lang}.sqlite"
        if not path.exists():
            try:
                _build(lang, path)
            except OSError:
                # no writable cache (read-only home): decode in memory as simplemma would
                return MappingStrToByteString(_load_dictionary_from_disk(lang))
        return _SqliteMapping(path)


class Lemmas:
    """Lemma lookups for the Latin-script languages, over SqliteDictionaries."""

    def __init__(self, folder: Path | None = None) -> None:
        factory = SqliteDictionaries(folder)
        self._lookup = DictionaryLookupStrategy(factory)
        self._lemmatizer = simplemma.Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory))

    def is_known(self, word: str, lang: str) -> bool:
        return self._lookup.get_lemma(normalize_token(word), lang) is not None

    def first_known(self, candidates: Iterable[str], lang: str) -> str | None:
        """The first candidate the dictionary knows. simplemma looks a token up as written and in its other case,
        so a candidate whose two forms were both asked already is known to be absent (`word` after `Word`): half
        the lookups of a new word, which is what an item of words never seen costs."""
        asked: set[str] = set()
        for candidate in candidates:
            token = normalize_token(candidate)
            forms = {token, token.lower() if token[:1].isupper() else token.capitalize()}
            if forms <= asked and "'" not in token and "\u2019" not in token:
                continue
            asked |= forms
            if self._lookup.get_lemma(token, lang) is not None:
                return candidate
        return None

    def lemmatize(self, word: str, lang: str) -> str:
        return str(self._lemmatizer.lemmatize(word, lang=lang))
