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

import functools
import math
import re
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from ..items import Item
from .explain import LanguageNote
from .lemmas import default_cache_dir, replaced_atomically
from .text import LANGUAGES, TOKEN

DECLARED_PRIOR = 0.8
MIN_WORDS = 4
# The model reads the title and then the summary up to this many characters in all: a headline and the summary's
# first words tell the language as well as the whole (not one decision on the labeled texts changes between 120
# characters and a 300-character title with 100 of summary, the rule before), and the model's cost is in its walk
# over the bytes: a long title or summary costs no more than this.
MODEL_CHARS = 120
# From this many texts at once (a poll's new items), the model reads them together (_Scorer.probabilities_of): the
# two cost the same at 12-16 texts of 120 characters (a feed's 20 items: 20 µs a text together, 30 one by one)
BATCH = 16
BATCH_MAX = 1_000  # and at most this many at once: a few MB of arrays
# The model's answers by text, cleared when full: the same wire headline in many feeds, a feed that re-publishes
# an item under a new link, a poll redone after a conflict. At most about 2 MB (120 characters a text).
CACHE_SIZE = 10_000
LANGUAGE_ORIGIN = "language.origin"
DECLARED_LANGUAGE = "language.declared"
IDENTIFIED, SOURCE = "identified", "source"
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_UNSEEN: tuple[float, ...] = ()  # the cache's answer for a text it does not hold (None is an answer: too short)


class _Scorer:
    """py3langid's naive Bayes, computed as `LanguageIdentifier.rank` computes it (the same tables and steps: the
    text lower-cased when all capitals, NFC, UTF-8; the automaton's features counted; log1p(count) times each
    feature's log-probabilities plus the class priors; a softmax at temperature sqrt(bytes)), with less around it:
    one pass over the bytes, the softmax over six Python floats, no sorted list of pairs. rank's arithmetic is
    float32 and this is float64 after the dot product: the probabilities agree to about 1e-6 (tested)."""

    def __init__(self, model: LanguageIdentifier, languages: tuple[str, ...]) -> None:
        if sorted(model.nb_classes) != sorted(languages):
            raise ValueError(f"the model's classes {model.nb_classes} are not {languages}")
        order = [model.nb_classes.index(lang) for lang in languages]  # the columns in the order of `languages`
        self._nextmove = model.tk_nextmove
        self._rowbase = [row << 8 for row in model.tk_row]
        self._output = list(model.tk_output)
        self._ptc = np.ascontiguousarray(np.asarray(model.nb_ptc, dtype=np.float32)[:, order])  # float16 in the package
        self._pc = np.asarray(model.nb_pc, dtype=np.float32)[order]
        self._uniform = (1.0 / len(languages),) * len(languages)
        # the same tables as numpy arrays for many texts at once (the automaton's is a view, not a copy)
        self._np_nextmove = np.frombuffer(model.tk_nextmove, dtype=np.dtype(model.tk_nextmove.typecode))
        self._np_rowbase = np.asarray(self._rowbase, dtype=np.intp)
        self._np_output = np.asarray(self._output, dtype=np.intp)

    @staticmethod
    def _bytes(text: str) -> bytes:
        """The text as the model reads it: lower-cased when all capitals, NFC, UTF-8."""
        if text.isupper():
            text = text.lower()
        return unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")

    def probabilities(self, text: str) -> tuple[float, ...]:
        """Each language's probability for `text`, in the order of the languages the scorer was built for."""
        data = self._bytes(text)
        nextmove, rowbase, output = self._nextmove, self._rowbase, self._output
        state, found = 0, list[int]()
        add = found.append
        for byte in data:
            state = nextmove[rowbase[state] + byte]
            feature = output[state]
            if feature >= 0:
                add(feature)
        if not found:
            return self._uniform
        counts = Counter(found)
        features = np.fromiter(counts, dtype=np.intp, count=len(counts))
        weights = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        scores = (weights @ self._ptc[features] + self._pc).tolist()
        scale, top = 1.0 / math.sqrt(len(data)), max(scores)
        exps = [math.exp((score - top) * scale) for score in scores]
        total = sum(exps)
        return tuple([e / total for e in exps])

    def probabilities_of(self, texts: list[str]) -> list[tuple[float, ...]]:
        """`probabilities` of each text. From BATCH texts on, the automaton walks all of them a byte at a time in
        step, in numpy: one Python step per byte of the longest instead of one per byte of each text, and the
        features counted and weighed for all texts in a few array operations."""
        if len(texts) < BATCH:
            return [self.probabilities(text) for text in texts]
        if len(texts) > BATCH_MAX:  # the arrays below hold (bytes of the longest) x (texts) entries
            return [
                p for at in range(0, len(texts), BATCH_MAX) for p in self.probabilities_of(texts[at : at + BATCH_MAX])
            ]
        data = [self._bytes(text) for text in texts]
        lengths = np.fromiter(map(len, data), dtype=np.intp, count=len(data))
        width = int(lengths.max())
        inside = np.arange(width)[:, None] < lengths  # (byte, text): the bytes each text has
        flat = np.frombuffer(b"".join(data) or b"\0", dtype=np.uint8)
        starts = np.cumsum(lengths) - lengths
        columns = np.where(inside, flat[np.where(inside, starts + np.arange(width)[:, None], 0)], 0)
        state, states = np.zeros(len(data), dtype=np.intp), np.empty((width, len(data)), dtype=np.intp)
        for i in range(width):
            state = self._np_nextmove[self._np_rowbase[state] + columns[i]]
            states[i] = state
        features = self._np_output[states]
        found = inside & (features >= 0)
        keys, counts = np.unique(np.nonzero(found)[1] * len(self._ptc) + features[found], return_counts=True)
        owner, feature = np.divmod(keys, len(self._ptc))
        weighed = np.log1p(counts.astype(np.float32))[:, None] * self._ptc[feature]
        first = np.flatnonzero(np.diff(owner, prepend=-1))  # the texts' runs in the sorted keys
        scores = np.zeros((len(data), len(self._pc)))
        scores[owner[first]] = np.add.reduceat(weighed, first, axis=0) + self._pc if len(first) else 0.0
        scores *= 1.0 / np.sqrt(np.maximum(lengths, 1))[:, None]
        np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
        scores /= scores.sum(axis=1, keepdims=True)  # a text with no features: all zeros, so uniform, as rank()
        return [tuple(row) for row in scores.tolist()]


