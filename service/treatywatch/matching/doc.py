"""An item's text as the matcher sees it: positions, keys per position, and an inverted index of keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from .text import TOKEN, Span, spans

# Positions between title and summary, so a phrase or NEAR never spans the two fields.
FIELD_GAP = 50
_GAP = [""] * FIELD_GAP


class Doc:
    """Built once per item; every watch evaluated on the item reads the same index."""

    def __init__(
        self,
        keys_of: Callable[[str], tuple[str, ...]],
        fold: Callable[[str], str],
        title: str,
        summary: str,
        cache: dict[str, tuple[str, ...]],
    ) -> None:
        self.title = title
        self.summary = summary
        title_words = TOKEN.findall(title)
        summary_words = TOKEN.findall(summary)
        self.title_end = len(title_words)
        self.summary_start = self.title_end + FIELD_GAP
        words = title_words + _GAP + summary_words
        self.words = words
        # The hot path of matching, kept in C where possible: new words are analysed once into the shared cache,
        # then only positions whose word carries keys (few: most words match no term) are looked at.
        for word in set(words).difference(cache):
            cache[word] = keys_of(word) if word else ()
        keyed = [(pos, keys) for pos, keys in enumerate(map(cache.__getitem__, words)) if keys]
        key_pos: dict[str, list[int]] = {}
        for pos, keys in keyed:
            for key in keys:
                bucket = key_pos.get(key)
                if bucket is None:
                    key_pos[key] = [pos]
                else:
                    bucket.append(pos)
        self.pos_keys: dict[int, tuple[str, ...]] = dict(keyed)
        self.key_pos = key_pos
        self.length = len(words)
        self._fold = fold

    @cached_property
    def folded_text(self) -> str:
        """Both fields folded, for the wildcard pre-check (one regex search instead of a loop over words)."""
        return self._fold(self.title + "\n" + self.summary)

    @cached_property
    def folded(self) -> list[str]:
        return [self._fold(w) for w in self.words]

    def in_field(self, pos: int, field: str | None) -> bool:
        return field is None or (field == "title" and pos < self.title_end)

    @cached_property
    def years(self) -> frozenset[int]:
        return frozenset(
            int(k[1:]) for k in self.key_pos if k.startswith("#") and len(k) == 5 and 1900 <= int(k[1:]) <= 2100
        )

    @cached_property
    def _spans(self) -> tuple[list[Span], list[Span]]:
        return spans(self.title), spans(self.summary, self.summary_start)

    def locate(self, pos: int) -> tuple[str, Span]:
        """Which field a position is in and its characters there."""
        title_spans, summary_spans = self._spans
        if pos < self.title_end:
            return "title", title_spans[pos]
        return "summary", summary_spans[pos - self.summary_start]
