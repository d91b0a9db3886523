"""A watch can say "acts of the Government only": `doc_type:` and `issuer:` match an act's typed fields (Item.act),
as the portal gives them, with the same words, phrases, sets and morphology as any term; they are what the portal
says of the act, never words of its title. Tested on the real answer of publication.pravo.gov.ru
(tests/data/pravo/), parsed by the pravo preset, and end to end through a poll served on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import Clock, make_app, write_config
from treatywatch.config.models import Config, Watch
from treatywatch.errors import QueryError
from treatywatch.items import make_item
from treatywatch.localserve import FixtureServer
from treatywatch.matching import Watchlist
from treatywatch.matching.query import parse_query
from treatywatch.sources.base import Request, Response
from treatywatch.sources.pravo import PravoConfig, PravoSource

REAL = Path(__file__).parent / "data" / "pravo" / "api_documents_all_pagesize10_2026-01-17.json"
FEDERAL_GOV = "0001202601170001"  # Распоряжение Правительства Российской Федерации … № 28-р
DECREES = {"0001202601160010", "0001202601160006"}  # Указы Президента Российской Федерации
AMUR_GOV = {"2800202601170001", "2800202601170003", "2800202601170005", "2800202601170002"}


def real_acts() -> list:
    cfg = PravoConfig(id="pravo", url="http://publication.pravo.gov.ru")
    request = Request("http://publication.pravo.gov.ru/api/Documents")
    response = Response(request.url, 200, REAL.read_bytes(), {"content-type": "application/json"})
    return PravoSource().parse(cfg, request, response).items


def firing(query: str) -> set[str]:
    wl = Watchlist(Config(watches=[Watch(id="w", query=query)]))
    return {item.key for item in real_acts() if wl.match(item)}


def test_issuer_and_type_select_acts_by_what_the_portal_says_of_them():
    everything = {i.key for i in real_acts()}
    assert firing('issuer:"Правительство Российской Федерации"') == {FEDERAL_GOV}
    assert firing("doc_type:Указ") == DECREES
    assert firing("issuer:Президент") == DECREES
    # a word of the issuer's name: the federal and the regional government (and its forms: правительства)
    assert firing("issuer:правительства") == {FEDERAL_GOV} | AMUR_GOV
    assert firing('issuer:"Правительство Амурской области" AND doc_type:Постановление') == AMUR_GOV
    assert firing("doc_type:(Указ OR Распоряжение)") == DECREES | {FEDERAL_GOV}
    assert firing("NOT doc_type:Постановление") == everything - AMUR_GOV - {
        "2800202601170004",
        "2800202601170006",
    }
    # with the words of the text: the type field and a word of the title
    assert firing("doc_type:Указ AND судостроительная") == {"0001202601160006"}


def test_act_fields_are_not_words_of_the_title_nor_the_title_theirs():
    # every title names its issuer ("Распоряжение Правительства …"), but an item without typed fields is no act
    wl = Watchlist(Config(watches=[Watch(id="w", query="issuer:Правительство")]))
    title = "Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р"
    assert wl.match(make_item("feed", title=title)) == []
    # and an act field's words do not satisfy a plain term: the title must hold it
    assert firing("Правительство Российской Федерации") >= {FEDERAL_GOV}
    plain = Watchlist(Config(watches=[Watch(id="w", query="Президент")]))
    assert [a.key for a in real_acts() if plain.match(a)] == [
        a.key for a in real_acts() if "Президент" in a.title
    ]


def test_a_match_on_act_fields_alone_has_no_places_in_the_text():
    wl = Watchlist(Config(watches=[Watch(id="w", query="doc_type:Указ")]))
    decree = next(i for i in real_acts() if i.key in DECREES)
    (m,) = wl.match(decree)
    assert m.hits == () and m.snippet.text == decree.title


@pytest.mark.parametrize("query", ["issuer:\"", "doc_type:(", "issuer:)", "doc_type:NEAR/2"])
def test_a_bad_act_field_query_is_a_query_error(query: str):
    with pytest.raises(QueryError):
        parse_query(query)


def test_a_watch_of_government_acts_alerts_on_them_only(config_dir: Path, tmp_path: Path, clock: Clock):
    """End to end: the portal's real answer polled; the watch of the Government's acts opens one alert."""
    clock.now = datetime(2026, 1, 17, 9, 0, tzinfo=UTC)
    body = REAL.read_bytes()
    with FixtureServer() as portal:
        portal.routes["/api/Documents"] = lambda h: (200, {"Content-Type": "application/json"}, body)
        write_config(
            config_dir,
            f"""sources:
  - {{id: pravo-government, type: pravo, url: "{portal.base}", page_size: 10, max_pages: 1, ignore_older_than: 0}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
watches:
  - id: government-acts
    title: Acts of the Government
    query: 'issuer:"Правительство Российской Федерации" AND doc_type:(Распоряжение OR Постановление)'
    sources: [pravo-government]
""",
            "sources.yaml",
        )
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            app.runner.poll("pravo-government")
            alerts = [a for a in app.store.recent_alerts(10) if a.watch_id == "government-acts"]
        finally:
            app.close()
    (alert,) = alerts
    assert [r.item.key for r in alert.reports] == [FEDERAL_GOV]
    assert json.dumps(alert.title, ensure_ascii=False).startswith('"Распоряжение Правительства Российской Федерации')
