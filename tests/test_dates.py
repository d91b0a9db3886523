"""The six languages' dates pattern (matching/text.date_pattern) is built with its month names grouped by first
character, five times faster to scan than one flat alternation of them. These tests hold that it finds exactly what
the flat alternation finds, on generated texts dense with month names and on both dev sets' items."""

from __future__ import annotations

import json
import re
from pathlib import Path

from babel.dates import get_month_names
from hypothesis import given, settings
from hypothesis import strategies as st

from treatywatch.matching.text import LANGUAGES, date_pattern, grouped_alternation

TESTS = Path(__file__).parent


def _months() -> list[str]:
    months: set[str] = set()
    for lang in LANGUAGES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                months.update(m.rstrip(".") for m in get_month_names(width, context, locale=lang).values())
    return sorted(m for m in months if len(m) >= 3)


MONTHS = _months()


def _flat() -> re.Pattern[str]:
    """The pattern as it was written before: one alternation of every name, longest first."""
    names = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
    day = r"\d{1,2}(?:er|st|nd|rd|th)?"
    return re.compile(
        rf"(?:\d{{1,2}}[./]\d{{1,2}}[./]|{day}\.?\s+(?:de\s+)?(?:{names})\.?\s+(?:de\s+)?"
        rf"|(?:{names})\.?\s+{day},?\s+)(?P<y>\d{{4}})(?!\d)|(?P<iso>\d{{4}})-\d{{2}}-\d{{2}}",
        re.I,
    )


FLAT = _flat()


def _found(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], dict[str, str | None]]]:
    return [(m.span(), m.groupdict()) for m in pattern.finditer(text)]


PIECES = [*MONTHS, *(m.upper() for m in MONTHS), *(m.lower() for m in MONTHS)]
PIECES += ["1996", "05", "5th", "1er", "31", "de", "12.01.", "2026-01-12", "x", "am 4.", "le 3", "2025"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", "  ", ".", ", ", "\n"])), max_size=14))
def test_the_grouped_pattern_finds_what_the_flat_one_finds(parts):
    text = "".join(a + b for a, b in parts)
    assert _found(date_pattern(), text) == _found(FLAT, text)


def test_the_dev_sets_items_give_the_same_dates_and_some_are_found():
    found = 0
    for path in (TESTS / "devset" / "items.jsonl", TESTS / "devset2" / "items.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = row["title"] + "\n" + row.get("summary", "")
            dates = _found(date_pattern(), text)
            assert dates == _found(FLAT, text), text
            found += len(dates)
    assert found > 20


def test_full_dates_of_each_language_are_found():
    for text, year in [
        ("signed on 5 December 2025 in Paris", "2025"),
        ("December 5, 2025", "2025"),
        ("от 12.01.2026 № 5-р", "2026"),
        ("5 декабря 2025 года", "2025"),
        ("le 1er décembre 1994", "1994"),
        ("am 4. Februar 1994", "1994"),
        ("5 de dezembro de 2025", "2025"),
        ("el 3 de marzo de 2000", "2000"),
    ]:
        m = date_pattern().search(text)
        assert m is not None and m.group("y") == year, text
    assert date_pattern().search("2026-01-12").group("iso") == "2026"  # type: ignore[union-attr]
    assert date_pattern().search("the 1996 agreement") is None


def test_a_first_letter_whose_lower_case_is_another_string_keeps_its_own_group():
    alternation = grouped_alternation(["İstanbul", "istmo", "Ankara", "april", "Aprilia"])
    pattern = re.compile(f"(?:{alternation})", re.I)
    for word in ["İstanbul", "istmo", "ISTMO", "Ankara", "APRIL", "Aprilia"]:
        assert pattern.fullmatch(word), word
    assert pattern.match("Aprilia").group() == "Aprilia"  # type: ignore[union-attr]  # longest first
