"""The pravo preset on what publication.pravo.gov.ru really serves (tests/data/pravo/, captured from the portal):
served on loopback at the portal's own paths and query strings, each act becomes an item whose title, act date,
number, type, issuer, publication date, card and PDF links are what the portal shows for that act. A date without
a time is the portal's calendar date (Moscow), never the UTC evening before."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from markupsafe import escape

from conftest import tw
from treatywatch.items import ActFields
from treatywatch.localserve import FixtureServer
from treatywatch.sources.pravo import PravoConfig, official_title
from treatywatch.web.server import StatusServer

DATA = Path(__file__).parent / "data" / "pravo"
ALL = DATA / "api_documents_all_pagesize10_2026-01-17.json"
MINTRUD = DATA / "api_documents_mintrud_pagesize10_2026-06.json"
MOSCOW = ZoneInfo("Europe/Moscow")
MINTRUD_ID = "2c4929b0-9323-4541-9705-76185b9e284b"
GOV = "Правительство Российской Федерации"
AMUR_GOV = "Правительство Амурской области"
AMUR_GOVERNOR = "Губернатор Амурской области"
PRESIDENT = "Президент Российской Федерации"
MINTRUD_NAME = "Министерство труда и социальной защиты Российской Федерации"

# eoNumber -> (title start, title end, act date, number, type, issuer, publication date), as the portal shows them
EXPECTED = {
    "0001202601170001": (
        "Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р «О присвоении классных чинов",
        "федеральных органов исполнительной власти»",
        date(2026, 1, 17),
        "28-р",
        "Распоряжение",
        GOV,
        date(2026, 1, 17),
    ),
    "2800202601170004": (
        "Постановление губернатора Амурской области от 14.01.2026 № 4 «Об учреждении стипендии",
        "информационно-коммуникационных технологий»",
        date(2026, 1, 14),
        "4",
        "Постановление",
        AMUR_GOVERNOR,
        date(2026, 1, 17),
    ),
    "2800202601170006": (
        "Постановление губернатора Амурской области от 13.01.2026 № 3 «О внесении изменений в постановление "
        "Губернатора Амурской области от 01.09.2015 № 223»",
        "№ 223»",
        date(2026, 1, 13),
        "3",
        "Постановление",
        AMUR_GOVERNOR,
        date(2026, 1, 17),
    ),
    "2800202601170001": (
        "Постановление Правительства Амурской области от 15.01.2026 № 14 «О внесении изменений",
        "от 25.09.2023 № 797»",
        date(2026, 1, 15),
        "14",
        "Постановление",
        AMUR_GOV,
        date(2026, 1, 17),
    ),
    "2800202601170003": (
        "Постановление Правительства Амурской области от 14.01.2026 № 13 «Об утверждении Порядка",
        "жилыми помещениями на территории Амурской области»",
        date(2026, 1, 14),
        "13",
        "Постановление",
        AMUR_GOV,
        date(2026, 1, 17),
    ),
    "2800202601170005": (
        "Постановление Правительства Амурской области от 14.01.2026 № 12 «О внесении изменений",
        "от 09.10.2020 № 695»",
        date(2026, 1, 14),
        "12",
        "Постановление",
        AMUR_GOV,
        date(2026, 1, 17),
    ),
    "2800202601170002": (
        "Постановление Правительства Амурской области от 14.01.2026 № 11 «Об утверждении Порядка",
        "Амурской области, на 2026 год»",
        date(2026, 1, 14),
        "11",
        "Постановление",
        AMUR_GOV,
        date(2026, 1, 17),
    ),
    "2801202601170001": (
        "Приказ Министерства социальной защиты населения Амурской области от 15.01.2026 № 12 «Об административном",
        "протезно-ортопедической помощи»",
        date(2026, 1, 15),
        "12",
        "Приказ",
        "Министерство социальной защиты населения Амурской области",
        date(2026, 1, 17),
    ),
    "0001202601160010": (
        "Указ Президента Российской Федерации от 16.01.2026 № 17 «О внесении изменения в Указ Президента Российской "
        "Федерации от 10 июля 2023 г. № 514 «Об особенностях",
        "Запорожской области и Херсонской области»»",
        date(2026, 1, 16),
        "17",
        "Указ",
        PRESIDENT,
        date(2026, 1, 16),
    ),
    "0001202601160006": (
        "Указ Президента Российской Федерации от 16.01.2026 № 16 «О дальнейшем развитии акционерного общества "
        "«Объединенная судостроительная корпорация»»",
        "корпорация»»",
        date(2026, 1, 16),
        "16",
        "Указ",
        PRESIDENT,
        date(2026, 1, 16),
    ),
    "0001202606090026": (
        "Приказ Министерства труда и социальной защиты Российской Федерации от 08.05.2026 № 200н «О признании "
        "утратившими силу приказа Министерства труда и социальной защиты Российской Федерации от 21 марта 2022 г. "
        "№ 154н «Об утверждении перечней",
        "сети «Интернет» и внесенных в него изменений»»",
        date(2026, 5, 8),
        "200н",
        "Приказ",
        MINTRUD_NAME,
        date(2026, 6, 9),
    ),
    "0001202606020011": (
        "Приказ Министерства труда и социальной защиты Российской Федерации от 29.04.2026 № 193н «О внесении "
        "изменения в сроки пользования",
        "некоторых приказов Министерства труда и социальной защиты Российской Федерации»",
        date(2026, 4, 29),
        "193н",
        "Приказ",
        MINTRUD_NAME,
        date(2026, 6, 2),
    ),
}


@pytest.fixture
def portal():
    """The portal's /api/Documents: the ministry's page when asked for that signatory, else the whole list."""
    with FixtureServer() as http:

        def documents(handler):
            query = dict(parse_qsl(urlsplit(handler.path).query))
            body = MINTRUD if query.get("SignatoryAuthorityId") == MINTRUD_ID else ALL
            return 200, {"Content-Type": "application/json; charset=utf-8"}, body.read_bytes()

        http.routes["/api/Documents"] = documents
        yield http


def test_real_acts_poll_into_the_fields_the_portal_shows(app_with, portal: FixtureServer):
    app = app_with(
        f"""
  - {{id: pravo-all, type: pravo, url: "{portal.base}", block: government, page_size: 10, max_pages: 1,
      ignore_older_than: 0}}
  - {{id: pravo-mintrud, type: pravo, url: "{portal.base}", block: federal_authorities, page_size: 10,
      max_pages: 1, signatory: {MINTRUD_ID}, ignore_older_than: 0}}
