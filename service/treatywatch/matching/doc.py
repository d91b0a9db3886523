"""An item's text as the matcher sees it: positions, keys per position, and an inverted index of keys."""

from __future__ import annotations

from functools import cached_property

from .text import TOKEN, Analyzer, Span, spans

# Positions between title and summary, so a phrase or NEAR never spans the two fields.
FIELD_GAP = 50


class Doc:
    """Built once per item; every watch evaluated on the item reads the same index."""

    def __init__(self, analyzer: Analyzer, title: str, summary: str) -> None:
        self.title = title
        self.summary = summary
        title_words = TOKEN.findall(title)
        summary_words = TOKEN.findall(summary)
        self.title_end = len(title_words)
        self.summary_start = self.title_end + FIELD_GAP
        words = title_words + [""] * FIELD_GAP + summary_words
        self.words = words
        self.pos_keys: list[tuple[str, ...]] = []
        key_pos: dict[str, list[int]] = {}
        keys_of = analyzer.keys
        for pos, word in enumerate(words):
            keys = keys_of(word) if word else ()
            self.pos_keys.append(keys)
            for key in keys:
                bucket = key_pos.get(key)
                if bucket is None:
                    key_pos[key] = [pos]
                else:
                    bucket.append(pos)
        self.key_pos = key_pos
        self._fold = analyzer.fold

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