@functools.cache
def _scorer(languages: tuple[str, ...]) -> _Scorer:
    """The scorer over the model's tables, built once per process (the LanguageIdentifier itself is let go)."""
    return _Scorer(_model(languages), languages)


def _model(languages: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model restricted to `languages`, read-only once built (no call here changes it).

    The package's model holds 142 classes and decodes from xz in about half a second, briefly taking 100 MB more
    than it keeps. As the lemma dictionaries are (lemmas.py), its tables for our languages are written once per
    machine into the cache folder, raw, and read back in milliseconds at the size the process keeps (about 45 MB,
    most of it the tokenizer's automaton). Without a writable cache the package's model is decoded each time."""
    path = default_cache_dir() / f"py3langid-{version('py3langid')}-{'-'.join(languages)}.bin"
    try:
        if not path.exists():
            _write_tables(_decoded(languages), path)
        return _read_tables(path)
    except (OSError, ValueError, EOFError):
        return _decoded(languages)


def _decoded(languages: tuple[str, ...]) -> LanguageIdentifier:
    """The package's model decoded and restricted, rebuilt through the public constructor from the restricted
    tables so that the full 142-class table (28 MB), which `set_languages` keeps for a reset, is freed."""
    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    full.set_languages(list(languages))
    return LanguageIdentifier(
        full.nb_ptc, full.nb_pc, full.nb_classes, full.tk_nextmove, full.tk_output, norm_probs=True, tk_row=full.tk_row
    )


def _write_tables(model: LanguageIdentifier, path: Path) -> None:
    """The restricted tables in one file, the automaton last and raw; written atomically."""
    with replaced_atomically(path) as tmp, tmp.open("wb") as f:
        np.save(f, np.array([model.tk_nextmove.typecode, model.tk_row.typecode]))
        np.save(f, np.asarray(model.nb_ptc))
        np.save(f, np.asarray(model.nb_pc))
        np.save(f, np.array(model.nb_classes))
        np.save(f, np.asarray(model.tk_output, dtype=np.int64))
        np.save(f, np.array([len(model.tk_row), len(model.tk_nextmove)], dtype=np.int64))
        model.tk_row.tofile(f)
        model.tk_nextmove.tofile(f)


def _read_tables(path: Path) -> LanguageIdentifier:
    with path.open("rb") as f:
        codes = np.load(f, allow_pickle=False).tolist()
        ptc, pc = np.load(f, allow_pickle=False), np.load(f, allow_pickle=False)
        classes = np.load(f, allow_pickle=False).tolist()
        output = np.load(f, allow_pickle=False).tolist()
        rows, states = np.load(f, allow_pickle=False).tolist()
        tk_row, nextmove = array(codes[1], [0]) * rows, array(codes[0], [0]) * states
        for table in (tk_row, nextmove):  # read in place: array.fromfile would hold a copy of 40 MB on the way
            view = memoryview(table).cast("B")
            if f.readinto(view) != len(view):
                raise EOFError(f"{path}: cut short")  # decoded from the package instead
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=tk_row)


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
        if len(items) < BATCH:  # read one by one anyway (_Scorer.probabilities_of): no texts to gather first
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


def _text(title: str, summary: str) -> str:
    """What the model reads of an item: the title, then the summary, MODEL_CHARS in all."""
    text = title[:MODEL_CHARS]
    if len(text) < MODEL_CHARS - 1 and summary:
        text = f"{text}\n{summary[: MODEL_CHARS - 1 - len(text)]}"
    return text


def language_note(item: Item) -> LanguageNote:
    """What the explanation says of the item's language (origin None: an item read before this stage existed)."""
    return LanguageNote(item.language, item.extra.get(LANGUAGE_ORIGIN), item.extra.get(DECLARED_LANGUAGE))
