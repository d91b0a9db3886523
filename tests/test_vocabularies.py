"""Shipped vocabularies and the gazetteer: opt-in merging at load, errors with file:line, and the data's hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tw, write_config
from treatywatch.app import compile_config
from treatywatch.config import load_config
from treatywatch.config.models import LANGUAGES
from treatywatch.errors import ConfigError
from treatywatch.items import ActFields, make_item
from treatywatch.vocabularies import (
    HERE,
    KINDS,
    Gazetteer,
    fold,
    load_vocabulary,
    merge_terms,
    vocabulary_names,
)

VOCAB_WATCHLIST = REPO / "tests" / "devset" / "watchlist-vocab.yaml"
SHARED_WATCHLIST = REPO.parent / "shared" / "devset" / "watchlist.yaml"
OPT_IN_KEYS = {"vocabularies", "gazetteer"}
STUB_SOURCE = "sources:\n  - id: devset-portal\n    type: feed\n    url: http://127.0.0.1:9/feed\n"
DEVSET_COUNTRIES = {
    "russia": "RU",
    "canada": "CA",
    "france": "FR",
    "portugal": "PT",
    "germany": "DE",
    "bulgaria": "BG",
    "poland": "PL",
    "romania": "RO",
    "denmark": "DK",
    "norway": "NO",
    "uk": "GB",
    "netherlands": "NL",
    "croatia": "HR",
    "belgium": "BE",
    "czechia": "CZ",
    "india": "IN",
}
EUROPE = (
    "AL AD AM AT AZ BY BE BA BG HR CY CZ DK EE FI FR GE DE GR HU IS IE IT XK KZ LV LI LT LU MT MD MC ME NL MK NO PL "
    "PT RO RU SM RS SK SI ES SE CH TR UA GB VA"
).split()
G7 = "CA FR DE IT JP GB US".split()
BRICS = "BR RU IN CN ZA EG ET IR AE ID SA".split()
DEVSET_OTHERS = "LT MD FI JP VE TD NE AF".split()  # untracked states the dev-set README names


def vocab_dir(tmp_path: Path, opt_in: bool) -> Path:
    """The dev-set watchlist (with or without its opt-in lines) plus a stand-in for the source its W3 names."""
    text = VOCAB_WATCHLIST.read_text(encoding="utf-8")
    if not opt_in:
        text = text.split("\n# The documented opt-in")[0] + "\n"
    write_config(tmp_path, text, "watchlist.yaml")
    return write_config(tmp_path, STUB_SOURCE, "sources.yaml")


def operator_sections() -> dict:
    return yaml.safe_load(VOCAB_WATCHLIST.read_text(encoding="utf-8"))


def errors(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, {})
    return info.value.problems


# -- opting in and out --------------------------------------------------------------------------------------------


def test_without_opt_in_the_operator_gets_exactly_what_they_wrote(tmp_path: Path):
    config = load_config(vocab_dir(tmp_path, opt_in=False), {})
    written = operator_sections()
    assert {name: ts.by_language for name, ts in config.terms.items()} == written["terms"]
    assert {name: e.by_language for name, e in config.entities.items()} == written["entities"]
    assert config.vocabularies == {} and config.gazetteer is False


def test_opt_in_adds_shipped_terms_after_the_operators_own(tmp_path: Path):
    config = load_config(vocab_dir(tmp_path, opt_in=True), {})
    written = operator_sections()
    assert config.vocabularies == written["vocabularies"]
    for set_name, vocabularies in written["vocabularies"].items():
        got = config.terms[set_name].by_language
        own = written["terms"][set_name]
        shipped: dict[str, list[str]] = {}
        for name in vocabularies:
            shipped = merge_terms(shipped, load_vocabulary(name))
        assert set(got) == set(own) | set(shipped)
        for lang, terms in got.items():
            assert terms[: len(own.get(lang, []))] == own.get(lang, []), (set_name, lang)  # theirs first, in order
            folded = [fold(t) for t in terms]
            assert len(folded) == len(set(folded)), (set_name, lang)
            assert set(folded) == {fold(t) for t in own.get(lang, []) + shipped.get(lang, [])}
    # Concretely: the operator's French termination terms stay and gain the shipped synonyms and suspension.
    fr = config.terms["termination"].by_language["fr"]
    assert fr[:2] == ["mettre fin", "dénoncer"] and {"annuler", "abroger", "suspension"} <= set(fr)
    # official_act had only Russian; the other five languages arrive with the vocabulary.
    assert set(config.terms["official_act"].by_language) == set(LANGUAGES)


def test_opt_in_creates_a_set_that_does_not_exist(tmp_path: Path):
    write_config(tmp_path, "vocabularies:\n  paused: [suspension]\nwatches:\n  - id: w\n    query: '@paused'\n")
    config = load_config(tmp_path, {})
    assert config.terms["paused"].by_language == load_vocabulary("suspension")


def test_gazetteer_adds_every_form_of_the_entitys_country(tmp_path: Path):
    config = load_config(vocab_dir(tmp_path, opt_in=True), {})
    written = operator_sections()["entities"]
    gazetteer = Gazetteer.load()
    for entity, code in DEVSET_COUNTRIES.items():
        got = config.entities[entity].by_language
        assert got == merge_terms(written[entity], gazetteer.countries[code].forms()), entity
    assert "République portugaise" in config.entities["portugal"].by_language["fr"]
    assert {"Союз Советских Социалистических Республик", "российский"} <= set(
        config.entities["russia"].by_language["ru"]
    )
    assert "Prag" in config.entities["czechia"].by_language["de"]
    assert "Kingdom of Denmark" in config.entities["denmark"].by_language["en"]


@pytest.mark.parametrize(("entity", "code"), sorted(DEVSET_COUNTRIES.items()))
def test_gazetteer_recognises_the_devset_entities(entity: str, code: str):
    names = operator_sections()["entities"][entity]
    gazetteer = Gazetteer.load()
    assert gazetteer.resolve(entity, names) == [code]
    assert gazetteer.resolve(f"{entity}-x", names) == [code]  # by its names when the id says nothing


def test_entity_recognised_by_its_names_not_by_capitals_or_adjectives():
    gazetteer = Gazetteer.load()
    assert gazetteer.resolve("soviet", {"en": ["USSR"]}) == ["RU"]
    assert gazetteer.resolve("bonn-government", {"ru": ["ФРГ"]}) == ["DE"]
    assert gazetteer.resolve("united-kingdom", {}) == ["GB"]
    assert gazetteer.resolve("eu", {"en": ["European Union", "Brussels", "Belgian"]}) == []
    assert gazetteer.resolve("baltics", {"en": ["Estonia", "Latvia", "Lithuania"]}) == ["EE", "LT", "LV"]


def test_country_pin_overrides_recognition(tmp_path: Path):
    write_config(
        tmp_path,
        "gazetteer: true\n"
        "entities:\n"
        "  brits: {country: gb, en: [Albion]}\n"
        "  russia: {country: none, en: [Russia]}\n"
        "  baltics: {country: [EE, LV], en: [Baltic states]}\n"
        '  norway: {country: "NO", en: [Norway]}\n',
    )
    config = load_config(tmp_path, {})
    gb = Gazetteer.load().countries["GB"].forms()
    assert config.entities["brits"].by_language == merge_terms({"en": ["Albion"]}, gb)
    assert config.entities["russia"].by_language == {"en": ["Russia"]}
    assert (
        "Riga" in config.entities["baltics"].by_language["en"]
        and "Tallinn" in config.entities["baltics"].by_language["en"]
    )
    assert "Oslo" in config.entities["norway"].by_language["en"]


def test_gazetteer_false_or_absent_changes_no_entity(tmp_path: Path):
    write_config(tmp_path, "gazetteer: false\nentities:\n  uk: {country: GB, en: [UK]}\n")
    assert load_config(tmp_path, {}).entities["uk"].by_language == {"en": ["UK"]}


# -- errors -------------------------------------------------------------------------------------------------------


def test_unknown_vocabulary_names_file_line_and_the_known_ones(tmp_path: Path):
    write_config(tmp_path, "terms:\n  t: {en: [x]}\nvocabularies:\n  t: [termination, treaty_words]\n")
    (p,) = errors(tmp_path)
    assert p.startswith(f"{tmp_path / 'local.yaml'}:4: vocabularies.t[1]: unknown vocabulary 'treaty_words'")
    assert "known: " + ", ".join(vocabulary_names()) in p


def test_vocabulary_into_an_entity_is_an_error(tmp_path: Path):
    write_config(tmp_path, "entities:\n  russia: {en: [Russia]}\nvocabularies:\n  russia: [agreement]\n")
    (p,) = errors(tmp_path)
    assert p.startswith(f"{tmp_path / 'local.yaml'}:4: vocabularies.russia:") and "is an entity" in p


def test_same_vocabulary_set_in_two_files_names_both(tmp_path: Path):
    write_config(tmp_path, "vocabularies:\n  t: [agreement]\n", "a.yaml")
    write_config(tmp_path, "vocabularies:\n  t: [termination]\n", "b.yaml")
    (p,) = errors(tmp_path)
    assert "b.yaml:2" in p and "duplicate name 't'" in p and "a.yaml:2" in p


def test_gazetteer_twice_is_an_error(tmp_path: Path):
    write_config(tmp_path, "gazetteer: true\n", "a.yaml")
    write_config(tmp_path, "gazetteer: true\n", "b.yaml")
    (p,) = errors(tmp_path)
    assert "b.yaml:1: gazetteer: also given in" in p and "a.yaml" in p


def test_bad_country_pins_name_file_and_line(tmp_path: Path):
    write_config(tmp_path, "entities:\n  x:\n    en: [X]\n    country: ZZ\n  y: {country: gb, en: [Y]}\n")
    (p,) = errors(tmp_path)  # gb is GB; ZZ is in no gazetteer, even with the gazetteer off
    assert p.startswith(f"{tmp_path / 'local.yaml'}:4: entities.x.country: no country 'ZZ' in the gazetteer")
    write_config(tmp_path, "entities:\n  y: {country: GBR, en: [Y]}\n")
    (p,) = errors(tmp_path)
    assert ":2: entities.y.country" in p and "two ISO 3166 letters" in p
    write_config(tmp_path, "entities:\n  n: {country: NO, en: [Norway]}\n")
    (p,) = errors(tmp_path)
    assert ":2: entities.n.country" in p and 'quote it: country: "NO"' in p


def test_check_validates_the_opt_in_watchlist(tmp_path: Path):
    done = tw("check", config=vocab_dir(tmp_path, opt_in=True))
    assert done.returncode == 0, done.stderr
    compile_config(tmp_path, {})  # and the watches compile against the merged sets
    write_config(tmp_path, "vocabularies:\n  extra: [nope]\n", "zz.yaml")
    done = tw("check", config=tmp_path)
    assert done.returncode == 2 and "zz.yaml:2: vocabularies.extra[0]: unknown vocabulary 'nope'" in done.stderr


def test_runtime_reads_the_yaml_without_babel(tmp_path: Path):
    """Babel only builds the gazetteer; a deployment without it still loads an opted-in watchlist."""
    code = (
        "import sys; sys.modules['babel'] = None\n"
        "from pathlib import Path\nfrom treatywatch.config import load_config\n"
        f"c = load_config(Path({str(vocab_dir(tmp_path, opt_in=True))!r}), {{}})\n"
        "print(c.entities['uk'].by_language['de'][-1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Brite"


# -- the shipped data ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", vocabulary_names())
def test_every_vocabulary_is_clean(name: str):
    vocabulary = load_vocabulary(name)
    assert set(vocabulary) == set(LANGUAGES), name
    for lang, terms in vocabulary.items():
        assert terms and all(isinstance(t, str) and t.strip() == t and t for t in terms), (name, lang)
        folded = [fold(t) for t in terms]
        assert len(folded) == len(set(folded)), (name, lang, sorted(t for t in folded if folded.count(t) > 1))
    head = (HERE / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith(f"# {name}:"), "each file opens with a comment saying what the concept covers"


def test_the_shipped_vocabularies_are_the_documented_seven():
    assert vocabulary_names() == [
        "agreement",
        "frozen_state_assets",
        "international",
        "military_cooperation",
        "official_act",
        "suspension",
        "termination",
    ]


def test_gazetteer_is_clean_and_covers_the_required_states():
    gazetteer = Gazetteer.load()
    assert set(EUROPE + G7 + BRICS + DEVSET_OTHERS) <= set(gazetteer.countries)
    for code, country in gazetteer.countries.items():
        assert set(country.kinds) <= set(KINDS), code
        assert set(country.kinds["names"]) == set(LANGUAGES), code
        for lang in LANGUAGES:
            forms = [f for kind in KINDS for f in country.kinds.get(kind, {}).get(lang, [])]
            assert forms and all(f.strip() == f and f for f in forms), (code, lang)
            folded = [fold(f) for f in forms]
            assert len(folded) == len(set(folded)), (code, lang)
    ambiguous = {name: codes for name, codes in gazetteer.by_name.items() if len(codes) > 1}
    assert not ambiguous, "a name must recognise one country"


def test_gazetteer_yaml_is_what_the_generator_makes():
    """gazetteer.yaml is generated: editing the hand file without re-running build_gazetteer.py fails here."""
    pytest.importorskip("babel")
    from treatywatch.vocabularies.build_gazetteer import HAND, OUT, build

    hand = yaml.safe_load(HAND.read_text(encoding="utf-8"))
    assert build(hand) == yaml.safe_load(OUT.read_text(encoding="utf-8"))


def test_vocab_watchlist_is_the_devset_one_plus_only_the_opt_in_lines():
    data = operator_sections()
    plain = {k: v for k, v in data.items() if k not in OPT_IN_KEYS}
    assert set(data) - set(plain) == OPT_IN_KEYS
    for original in (REPO / "tests" / "devset" / "watchlist.yaml", SHARED_WATCHLIST):
        if original.exists():
            text = original.read_text(encoding="utf-8")
            assert VOCAB_WATCHLIST.read_text(encoding="utf-8").startswith(text)
            assert yaml.safe_load(text) == plain


def test_the_international_vocabulary_names_every_country_but_the_home_one(tmp_path: Path):
    """An act on a domestic budget-loan agreement names no foreign party; one with Croatia does, and says so."""
    write_config(
        tmp_path,
        "vocabularies:\n  international: [international]\n"
        "terms:\n  agreement: {ru: [соглашение]}\n  termination: {ru: [прекращение]}\n"
        "entities:\n  russia: {ru: [Россия, \"Российская Федерация\"]}\n  croatia: {ru: [Хорватия]}\n"
        "  france: {ru: [Франция]}\n  india: {ru: [Индия]}\n"
        "agreements:\n"
        "  - {id: a1, title: Russia–Croatia agreement, parties: [russia, croatia]}\n"
        "  - {id: a2, title: Russia–France agreement, parties: [russia, france]}\n"
        "  - {id: a3, title: Russia–India agreement, parties: [russia, india]}\n"
        'watches:\n  - {id: w, query: "@termination AND @agreement AND @international"}\n',
        "w.yaml",
    )
    config, wl = compile_config(tmp_path, {})
    assert "Хорватия" in config.terms["international"].by_language["ru"]
    assert "Россия" not in config.terms["international"].by_language["ru"]
    act = ActFields(doc_type="Распоряжение")
    croatia = make_item(
        "t",
        title="О прекращении действия Соглашения между Правительством Российской Федерации и Правительством "
        "Республики Хорватия о сотрудничестве в военной области",
        language="ru",
        act=act,
    )
    [match] = wl.match(croatia)
    assert "foreign party: «Хорватия»" in match.why()
    domestic = "О прекращении действия соглашения о предоставлении из федерального бюджета субсидии обществу"
    assert wl.match(make_item("t", title=domestic, language="ru", act=act)) == []
    international = "О прекращении действия международного соглашения о сотрудничестве"
    [match] = wl.match(make_item("t", title=international, language="ru", act=act))
    assert "foreign party: «международного»" in match.why()
