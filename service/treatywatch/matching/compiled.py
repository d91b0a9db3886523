"""Compiled query nodes. Each evaluates on a Doc to None (false) or the list of hits that made it true."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from .doc import Doc
from .explain import Hit

Hits = list[Hit] | None


# A phrase's words may have up to this many words between them, in order: "frozen asset" meets "frozen Russian
# assets", "avoir gelé" "avoirs russes gelés" (Lucene's phrase slop). Never across the title/summary gap.
PHRASE_SLOP = 2


def _rest_at(
    rest: tuple[frozenset[str], ...], start: int, pos_keys: dict[int, tuple[str, ...]], length: int
) -> int | None:
    """Where the phrase ends if its other words follow `start` in order, each within the slop; else None."""
    prev = start
    for ks in rest:
        for q in range(prev + 1, min(length, prev + 2 + PHRASE_SLOP)):
            if any(k in ks for k in pos_keys.get(q, ())):
                prev = q
                break
        else:
            return None
    return prev


def gap(a: Hit, b: Hit) -> int:
    """Words between two hits (0 when they touch or overlap)."""
    return max(b.start - a.end, a.start - b.end, 0)


def near_any(hits: list[Hit], others: list[Hit], distance: int) -> set[Hit]:
    """The hits with at least one of `others` within `distance` (gap): others sorted by start, with the furthest
    end reached so far, so each hit is one binary search, not a comparison with every other (quadratic on an item
    that repeats its terms)."""
    ranked = sorted(others, key=lambda h: h.start)
    starts = [h.start for h in ranked]
    reach: list[int] = []
    for h in ranked:
        reach.append(max(h.end, reach[-1]) if reach else h.end)
    out: set[Hit] = set()
    for h in hits:
        # an other is near when it starts at most `distance` after h ends and ends at most `distance` before h starts
        i = bisect_right(starts, h.end + distance)
        if i and reach[i - 1] >= h.start - distance:
            out.add(h)
    return out


@dataclass(frozen=True)
class CPhrase:
    """Consecutive words; each position accepts any of its keys (one per language the word may be in)."""

    words: tuple[frozenset[str], ...]
    label: str

    def eval(self, doc: Doc, field: str | None) -> Hits:
        hits: list[Hit] = []
        first, rest = self.words[0], self.words[1:]
        pos_keys = doc.pos_keys
        seen: set[int] = set()  # a word carries a key per language: one hit per place, not one per key
        for key in first:
            for p in doc.key_pos.get(key, ()):
                if p in seen or not doc.in_field(p, field):
                    continue
                seen.add(p)
                end = _rest_at(rest, p, pos_keys, doc.length)
                if end is not None:
                    hits.append(Hit(self.label, p, end))
        return hits or None

    def triggers(self) -> frozenset[str] | None:
        return self.words[0]


@dataclass(frozen=True)
class CPhraseSet:
    """Many alternative phrases (a term set): only phrases whose first word occurs in the item are tried."""

    by_first: dict[str, tuple[CPhrase, ...]]

    @classmethod
    def of(cls, phrases: list[CPhrase]) -> CPhraseSet:
        index: dict[str, list[CPhrase]] = {}
        for ph in phrases:
            for key in ph.words[0]:
                index.setdefault(key, []).append(ph)
        return cls({k: tuple(v) for k, v in index.items()})

    def eval(self, doc: Doc, field: str | None) -> Hits:
        key_pos, by_first = doc.key_pos, self.by_first
        keys = key_pos if len(key_pos) < len(by_first) else by_first
        other = by_first if keys is key_pos else key_pos
        tried: set[int] = set()
        hits: list[Hit] = []
        for key in keys:
            if key not in other:
                continue
            for ph in by_first[key]:
                if id(ph) in tried:
                    continue
                tried.add(id(ph))
                got = ph.eval(doc, field)
                if got:
                    hits += got
        return hits or None

    def triggers(self) -> frozenset[str] | None:
        return frozenset(self.by_first)

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True)
class CPrefix:
    prefix: str
    label: str

    def eval(self, doc: Doc, field: str | None) -> Hits:
        hits = [
            Hit(self.label, p, p)
            for p, w in enumerate(doc.folded)
            if w.startswith(self.prefix) and doc.in_field(p, field)
        ]
        return hits or None

    def triggers(self) -> frozenset[str] | None:
        return frozenset({"*:" + self.prefix})


@dataclass(frozen=True)
class CAnd:
    children: tuple[CNode, ...]

    def eval(self, doc: Doc, field: str | None) -> Hits:
        hits: list[Hit] = []
        for child in self.children:
            got = child.eval(doc, field)
            if got is None:
                return None
            hits += got
        return hits

    def triggers(self) -> frozenset[str] | None:
        options = [t for t in (c.triggers() for c in self.children) if t is not None]
        return min(options, key=len) if options else None


@dataclass(frozen=True)
class COr:
    children: tuple[CNode, ...]

    def eval(self, doc: Doc, field: str | None) -> Hits:
        hits: list[Hit] = []
        true = False
        for child in self.children:
            got = child.eval(doc, field)
            if got is not None:
                true = True
                hits += got
        return hits if true else None

    def triggers(self) -> frozenset[str] | None:
        keys: set[str] = set()
        for child in self.children:
            t = child.triggers()
            if t is None:
                return None
            keys |= t
        return frozenset(keys)


@dataclass(frozen=True)
class CNot:
    child: CNode

    def eval(self, doc: Doc, field: str | None) -> Hits:
        return [] if self.child.eval(doc, field) is None else None

    def triggers(self) -> frozenset[str] | None:
        return None


@dataclass(frozen=True)
class CNear:
    left: CNode
    right: CNode
    distance: int

    def eval(self, doc: Doc, field: str | None) -> Hits:
        left, right = self.left.eval(doc, field), self.right.eval(doc, field)
        if not left or not right:
            return None
        # every hit that has a partner within the distance, each once: pairs would multiply along a NEAR chain
        lefts, rights = list(dict.fromkeys(left)), list(dict.fromkeys(right))
        near_left, near_right = near_any(lefts, rights, self.distance), near_any(rights, lefts, self.distance)
        near = dict.fromkeys([a for a in lefts if a in near_left] + [b for b in rights if b in near_right])
        return list(near) or None

    def triggers(self) -> frozenset[str] | None:
        return CAnd((self.left, self.right)).triggers()


@dataclass(frozen=True)
class CUnlessNear:
    """A term set whose hits do not count close to words that make them name something else: "frozen assets of a
    Russian businessman" are not Russia's. Only the hits near a veto word drop; the others still count."""

    child: CNode
    veto: CNode
    reach: int

    def eval(self, doc: Doc, field: str | None) -> Hits:
        hits = self.child.eval(doc, field)
        if not hits:
            return None
        vetoes = self.veto.eval(doc, None)
        if not vetoes:
            return hits
        vetoed = near_any(hits, vetoes, self.reach)
        kept = [h for h in hits if h not in vetoed]
        return kept or None

    def triggers(self) -> frozenset[str] | None:
        return self.child.triggers()


@dataclass(frozen=True)
class CField:
    field: str
    child: CNode

    def eval(self, doc: Doc, field: str | None) -> Hits:
        return self.child.eval(doc, self.field)

    def triggers(self) -> frozenset[str] | None:
        return self.child.triggers()


@dataclass(frozen=True)
class CAct:
    """An act's typed field (doc_type:, issuer:) holds the child, read as a text of its own (Doc.facets): true
    without places, since the field is what the portal says of the act, not words of its title or summary. No
    trigger: an item is a candidate by the rest of the query (or always, for a query of act fields alone)."""

    field: str
    child: CNode

    def eval(self, doc: Doc, field: str | None) -> Hits:
        own = doc.facets.get(self.field)
        return [] if own is not None and self.child.eval(own, None) is not None else None

    def triggers(self) -> frozenset[str] | None:
        return None


@dataclass(frozen=True)
class CNever:
    """A set with no terms: never true, never a candidate."""

    def eval(self, doc: Doc, field: str | None) -> Hits:
        return None

    def triggers(self) -> frozenset[str] | None:
        return frozenset()


CNode = CPhrase | CPhraseSet | CPrefix | CAnd | COr | CNot | CNear | CUnlessNear | CField | CAct | CNever
