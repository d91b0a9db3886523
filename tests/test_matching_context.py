"""Context that changes what a hit means: the year that identifies an agreement whose partner goes unnamed, and
neighbours (`unless_near`) that make a term name something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_config
from treatywatch.app import compile_config
from treatywatch.config import load_config
from treatywatch.config.models import Config, TermSet, Watch
from treatywatch.errors import ConfigError
from treatywatch.items import make_item
from treatywatch.matching import Watchlist
from treatywatch.vocabularies import load_exceptions, load_vocabulary

ENTITIES = {
    "ru": {"en": ["Russia", "Moscow"], "pt": ["Rússia", "Moscovo"]},
    "pt": {"en": ["Portugal", "Lisbon"], "pt": ["Portugal", "Lisboa"]},
    "fr": {"en": ["France", "Paris"], "pt": ["França", "Paris"]},
    "no": {"en": ["Norway", "Oslo"]},
}
TERMS = {
    "end": {"en": ["denounce", "scrap"], "pt": ["denunciar"]},
    "pact": {"en": ["accord", "agreement"], "pt": ["acordo"]},
    "military": {"en": ["military"], "pt": ["militar"]},
}


def agreements_watchlist(*agreements: dict) -> Watchlist:
    config = Config(
        terms={k: TermSet.model_validate(v) for k, v in TERMS.items()},
        entities=ENTITIES,
        agreements=list(agreements),
        watches=[Watch(id="w", query="@pact AND @end", agreements="all")],
    )
    return Watchlist(config)


TRACKED = (
    {"id": "a-pt", "title": "Russia–Portugal military cooperation", "parties": ["ru", "pt"], "signed": 2000},
    {"id": "a-fr", "title": "Russia–France agreement on military cooperation", "parties": ["ru", "fr"], "signed": 1994},
    {"id": "a-no", "title": "Russia–Norway agreement on military cooperation", "parties": ["ru", "no"]},
)


def concerned(wl: Watchlist, title: str, summary: str = "") -> list[str]:
    return sorted(a.id for m in wl.match(make_item("t", title=title, summary=summary)) for a in m.agreements)


def test_a_unique_signing_year_names_the_agreement_whose_partner_goes_unnamed():
    wl = agreements_watchlist(*TRACKED)
    assert concerned(wl, "Governo reage depois de Moscovo denunciar acordo militar de 2000") == ["a-pt"]
    (m,) = wl.match(make_item("t", title="Moscow denounces the 2000 military accord"))
    (hit,) = m.agreements
    assert any("the year 2000 tells which agreement" in r for r in hit.reasons), hit.reasons


def test_the_year_alone_is_not_enough():
    wl = agreements_watchlist(*TRACKED)
    # no subject (military) spoken of: a 2000 gas accord is not the defence pact
    assert concerned(wl, "Moscow denounces the 2000 gas accord") == []
    # another country named (CLDR): that state's accord, not Portugal's
    assert concerned(wl, "Moscow denounces the 2000 military accord with Ukraine") == []
    # a year no tracked agreement has, or none at all
    assert concerned(wl, "Moscow denounces the 2001 military accord") == []
    assert concerned(wl, "Moscow denounces a military accord") == []


def test_a_year_two_tracked_agreements_share_tells_neither_apart():
    second = {"id": "a-fr2", "title": "Russia–France military accord", "parties": ["ru", "fr"], "signed": 2000}
    wl = agreements_watchlist(*TRACKED, second)
    assert concerned(wl, "Moscow denounces the 2000 military accord") == []
    # named partners still decide
    assert concerned(wl, "Moscow denounces the 2000 military accord with Portugal") == ["a-pt"]


# -- unless_near ---------------------------------------------------------------------------------------------------


def assets_watchlist(within: int | None = None) -> Watchlist:
    frozen: dict = {"en": ["frozen asset", "Euroclear"], "unless_near": {"en": ["investor", "businessman"]}}
    if within is not None:
        frozen["unless_within"] = within
    config = Config(
        terms={"frozen": TermSet.model_validate(frozen)},
        entities={"ru": {"en": ["Russia", "Russian"]}},
        watches=[Watch(id="w", query="@frozen AND @ru")],
    )
    return Watchlist(config)


@pytest.mark.parametrize(
    ("title", "fires"),
    [
        ("EU keeps frozen Russian assets of the central bank for good", True),
        ("Court releases frozen assets of a Russian businessman", False),
        ("Euroclear releases a Russian investor's blocked securities", False),
        # only the hit next to the owner drops: the state's assets further on still count
        ("Russian businessman's frozen assets released as EU keeps Euroclear holdings of Russia's central bank", True),
    ],
)
def test_unless_near_sets_aside_hits_next_to_its_words(title: str, fires: bool):
    got = [m.watch_id for m in assets_watchlist().match(make_item("t", title=title))]
    assert got == (["w"] if fires else [])


def test_unless_within_is_the_reach():
    # Russia named as itself, and no owner in reach of the assets' own noun phrase: only `unless_near` decides
    title = "Russia protests as court releases frozen assets of a well known and very rich foreign businessman"
    assert [m.watch_id for m in assets_watchlist().match(make_item("t", title=title))] == ["w"]
    assert [m.watch_id for m in assets_watchlist(within=10).match(make_item("t", title=title))] == []


def test_unless_near_languages_are_checked(tmp_path: Path):
    write_config(tmp_path, 'terms:\n  frozen:\n    en: ["frozen asset"]\n    unless_near: {xx: [investor]}\n', "t.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, {})
    assert any("t.yaml:" in p and "unknown language 'xx'" in p for p in info.value.problems), info.value.problems


def test_the_frozen_state_assets_vocabulary_leaves_the_owner_to_the_noun_phrase(tmp_path: Path):
    """The vocabulary carries no 5-word window of private owners any more: the engine reads the owner of the
    frozen thing (ownership.py), so a businessman named further on does not silence the state's assets."""
    write_config(
        tmp_path,
        "vocabularies:\n  frozen: [frozen_state_assets]\n"
        "entities:\n  ru: {de: [Russland, russisch], en: [Russia, Russian]}\n"
        'watches:\n  - {id: w, query: "@frozen AND @ru"}\n',
        "w.yaml",
    )
    config, wl = compile_config(tmp_path, {})
    assert config.terms["frozen"].unless_near == load_exceptions("frozen_state_assets") == {}
    assert "unless_near" not in load_vocabulary("frozen_state_assets")
    item = make_item("t", title="Gericht gibt eingefrorenes Vermögen eines russischen Unternehmers frei", language="de")
    assert wl.match(item) == []
    item = make_item("t", title="EU hält eingefrorenes Vermögen der russischen Zentralbank fest", language="de")
    assert [m.watch_id for m in wl.match(item)] == ["w"]
    near = "EU keeps Russian central bank's frozen assets as court releases a businessman's holdings"
    assert [m.watch_id for m in wl.match(make_item("t", title=near, language="en"))] == ["w"]


@pytest.mark.parametrize(
    ("title", "lang"),
    [
        ("EU moves to keep Russian central bank assets immobilised indefinitely", "en"),
        ("Активы России заморожены", "ru"),
        ("Die russischen Vermögenswerte bleiben eingefroren", "de"),
    ],
)
def test_a_modifier_after_its_noun_meets_the_term(title: str, lang: str):
    """'immobilised assets' as an operator writes it meets 'assets … immobilised' (a predicate or a postposed
    participle), in every language; names (capitalised terms) keep their order."""
    config = Config(
        terms={
            "frozen": TermSet.model_validate(
                {"en": ["immobilised asset"], "ru": ["замороженный актив"], "de": ["eingefrorener Vermögenswert"]}
            )
        },
        entities={"ru": {"en": ["Russian"], "ru": ["Россия"], "de": ["russisch"]}},
        watches=[Watch(id="w", query="@frozen AND @ru")],
    )
    got = Watchlist(config).match(make_item("t", title=title, language=lang))
    assert [m.watch_id for m in got] == ["w"]
