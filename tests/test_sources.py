"""Each source type against a real local HTTP server serving the fixtures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from treatywatch.localserve import FixtureServer

DATA = Path(__file__).parent / "data"
PRAVO_RESPONSE = Path(__file__).parent.parent / "service/treatywatch/demo_data/fixtures/pravo/documents.json"


def test_rss2_atom_and_cp1251(app_with, config_dir, tmp_path, http: FixtureServer, clock):
    app = app_with(
        f"""
  - {{id: en, type: feed, url: "{http.base}/news/euronews_world.xml"}}
  - {{id: ru, type: feed, url: "{http.base}/news/ria_politics_ru.xml"}}
  - {{id: fr, type: feed, url: "{http.base}/news/council_press_atom.xml"}}
""",
    )
    en = app.runner.poll("en")
    assert [i.language for i in en.items] == ["en"] * 5
    no_guid = next(i for i in en.items if "india" in i.link)
    assert no_guid.key == "https://www.euronews.com/2025/12/02/russia-ratifies-military-pact-with-india"
    assert en.items[0].published == datetime(2025, 12, 6, 9, 41, tzinfo=UTC)
    assert en.items[0].summary.startswith("Russia has terminated decades-old")  # tags stripped
    ru = app.runner.poll("ru")
    assert ru.items[0].title.startswith("Правительство прекратило действие соглашений")
    fr = app.runner.poll("fr")
    assert fr.items[0].title == "La Russie met fin à l'accord de coopération militaire de 1994 avec la France"
    assert fr.items[0].key == "urn:example:council:press:2025-12-06-1"
    assert fr.items[0].language == "fr"


def test_json_feed_rss10_rss091(app_with, config_dir, tmp_path, clock):
    with FixtureServer(DATA) as http:
        app = app_with(
            f"""
  - {{id: jf, type: feed, url: "{http.base}/jsonfeed.json"}}
  - {{id: r10, type: feed, url: "{http.base}/rss10.xml"}}
  - {{id: r091, type: feed, url: "{http.base}/rss091.xml"}}
""",
        )
        jf = app.runner.poll("jf")
        assert [i.key for i in jf.items] == ["jf-1", "jf-2"]
        assert jf.items[0].published == datetime(2025, 12, 6, 9, 0, tzinfo=UTC)
        assert jf.alerts == 1  # "Moscow scraps 1994 pact with Paris"
        r10 = app.runner.poll("r10")
        assert r10.items[0].link == "https://example.org/a/1"  # tracking parameter dropped
        r091 = app.runner.poll("r091")
        assert r091.items[0].key == "https://example.org/old/1"


def test_pravo_api(app_with, config_dir, tmp_path, http: FixtureServer, clock):
    app = app_with(
        f"""
  - id: pravo-government
    type: pravo
    url: "{http.base}/pravo"
    document_types: [Распоряжение, Федеральный закон]
    signatory: Правительство
    implies: [russia]
    ignore_older_than: 0  # the Germany decree is of July, months before the clock
""",
    )
    r = app.runner.poll("pravo-government")
    assert r.error is None and len(r.items) == 6
    path, _ = http.requests[-1]
    assert path.startswith("/pravo/api/Documents?Block=government&PageSize=30&Index=1&SortedBy=6&SortDestination=1")
    assert "DocumentTypes=7ff5b3b5-3757-44f1-bb76-3766cabe3593" in path
    assert "DocumentTypes=82a8bf1c-3bc7-47ed-827f-7affd43a7f27" in path
    assert "SignatoryAuthorityId=8005d8c9-4b6d-48d3-861a-2a37e69fccb3" in path
    by_key = {i.key: i for i in r.items}
    decree = by_key["0001202512050042"]
    assert decree.link == f"{http.base}/pravo/document/0001202512050042"
    assert decree.published == datetime(2025, 12, 4, 21, 0, tzinfo=UTC)  # midnight Moscow
    assert decree.act is not None and decree.act.document_url == f"{http.base}/pravo/file/pdf?eoNumber=0001202512050042"
    untitled = by_key["0001202512040019"]
    assert (
        untitled.untitled and untitled.title == "Распоряжение Правительства Российской Федерации от 04.12.2025 № 3581-р"
    )
    assert r.alerts >= 2  # the Canada/France/Portugal decree and the Germany one


def test_pravo_pages_until_known(app_with, config_dir, tmp_path, http: FixtureServer, clock):
    import json

    docs = json.loads(PRAVO_RESPONSE.read_text(encoding="utf-8"))["items"]
    pages = {1: docs[:3], 2: docs[3:], 3: []}

    def api(handler):
        index = int(handler.path.split("Index=")[1].split("&")[0])
        body = {
            "items": pages[index],
            "itemsTotalCount": 6,
            "itemsPerPage": 10,
            "currentPage": index,
            "pagesTotalCount": 3,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False).encode()

    http.routes["/p/api/Documents"] = api
    app = app_with(
        f"""
  - {{id: pravo-government, type: pravo, url: "{http.base}/p", page_size: 10}}
