"""Talk over a long body is bounded work: modality's reading of history ("the end of the Cold War") looked at every
period noun for every noun of ending, so a body at the cap made of them ("the end of the war", 40,000 times: an
article or an act's text) held a match for hours. Counted, not timed."""

from __future__ import annotations

import pytest

from conftest import example_watchlist
from treatywatch.matching import Watchlist, modality


class CountingWords(list):
    """A doc's words that count the slices taken of them: the work _history does per pair it looks at."""

    slices = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            CountingWords.slices += 1
        return super().__getitem__(index)


@pytest.fixture(scope="module")
def wl(tmp_path_factory: pytest.TempPathFactory) -> Watchlist:
    return example_watchlist(tmp_path_factory.mktemp("config"), [{"id": "w", "query": "@termination"}])


@pytest.mark.parametrize(
    ("lang", "phrase"),
    [("en", "the end of the war, "), ("fr", "la fin de la guerre, "), ("en", "the war's end and ")],
)
def test_history_looks_only_at_periods_within_reach(wl: Watchlist, lang: str, phrase: str):
    body = phrase * 600
    doc = wl.doc("Decree", "", lang, body)
    endings = wl.cues.ending.eval(doc, None) or []
    assert len(endings) >= 600
    doc.words = CountingWords(doc.words)
    CountingWords.slices = 0
    found = modality._history(doc, wl.cues)
    assert all(e.start in found for e in endings)  # every one is history, as a single one is
    assert CountingWords.slices <= 4 * len(endings), CountingWords.slices  # two slices a period within reach
