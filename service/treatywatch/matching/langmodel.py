"""The language stage's model (language.py): py3langid's naive Bayes over byte n-grams, restricted to the six
languages the analyzer reads, and a scorer over its tables.

A module of its own because numpy and py3langid are a tenth of a second to import: a process that only fetches and
stores (the daemon's main process when worker processes read the items) never loads them, and one that reads items
loads them when it first asks the model.
"""

from __future__ import annotations

import functools
import math
import mmap
import os
import unicodedata
from array import array
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from .cachefiles import default_cache_dir, replaced_atomically
from .language import BATCH

BATCH_MAX = 1_000  # texts read in step at most: a few MB of arrays


class Scorer:
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
        self._np_nextmove = np.frombuffer(model.tk_nextmove, dtype=np.dtype(typecode(model.tk_nextmove)))
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
def scorer(languages: tuple[str, ...]) -> Scorer:
    """The scorer over the model's tables, built once per process (the LanguageIdentifier itself is let go)."""
    return Scorer(model(languages), languages)


def model(languages: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model restricted to `languages`, read-only once built (no call here changes it).

    The package's model holds 142 classes and decodes from xz in about half a second, briefly taking 100 MB more
    than it keeps. As the lemma dictionaries are (lemmas.py), its tables for our languages are written once per
    machine into the cache folder, raw, and read back in milliseconds: the tokenizer's automaton (40 MB of the 45)
    mapped, not copied (read_tables). Without a writable cache the package's model is decoded each time."""
    path = default_cache_dir() / f"py3langid-{version('py3langid')}-{'-'.join(languages)}.tables"
    try:
        if not path.exists():
            write_tables(decoded(languages), path)
        return read_tables(path)
    except (OSError, ValueError, EOFError):
        return decoded(languages)


def decoded(languages: tuple[str, ...]) -> LanguageIdentifier:
    """The package's model decoded and restricted, rebuilt through the public constructor from the restricted
    tables so that the full 142-class table (28 MB), which `set_languages` keeps for a reset, is freed."""
    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    full.set_languages(list(languages))
    return LanguageIdentifier(
        full.nb_ptc, full.nb_pc, full.nb_classes, full.tk_nextmove, full.tk_output, norm_probs=True, tk_row=full.tk_row
    )


def write_tables(model: LanguageIdentifier, path: Path) -> None:
    """The restricted tables in one file, the automaton last and raw; written atomically."""
    with replaced_atomically(path) as tmp, tmp.open("wb") as f:
        np.save(f, np.array([typecode(model.tk_nextmove), typecode(model.tk_row)]))
        np.save(f, np.asarray(model.nb_ptc))
        np.save(f, np.asarray(model.nb_pc))
        np.save(f, np.array(model.nb_classes))
        np.save(f, np.asarray(model.tk_output, dtype=np.int64))
        np.save(f, np.array([len(model.tk_row), len(model.tk_nextmove)], dtype=np.int64))
        f.write(bytes(_padding(f.tell())))
        f.write(memoryview(model.tk_row).cast("B"))
        f.write(memoryview(model.tk_nextmove).cast("B"))


def read_tables(path: Path) -> LanguageIdentifier:
    """The tables write_tables wrote: the small ones read, the automaton's two (40 MB) mapped from the file, so a
    process reads in milliseconds only the pages it walks, and every process of the machine shares them (the page
    cache) instead of each holding its own copy. A file cut short is an EOFError (decoded from the package instead)."""
    with path.open("rb") as f:
        codes = np.load(f, allow_pickle=False).tolist()
        ptc, pc = np.load(f, allow_pickle=False), np.load(f, allow_pickle=False)
        classes = np.load(f, allow_pickle=False).tolist()
        output = np.load(f, allow_pickle=False).tolist()
        rows, states = np.load(f, allow_pickle=False).tolist()
        start = f.tell() + _padding(f.tell())
        row_end = start + rows * array(codes[1]).itemsize
        end = row_end + states * array(codes[0]).itemsize
        size = os.fstat(f.fileno()).st_size
        if size != end:
            raise EOFError(f"{path}: {size} bytes where its tables take {end}")
        mapped = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))  # the mapping outlives the file
    tk_row, nextmove = mapped[start:row_end].cast(codes[1]), mapped[row_end:end].cast(codes[0])
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=tk_row)


def _padding(offset: int) -> int:
    """Bytes from `offset` to the automaton's tables, which start on a page: their items aligned for numpy."""
    return -offset % mmap.PAGESIZE


def typecode(table: array[int] | memoryview) -> str:
    """An automaton table's item type: an array's typecode, a mapped view's format (the same letters)."""
    return table.typecode if isinstance(table, array) else table.format
