"""An item's text as the matcher sees it: positions, keys per position, and an inverted index of keys."""

from __future__ import annotations

import copy
import re
from bisect import bisect_right
from collections import ChainMap
from collections.abc import Callable
from functools import cached_property

from .query import MAX_NEAR
from .text import MAX_TOKEN_CHARS, TOKEN, Span, spans, tokens

# Positions between title and summary, so a phrase or NEAR never spans the two fields.
FIELD_GAP = 50
_GAP = [""] * FIELD_GAP
# Positions before the body and between its pages: wider than any NEAR/n or phrase slop, so neither spans a page
# or joins the body to the title and summary.
PAGE_GAP = MAX_NEAR + 8
_PAGE_GAP = [""] * PAGE_GAP
# a dateline opens with a place of a few words and a comma, then the date
_DATELINE_PLACE = re.compile(r"\s*(?P<place>[^\W\d_][^\W\d_ .'-]*(?:[ .'-]+[^\W\d_]+){0,3}),\s*")


class Doc:
    """Built once per item; every watch evaluated on the item reads the same index."""

    def __init__(
        self,
        keys_of: Callable[[str], tuple[str, ...]],
        fold: Callable[[str], str],
        title: str,
        summary: str,
        cache: dict[str, tuple[str, ...]],
        dates: re.Pattern[str] | None = None,
        body: str = "",
    ) -> None:
        self.title = title
        self.summary = summary
        self.body = body
        title_words = tokens(title)
        summary_words = tokens(summary)
        self.title_end = len(title_words)
        self.summary_start = self.title_end + FIELD_GAP
        words = title_words + _GAP + summary_words
        self.body_start = len(words)
        # each page of the body: (its first position, its first character in the body), and where each of its
        # tokens starts and ends in the body (read once here, so explanations and the operative part cost nothing)
        self.pages: list[tuple[int, int]] = []
        self._page_tokens: list[tuple[list[int], list[int]]] = []
        if body:
            offset = 0
            for page in body.split("\f"):
                words += _PAGE_GAP
                self.pages.append((len(words), offset))
                found = list(TOKEN.finditer(page))
                words += [m.group() for m in found]
                self._page_tokens.append(([m.start() + offset for m in found], [m.end() + offset for m in found]))
                offset += len(page) + 1
            self.body_start = self.pages[0][0]
        self.words = words
        # The hot path of matching, kept in C where possible: new words are analysed once into the shared cache,
        # then only positions whose word carries keys (few: most words match no term) are looked at. Tokens over
        # MAX_TOKEN_CHARS stay out of the shared cache: it would keep whole hostile texts.
        lookup: dict[str, tuple[str, ...]] | ChainMap[str, tuple[str, ...]] = cache
        long: dict[str, tuple[str, ...]] = {}
        for word in set(words).difference(cache):
            if len(word) > MAX_TOKEN_CHARS:
                long[word] = keys_of(word)
            else:
                cache[word] = keys_of(word) if word else ()
        if long:
            lookup = ChainMap(long, cache)
        if self.pages:  # the pages' gaps are most of a body's positions: only its words are looked up
            segments = [(0, words[: self.body_start])] + [
                (first, words[first : first + len(starts)])
                for (first, _), (starts, _) in zip(self.pages, self._page_tokens, strict=True)
            ]
            keyed = [
                (at + i, keys) for at, seg in segments for i, keys in enumerate(map(lookup.__getitem__, seg)) if keys
            ]
        else:
            keyed = [(pos, keys) for pos, keys in enumerate(map(lookup.__getitem__, words)) if keys]
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
        self._dates = dates
        # an act's typed fields (doc_type, issuer) as texts of their own, for doc_type: and issuer: (engine.item_doc)
        self.facets: dict[str, Doc] = {}

    def add_keys(self, additions: dict[int, tuple[str, ...]]) -> None:
        """Keys positions earn from their context (German separable verbs joined with their particles), all at
        once: each key's positions are sorted once, not once per position (quadratic on a text of particles)."""
        touched: set[str] = set()
        for pos, keys in additions.items():
            have = self.pos_keys.get(pos, ())
            new = tuple(k for k in dict.fromkeys(keys) if k not in have)
            if not new:
                continue
            self.pos_keys[pos] = have + new
            for key in new:
                self.key_pos.setdefault(key, []).append(pos)
                touched.add(key)
        for key in touched:
            self.key_pos[key].sort()

    def masked(self, positions: frozenset[int]) -> Doc:
        """The same item with these positions unreadable: what is left when talk and negation are set aside."""
        view = copy.copy(self)
        view.pos_keys = {p: k for p, k in self.pos_keys.items() if p not in positions}
        view.key_pos = {}
        for key, where in self.key_pos.items():
            kept = [p for p in where if p not in positions]
            if kept:
                view.key_pos[key] = kept
        view.__dict__["folded"] = ["" if p in positions else w for p, w in enumerate(self.folded)]
        return view

    @cached_property
    def folded(self) -> list[str]:
        return [self._fold(w) if w else "" for w in self.words]  # a body's page gaps are most of its positions

    def in_field(self, pos: int, field: str | None) -> bool:
        if field is None:
            return True
        if field == "title":
            return pos < self.title_end
        if field == "summary":
            return self.summary_start <= pos < self.body_start
        return field == "body" and pos >= self.body_start

    @cached_property
    def dateline(self) -> frozenset[int]:
        """Positions of a dateline's place at the start of the summary ("Brussels, 6 December 2025 – …")."""
        if self._dates is None:
            return frozenset()
        m = _DATELINE_PLACE.match(self.summary)
        if not m or not self._dates.match(self.summary, m.end()):
            return frozenset()
        place_words = len(TOKEN.findall(m.group("place")))
        return frozenset(range(self.summary_start, self.summary_start + place_words))

    @cached_property
    def all_years(self) -> frozenset[int]:
        """Every year the text writes, full dates' too."""
        return frozenset(
            int(k[1:]) for k in self.key_pos if k.startswith("#") and len(k) == 5 and 1900 <= int(k[1:]) <= 2100
        )

    @cached_property
    def date_starts(self) -> dict[int, int]:
        """The position of each full date's year in the title and summary, to the position the date starts at
        (`20 ноября 1989`: the year's position to that of 20)."""
        out: dict[int, int] = {}
        if self._dates is None:
            return out
        for text, first in ((self.title, 0), (self.summary, self.summary_start)):
            for m in self._dates.finditer(text):
                year = m.start("y") if m.group("y") else m.start("iso")
                out[first + len(TOKEN.findall(text, 0, year))] = first + len(TOKEN.findall(text, 0, m.start()))
        return out

    @cached_property
    def years(self) -> frozenset[int]:
        """Years the text mentions on their own: the year of a full date (`от 12.01.2026`, `5 December 2025`) is
        when a text was written or an act signed, not the year an agreement is known by."""
        found = set(self.all_years)
        if found and self._dates is not None:
            text = self.title + "\n" + self.summary
            dated = {int(m.group("y") or m.group("iso")) for m in self._dates.finditer(text)}
            if dated:
                alone = {int(y) for y in re.findall(r"(?<!\d)(\d{4})(?!\d)", self._dates.sub(" ", text))}
                found = {y for y in found if y not in dated or y in alone}
        return frozenset(found)

    @cached_property
    def _spans(self) -> tuple[list[Span], list[Span]]:
        return spans(self.title), spans(self.summary, self.summary_start)

    def locate(self, pos: int) -> tuple[str, Span]:
        """Which field a position is in and its characters there."""
        title_spans, summary_spans = self._spans
        if pos < self.title_end:
            return "title", title_spans[pos]
        if pos >= self.body_start and self.pages:
            page = bisect_right(self.pages, (pos, len(self.body) + 1)) - 1
            starts, ends = self._page_tokens[page]
            i = pos - self.pages[page][0]
            return "body", Span(pos, starts[i], ends[i])
        return "summary", summary_spans[pos - self.summary_start]


def page_line(body: str, offset: int, pages: list[tuple[int, int]] | None = None) -> tuple[int, int]:
    """The page ("\f"-separated, from 1) and the line on it (from 1) of a character of a body; with a Doc's
    `pages`, the page is looked up rather than counted from the start (many hits in a long act)."""
    if pages:
        page = bisect_right(pages, offset, key=lambda p: p[1]) - 1
        page_start = pages[page][1]
        return page + 1, body.count("\n", page_start, offset) + 1
    page_start = body.rfind("\f", 0, offset) + 1
    return body.count("\f", 0, offset) + 1, body.count("\n", page_start, offset) + 1
