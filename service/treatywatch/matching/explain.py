"""Why a watch fired: the terms that hit and where, the agreements concerned, a snippet with the hits marked."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .doc import Doc, page_line

SNIPPET_CHARS = 240
# a term of a watch that reads the body may recur hundreds of times in a long act: its first places explain it
BODY_PLACES_PER_TERM = 3


@dataclass(frozen=True)
class Hit:
    """One term occurrence: what it matched (`@termination: terminate`) and its token positions."""

    label: str
    start: int
    end: int  # inclusive


@dataclass(frozen=True)
class HitPlace:
    label: str
    field: str
    start: int
    end: int
    text: str
    page: int | None = None  # in the body: the page (from 1) and the line on it (from 1) a reader finds it at
    line: int | None = None

    def where(self) -> str:
        """`title`, `summary`, or `body p. 2, l. 14`."""
        return f"body p. {self.page}, l. {self.line}" if self.page is not None else self.field


@dataclass(frozen=True)
class AgreementHit:
    id: str
    title: str
    score: float
    reasons: tuple[str, ...]
    # True when the agreement is what the item is about (named in the title or lead, or the only one concerned);
    # False when it is only mentioned in passing ("the move follows similar steps on Portugal"). Grouping uses it.
    subject: bool = True


@dataclass(frozen=True)
class LanguageNote:
    """The language the item was read in and where it came from, so an operator sees why English terms met (or
    did not meet) an item of a feed declared Portuguese."""

    language: str | None
    origin: str | None = None  # "identified" (from the text), "source" (the declared one kept), None: not known
    declared: str | None = None  # what the source declared

    def text(self) -> str:
        """`language en (identified; the source declares pt)`, `language pt (the source's)`."""
        lang = self.language or "not known (read in every language)"
        if self.origin == "identified":
            declared = f"; the source declares {self.declared}" if self.declared else ""
            return f"language {lang} (identified{declared})"
        if self.origin == "source":
            return f"language {lang} (the source's)"
        return f"language {lang}"


@dataclass(frozen=True)
class Snippet:
    """Plain text plus character ranges to highlight; each renderer escapes and marks in its own format."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()
    link: str = ""  # a window of the body: its page of the act's document (document_url#page=N)

    def marked(self, before: str = "[", after: str = "]") -> str:
        out, last = [], 0
        for s, e in self.marks:
            out += [self.text[last:s], before, self.text[s:e], after]
            last = e
        out.append(self.text[last:])
        return "".join(out)


@dataclass(frozen=True)
class Match:
    """A watch firing on an item, with everything needed to explain it later."""

    watch_id: str
    watch_title: str
    severity: str
    hits: tuple[HitPlace, ...]
    agreements: tuple[AgreementHit, ...] = ()
    snippet: Snippet = field(default_factory=lambda: Snippet(""))
    language: LanguageNote | None = None
    # how the engine read the item beyond its terms: a foreign party found or not, ownership, an institution
    notes: tuple[str, ...] = ()

    def why(self) -> str:
        """One line: each distinct term that hit, with the words it hit, the agreements concerned, the language."""
        seen: dict[str, dict[str, None]] = {}
        for h in self.hits:
            at = f" ({h.where()})" if h.page is not None else ""
            seen.setdefault(h.label, {})[f"«{h.text}»{at}"] = None  # a dict keeps the order without a search per hit
        parts = [f"{label} {', '.join(words)}" for label, words in seen.items()]
        for a in self.agreements:
            parts.append(f"concerns {a.id} ({'; '.join(a.reasons)})")
        parts += self.notes
        if self.language is not None:
            parts.append(self.language.text())
        return "; ".join(parts)


def place_hits(doc: Doc, hits: list[Hit]) -> tuple[HitPlace, ...]:
    """Positions to characters, one entry per distinct place, in reading order."""
    seen: dict[tuple[str, int, int], HitPlace] = {}
    texts = {"title": doc.title, "summary": doc.summary, "body": doc.body}
    in_body: dict[str, int] = {}
    for h in sorted(hits, key=lambda h: (h.start, h.end)):
        if h.start >= doc.body_start and doc.pages:
            if in_body.get(h.label, 0) >= BODY_PLACES_PER_TERM:
                continue
            in_body[h.label] = in_body.get(h.label, 0) + 1
        field_name, first = doc.locate(h.start)
        _, last = doc.locate(h.end)
        text = texts[field_name][first.start : last.end]
        key = (field_name, first.start, last.end)
        if key not in seen:
            page, line = page_line(doc.body, first.start, doc.pages) if field_name == "body" else (None, None)
            seen[key] = HitPlace(h.label, field_name, first.start, last.end, text, page, line)
    return tuple(seen.values())


def snippet(doc: Doc, places: tuple[HitPlace, ...], document_url: str = "") -> Snippet:
    """The title if it holds hits, else a window of the summary around the first hit, else one of the body
    linked to its page of the document; hits marked. Title evidence stays first."""
    in_title = [p for p in places if p.field == "title"]
    in_summary = [p for p in places if p.field == "summary"]
    in_body = [p for p in places if p.field == "body"]
    if in_title or not (in_summary or in_body):
        return Snippet(doc.title, _merge([(p.start, p.end) for p in in_title]))
    if in_summary:
        return _window(doc.summary, in_summary)
    page = in_body[0].page
    link = f"{document_url}#page={page}" if document_url and page else ""
    on_page = [p for p in in_body if p.page == page]
    window = _window(doc.body.replace("\f", " ").replace("\n", " "), on_page)
    return Snippet(window.text, window.marks, link)


def _window(text: str, places: list[HitPlace]) -> Snippet:
    """About SNIPPET_CHARS of the text around the first of the places, cut at spaces; the places marked."""
    first = places[0].start
    begin = max(0, first - SNIPPET_CHARS // 3)
    if begin:
        space = text.rfind(" ", 0, begin)
        begin = space + 1 if space >= 0 else begin
    end = min(len(text), begin + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > begin else end
    prefix = "…" if begin else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - begin
    marks = [(s + shift, e + shift) for s, e in ((p.start, p.end) for p in places) if s >= begin and e <= end]
    return Snippet(prefix + text[begin:end] + suffix, _merge(marks))


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


def match_to_dict(m: Match) -> dict:
    """The stored form of a match: everything `why()` and the templates need."""
    return asdict(m)


def match_from_dict(d: dict) -> Match:
    return Match(
        watch_id=d["watch_id"],
        watch_title=d["watch_title"],
        severity=d["severity"],
        hits=tuple(HitPlace(**h) for h in d["hits"]),
        agreements=tuple(
            AgreementHit(a["id"], a["title"], a["score"], tuple(a["reasons"]), a.get("subject", True))
            for a in d["agreements"]
        ),
        snippet=Snippet(
            d["snippet"]["text"],
            tuple(tuple(x) for x in d["snippet"]["marks"]),  # type: ignore[misc]
            d["snippet"].get("link", ""),
        ),
        language=LanguageNote(**d["language"]) if d.get("language") else None,  # None: stored before the stage
        notes=tuple(d.get("notes", ())),
    )