"""
    )
    items = app.runner.poll("pravo-all").items + app.runner.poll("pravo-mintrud").items
    # the portal's dictionaries are not served here: the bundled copy and the titles name types and issuers
    documents = [path for path, _ in portal.requests if urlsplit(path).path == "/api/Documents"]
    queries = [dict(parse_qsl(urlsplit(path).query)) for path in documents]
    assert len(documents) == 2
    assert queries[0] == {
        "Block": "government",
        "PageSize": "10",
        "Index": "1",
        "SortedBy": "6",
        "SortDestination": "1",
    }
    assert queries[1]["Block"] == "federal_authorities" and queries[1]["SignatoryAuthorityId"] == MINTRUD_ID
    assert [i.key for i in items] == list(EXPECTED)
    for item in items:
        start, end, act_date, number, doc_type, issuer, published_on = EXPECTED[item.key]
        assert item.title.startswith(start) and item.title.endswith(end), item.title
        assert '"' not in item.title and "\n" not in item.title and "  " not in item.title
        assert item.title.count("«") == item.title.count("»")
        assert item.link == f"{portal.base}/document/{item.key}"
        assert item.act == ActFields(
            act_date=act_date,
            number=number,
            doc_type=doc_type,
            issuer=issuer,
            published_on=published_on,
            document_url=f"{portal.base}/file/pdf?eoNumber={item.key}",
        )
        assert item.language == "ru" and not item.untitled
        # the instant stays midnight in Moscow (ordering, age limits), the calendar date is the portal's
        assert item.published == datetime(*published_on.timetuple()[:3], tzinfo=MOSCOW)
    first = items[0]
    assert first.act is not None and first.act.label() == "Распоряжение № 28-р от 17.01.2026"
    # the stored item keeps every typed field (in the items table's extra column: no migration)
    stored = app.store.get_item(app.store.known_items("pravo-all", [first.key])[first.key].id)
    assert stored.item.act == first.act and stored.item.title == first.title


def test_official_title_normalises_whitespace_and_quotes():
    assert official_title('Указ от 16.01.2026 № 16\n "О развитии общества "Корпорация"') == (
        "Указ от 16.01.2026 № 16 «О развитии общества «Корпорация»»"
    )
    assert official_title('Закон  "Об "А" и "Б""') == "Закон «Об «А» и «Б»»"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("block", "international", "international"),
        ("block", "Международные договоры Российской Федерации", "international"),
        ("block", "un_securitycouncil", "un_securitycouncil"),
        ("block", "president", "president"),
    ],
)
def test_every_block_by_code_or_name(key, value, expected):
    assert getattr(PravoConfig(id="p", **{key: value}), key) == expected


def test_document_types_by_the_portals_names_and_did_you_mean():
    cfg = PravoConfig(id="p", document_types=["Международный договор", "Соглашение", "протокол"])
    assert cfg.document_types == [
        "7ccde0f1-39b0-49b9-9a61-2fee55402189",
        "7732b2a0-c522-436f-8172-a251912e2fc9",
        "ac9e6a29-59cd-4c3d-8c14-ceb9843ef2da",
    ]
    with pytest.raises(ValueError, match="did you mean 'international'"):
        PravoConfig(id="p", block="internatonal")
    with pytest.raises(ValueError, match="did you mean 'международный договор'"):
        PravoConfig(id="p", document_types=["Международный догвор"])


def test_the_portals_error_body_and_html_shell_are_shown_as_what_they_say(
    app_with, config_dir: Path, tmp_path: Path
):
    """A source's health speaks of the portal: its JSON error body is shown as its message, its site's HTML shell
    (what /api/Document/{eoNumber} answers, status 200) as that, not as a parse failure of some JSON; so in
    `treatywatch sources`, /api/sources and the console's sources page."""
    error = (DATA / "api_categories_no_block_error_2026-01-19.json").read_bytes()
    shell = (DATA / "api_document_path_form_returns_spa_shell_2026-01-19.html").read_bytes()
    with FixtureServer() as http:
        http.routes["/bad/api/Documents"] = lambda h: (400, {"Content-Type": "application/json"}, error)
        http.routes["/shell/api/Documents"] = lambda h: (200, {"Content-Type": "text/html; charset=utf-8"}, shell)
        app = app_with(
            f"""
  - {{id: pravo-bad, type: pravo, url: "{http.base}/bad"}}
  - {{id: pravo-shell, type: pravo, url: "{http.base}/shell"}}
"""
        )
        bad = app.runner.poll("pravo-bad")
        html = app.runner.poll("pravo-shell")
    assert bad.error is not None and bad.error.startswith(f"HTTP 400 from {http.base}/bad/api/Documents?Block=")
    assert bad.error.endswith(": Ошибки валидации: 'Block Code' не должно быть пусто.")
    assert app.store.source_state("pravo-bad").last_error == bad.error
    assert html.error == (
        "the portal answered with its site's HTML page, not the API's JSON (is url the portal's root?)"
    )
    said = "Ошибки валидации: 'Block Code' не должно быть пусто."
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as console:
            rows = {row["id"]: row for row in console.get("/api/sources").json()}
            page = console.get("/sources").text
    finally:
        server.stop()
        app.close()
    assert rows["pravo-bad"]["last_error"] == bad.error and rows["pravo-shell"]["last_error"] == html.error
    assert str(escape(said)) in page and str(escape(html.error)) in page
    cli = tw("sources", config=config_dir, state=tmp_path / "state")
    assert f"last error: {bad.error}" in cli.stdout and said in cli.stdout
    assert "not a feed" not in cli.stdout + page


def test_check_says_did_you_mean_for_a_block_or_a_type(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - id: p\n    type: pravo\n    block: internatonal\n"
        "  - id: q\n    type: pravo\n    document_types: [Международный догвор]\n",
        encoding="utf-8",
    )
    out = tw("check", config=tmp_path)
    assert out.returncode == 2
    assert "sources.yaml:4: sources[0].block: unknown block 'internatonal'; did you mean 'international'?" in out.stderr
    assert "did you mean 'международный договор'?" in out.stderr
