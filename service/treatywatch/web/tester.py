"""The watch tester: pasted text through the running watchlist, as `treatywatch match` does, answered as values.

It stores nothing and sends nothing; it only costs CPU, hence the cap on the text's length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config.models import LANGUAGES
from ..items import Item, make_item
from ..matching import Match, Watchlist
from ..matching.explain import match_to_dict
from ..matching.language import LanguageStage
from .api import BadRequest

MAX_TEXT = 20_000  # characters of pasted text (title included): a long article, not a book
SOURCE = "tester"  # the source id the text pretends to come from, unless the form names one


@dataclass(frozen=True)
class TestResult:
    title: str
    summary: str
    language: str | None
    source: str
    matches: list[Match]
    set_aside: list[tuple[str, list[str]]]  # watch id, the cue words that made it talk rather than a decision

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "language": self.language,
            "source": self.source,
            "fires": [match_to_dict(m) | {"why": m.why()} for m in self.matches],
            "set_aside": [{"watch": w, "cues": cues} for w, cues in self.set_aside],
        }


def parse_request(fields: Mapping[str, str], sources: list[str]) -> tuple[str, str, str | None, str]:
    """(title, summary, language, source) from the form or JSON fields, checked: a bad field is a 400."""
    text = (fields.get("text") or "").strip()
    title = (fields.get("title") or "").strip()
    if len(text) + len(title) > MAX_TEXT:
        raise BadRequest(f"text too long: at most {MAX_TEXT:,} characters")
    if not title:  # as `treatywatch match`: first line the title, the rest the summary
        title, _, text = text.partition("\n")
    if not title.strip() and not text.strip():
        raise BadRequest("give a text to test")
    language = (fields.get("language") or "").strip() or None
    if language is not None and language not in LANGUAGES:
        raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    source = (fields.get("source") or "").strip() or SOURCE
    if source != SOURCE and source not in sources:
        raise BadRequest(f"no source {source!r}")
    return title.strip(), text.strip(), language, source


def run(watchlist: Watchlist, title: str, summary: str, language: str | None, source: str) -> TestResult:
    """What fires and why, and which watches held on the words but were set aside as talk."""
    # the language given is the prior, as a source's declared one is in the runner
    return check(watchlist, LanguageStage().apply(make_item(source, title=title, summary=summary, language=language)))


def check(watchlist: Watchlist, item: Item) -> TestResult:
    """The tester on an item already read for its language (a stored one: a source's page shows its last items so)."""
    matches = watchlist.match(item)
    fired = {m.watch_id for m in matches}
    aside = [(w, cues) for w, cues in watchlist.set_aside(item) if w not in fired]
    return TestResult(item.title, item.summary, item.language, item.source_id, matches, aside)
