"""What the detection work (issue 9) promises, each on the example watchlist written in dictionary forms."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG
from treatywatch.app import compile_config
from treatywatch.config.models import Config, Watch
from treatywatch.items import make_item
from treatywatch.matching import Watchlist

W1 = "agreement-terminated"
FR = "ru-fr-1994-military-cooperation"
PT = "ru-pt-2000-military-cooperation"
NO = "ru-no-military-cooperation"


@pytest.fixture(scope="module")
def example() -> Watchlist:
    return compile_config(EXAMPLE_CONFIG, {})[1]


def agreements(wl: Watchlist, title: str, summary: str = "", lang: str | None = None, **kw: object) -> list[str]:
    """The agreements the termination watch fires with ([] when it does not fire)."""
    item = make_item("news", title=title, summary=summary, language=lang, **kw)  # type: ignore[arg-type]
    return sorted(a.id for m in wl.match(item) if m.watch_id == W1 for a in m.agreements)


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("fr", "La Russie met fin à l'accord de coopération militaire avec la France"),
        ("fr", "Moscou a dénoncé l'accord militaire de 1994 avec Paris"),
        ("pt", "Moscovo põe fim ao acordo de cooperação militar com a França"),
        ("ru", "Россия вышла из соглашения о военном сотрудничестве с Францией"),
        ("ru", "Россия расторгла соглашение о военном сотрудничестве с Францией"),
        ("ru", "Путин денонсировал соглашение о военном сотрудничестве России с Францией"),
        ("ru", "Россия прекращает действие соглашения о военном сотрудничестве с Францией"),
        ("de", "Russland setzt das Militärabkommen mit Frankreich aus"),
        ("de", "Russland kündigte den Verteidigungsvertrag mit Frankreich auf"),
        ("es", "Rusia puso fin al acuerdo militar con Francia"),
        ("en", "Russia scraps military cooperation pact with France"),
    ],
)
def test_inflections_meet_dictionary_forms(example: Watchlist, lang: str, title: str):
    assert agreements(example, title, lang=lang) == [FR]


def test_seed_decree_from_the_portal_fires_with_the_tracked_agreement(example: Watchlist):
    title = (
        'Постановление Правительства Российской Федерации от 12.01.2026 № 33 "О прекращении действия Соглашения '
        "между Правительством Российской Федерации и Правительством Французской Республики о сотрудничестве в "
        'военной области"'
    )
    published = datetime(2026, 1, 13, tzinfo=UTC)
    assert agreements(example, title, lang="ru", published=published) == [FR]


def test_seed_news_fires_with_every_agreement_and_not_the_ratification(example: Watchlist):
    title = "Russia terminates military cooperation agreements with Canada, France and Portugal"
    summary = "The 1989, 1994 and 2000 agreements were ended by a government decree."
    assert agreements(example, title, summary, lang="en") == ["ru-ca-1989-military-visits", FR, PT]
    ratified = "Russia ratifies military logistics agreement with India"
    assert agreements(example, ratified, "The State Duma approved the pact.", lang="en") == []


def test_parties_without_the_subject_are_not_the_agreement(example: Watchlist):
    assert agreements(example, "Russian energy company terminates supply agreement with French firm", lang="en") == []


@pytest.mark.parametrize(
    "title",
    [
        "Polish senators call on Warsaw to scrap its defence accord with Moscow",
        "Deputies urge the government to terminate the military agreement with France",
        "Moscow threatens to end military cooperation agreement with France",
        "Russia has not terminated its military cooperation agreement with France",
        "Des députés appellent Paris à dénoncer l'accord militaire avec Moscou",
        "Россия не будет расторгать соглашение о военном сотрудничестве с Францией",
    ],
)
def test_talk_and_negation_are_not_decisions(example: Watchlist, title: str):
    assert agreements(example, title) == []


def test_decided_can_be_switched_off_per_watch(example: Watchlist):
    title = "Polish senators call on Warsaw to scrap its defence accord with Moscow"
    config = Config.model_validate(
        {
            "entities": {"russia": {"en": ["Moscow"]}, "poland": {"en": ["Warsaw"]}},
            "terms": {"t": {"en": ["scrap"]}},
            "agreements": [{"id": "a", "title": "defence accord", "parties": ["russia", "poland"]}],
            "watches": [
                Watch(id="strict", query="@t", agreements="all"),
                Watch(id="loose", query="@t", agreements="all", decided=False),
            ],
        }
    )
    fired = [m.watch_id for m in Watchlist(config).match(make_item("n", title=title))]
    assert fired == ["loose"]


def test_agreement_named_in_passing_is_not_the_subject(example: Watchlist):
    item = make_item(
        "news",
        title="Russia suspends military cooperation agreement with Norway",
        summary="The defence ministry said so on Friday. The move follows similar steps on Portugal and France.",
        language="en",
    )
    (m,) = [m for m in example.match(item) if m.watch_id == W1]
    subjects = {a.id: a.subject for a in m.agreements}
    assert subjects[NO] is True
    assert subjects.get(FR) in (None, False) and subjects.get(PT) in (None, False)


def test_another_state_ending_a_pact_with_a_partner_is_not_ours(example: Watchlist):
    assert agreements(example, "Senegal ends its defence cooperation agreement with France", lang="en") == []
    # the same sentence with the watchlist's common party unnamed but no other state: Russian wire style
    ru = "Правительство расторгло соглашение с Францией о сотрудничестве в военной области"
    assert agreements(example, ru, lang="ru") == [FR]


def test_phrase_words_may_have_a_word_between_them(example: Watchlist):
    item = make_item("n", title="EU extends use of frozen Russian assets", language="en")
    assert "frozen-assets" in [m.watch_id for m in example.match(item)]


SEEDS = Path(__file__).parent / "data" / "seeds"


def _seed(name: str, title_line: int, lead: list[int]) -> tuple[str, str]:
    lines = (SEEDS / name).read_text(encoding="utf-8").split("\n")
    return lines[title_line], " ".join(lines[i] for i in lead)


def test_first_seed_article_names_its_three_agreements(example: Watchlist):
    """The Euronews-style piece: "dating from 1989 to 2000" must not count against France's 1994 agreement, and
    its dateline "Brussels, 6 December 2025" is not Belgium."""
    title, lead = _seed("000_a70804545b7c8e15.txt", 2, [8, 10])
    assert agreements(example, title, lead, lang="en") == ["ru-ca-1989-military-visits", FR, PT]
    fired = [m.watch_id for m in example.match(make_item("news", title=title, summary=lead, language="en"))]
    assert "frozen-assets" in fired


def test_second_seed_article_names_the_ten_agreements(example: Watchlist):
    title, lead = _seed("002_665f2eada24312cd.txt", 0, [2, 4, 6, 8, 10])
    got = agreements(example, title, lead, lang="en")
    ten = {"be", "bg", "cz", "dk", "gb", "hr", "nl", "no", "pl", "ro"}
    assert {f"ru-{c}-military-cooperation" for c in ten} <= set(got)