""",
    )
    first = app.runner.poll("pravo-government")
    assert len(first.items) == 6
    assert sum("Index=" in p for p, _ in http.requests) == 3  # walked every page of a first poll
    http.requests.clear()
    pages[1] = [{**docs[0], "eoNumber": "0001202512060001", "name": "Новый документ"}, *docs[:2]]
    second = app.runner.poll("pravo-government")
    assert second.new == 1
    assert [p.split("Index=")[1][0] for p, _ in http.requests] == ["1"]  # page 1 held known items: stop


def test_html_list_page(app_with, config_dir, tmp_path, http: FixtureServer, clock):
    app = app_with(
        f"""
  - id: government-docs
    type: html
    url: "{http.base}/html/government_docs.html"
    timezone: Europe/Moscow
    implies: [russia]
    ignore_older_than: 0  # one decree is of July, months before the clock
    items: li.doc-item
    fields: {{title: a.doc-link, link: "a.doc-link@href", published: time.doc-date, summary: p.doc-lead}}
""",
    )
    r = app.runner.poll("government-docs")
    assert r.items[0].title == "Распоряжение от 5 декабря 2025 года №3605-р"
    assert r.items[0].link == f"{http.base}/docs/57123/"  # relative made absolute
    assert r.items[0].published == datetime(2025, 12, 4, 21, 0, tzinfo=UTC)  # "5 декабря 2025" in Moscow
    assert r.alerts == 2


def test_json_api(app_with, config_dir, tmp_path, clock):
    with FixtureServer(DATA) as http:
        app = app_with(
            f"""
  - id: fedreg
    type: json
    url: "{http.base}/api.json"
    items: results
    fields: {{id: document_number, title: title, link: html_url, published: publication_date, summary: abstract}}
""",
        )
        r = app.runner.poll("fedreg")
        assert [i.key for i in r.items] == ["2025-22001", "2025-22002"]
        assert r.items[0].link == f"{http.base}/documents/2025-22001"
        assert r.items[1].summary == ""


def test_dates_in_several_languages():
    from treatywatch.sources.dates import parse_date

    assert parse_date("5 декабря 2025", "Europe/Moscow") == datetime(2025, 12, 4, 21, 0, tzinfo=UTC)
    assert parse_date("6 décembre 2025") == datetime(2025, 12, 6, tzinfo=UTC)
    assert parse_date("5 de dezembro de 2025") == datetime(2025, 12, 5, tzinfo=UTC)
    assert parse_date("December 5, 2025") == datetime(2025, 12, 5, tzinfo=UTC)
    assert parse_date("05.12.2025") == datetime(2025, 12, 5, tzinfo=UTC)
    assert parse_date("5. Dezember 2025 14:30") == datetime(2025, 12, 5, 14, 30, tzinfo=UTC)
    assert parse_date("no date here") is None


@pytest.mark.parametrize("spec", ["a.doc-link", "a.doc-link@href", "@datetime"])
def test_selector_spec_split(spec):
    from treatywatch.sources.selectors import split_attr

    css, attr = split_attr(spec)
    assert (css, attr) == {
        "a.doc-link": ("a.doc-link", None),
        "a.doc-link@href": ("a.doc-link", "href"),
        "@datetime": ("", "datetime"),
    }[spec]
