"""The recipes of docs/sources.md, as written there, polled against each portal's answer served on loopback at the
portal's real path and query string: the YAML blocks are read from the document itself (each portal's scheme and
host mapped to the loopback server), so a recipe that drifts from what the portal serves fails here.

Real captures (tests/data/): publication.pravo.gov.ru's /api/Documents, dictionaries and RSS (the RSS
reconstructed, see its comment), the Federal Register API, EUR-Lex, legislation.gov.uk. kremlin.ru and
government.ru have no capture: tests/data/recipes/*_WRITTEN.* are written in their documented shapes. A recipe's
paging links in the samples (next_page_url, rel=next) are pointed at the loopback server; item links stay real."""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from conftest import EXAMPLE_CONFIG, WATCHLIST_FILES, Clock, make_app, write_config
from treatywatch.items import ActFields
from treatywatch.localserve import FixtureServer

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
PRAVO = DATA / "pravo"
HOSTS = (
    "http://publication.pravo.gov.ru",
    "http://kremlin.ru",
    "http://government.ru",
    "https://www.federalregister.gov",
    "https://eur-lex.europa.eu",
    "https://www.legislation.gov.uk",
)
MINTRUD_ID = "2c4929b0-9323-4541-9705-76185b9e284b"
MINTRUD_NAME = "Министерство труда и социальной защиты Российской Федерации"
GUIDS = {
    "Распоряжение": "7ff5b3b5-3757-44f1-bb76-3766cabe3593",
    "Постановление": "fd5a8766-f6fd-4ac2-8fd9-66f414d314ac",
    "Международный договор": "7ccde0f1-39b0-49b9-9a61-2fee55402189",
    "Соглашение": "7732b2a0-c522-436f-8172-a251912e2fc9",
    "Протокол": "ac9e6a29-59cd-4c3d-8c14-ceb9843ef2da",
}


def recipe_blocks() -> tuple[list[dict], dict]:
    """The sources and the watches of docs/sources.md's YAML blocks."""
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    sources: list[dict] = []
    watches: dict = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        data = yaml.safe_load(block)
        if isinstance(data, list):
            sources += data
        else:
            watches = data
    return sources, watches


def on_loopback(url: str, base: str) -> str:
    for host in HOSTS:
        if url.startswith(host):
            return base + url[len(host) :]
    raise AssertionError(f"a recipe on a host the test does not serve: {url}")


def served(headers: dict[str, str], body: bytes):
    return lambda handler: (200, headers, body)


class Portals:
    """Every portal of the recipes on one loopback server, each at its real paths."""

    def __init__(self, http: FixtureServer) -> None:
        self.http = http
        base = http.base
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        for path, name in (
            ("/api/DocumentTypes", "api_documenttypes_2026-01-19.json"),
            ("/api/PublicBlocks", "api_publicblocks_2026-01-19.json"),
            ("/api/SignatoryAuthorities", "api_signatoryauthorities_WRITTEN.json"),
        ):
            http.routes[path] = served(json_type, (PRAVO / name).read_bytes())

        def documents(handler):
            query = dict(parse_qsl(urlsplit(handler.path).query))
            name = (
                "api_documents_mintrud_pagesize10_2026-06.json"
                if query.get("SignatoryAuthorityId") == MINTRUD_ID
                else "api_documents_all_pagesize10_2026-01-17.json"
            )
            return 200, json_type, (PRAVO / name).read_bytes()

        http.routes["/api/Documents"] = documents
        rss = (PRAVO / "api_rss_RECONSTRUCTED.xml").read_bytes()
        http.routes["/api/rss"] = lambda h: (200, {"Content-Type": "application/rss+xml; charset=utf-8"}, rss)
        kremlin = (DATA / "recipes" / "kremlin_events_president_news_feed_WRITTEN.atom").read_bytes()
        http.routes["/events/president/news/feed"] = lambda h: (200, {"Content-Type": "application/atom+xml"}, kremlin)
        government = (DATA / "recipes" / "government_docs_rss_WRITTEN.xml").read_bytes()
        http.routes["/docs/rss/"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, government)
        # the Federal Register: page 1 as captured, its next_page_url on this host; page 2 the same documents
        # renumbered, without a next page
        fr = json.loads((DATA / "federalregister" / "documents_uscis_fields_trimmed_2026-09-14.json").read_text())
        page2 = copy.deepcopy(fr)
        for n, r in enumerate(page2["results"]):
            r["document_number"] = f"2026-1870{n}"
            r["publication_date"] = "2026-09-11"
        page2["next_page_url"] = None
        first = json.dumps({**fr, "next_page_url": on_loopback(fr["next_page_url"], base)}).encode()
        http.routes["/api/v1/documents.json"] = lambda h: (200, json_type, first)
        http.routes["/api/v1/documents"] = lambda h: (200, json_type, json.dumps(page2).encode())
        eurlex = (DATA / "eurlex" / "display-feed_rssId162_shape_2026-06-30.xml").read_bytes()
        http.routes["/EN/display-feed.rss"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, eurlex)
        leg = (DATA / "legislation_gov_uk" / "all_data_feed_sort_published_2015-12-10.atom").read_text("utf-8")
        leg1 = leg.replace('rel="next" type="application/atom+xml" href="http://legislation.data.gov.uk', f'rel="next" type="application/atom+xml" href="{base}')  # noqa: E501
        leg2 = leg.replace("/2015/", "/2014/").replace('<link rel="next"', '<link rel="prev"')

        def legislation(handler):
            page = dict(parse_qsl(urlsplit(handler.path).query)).get("page", "1")
            return 200, {"Content-Type": "application/atom+xml"}, (leg1 if page == "1" else leg2).encode()

        http.routes["/all/data.feed"] = legislation

    def asked(self, path: str) -> list[str]:
        """The requests made to a path, with their query strings."""
        return [p for p, _ in self.http.requests if urlsplit(p).path == path]


@pytest.fixture(scope="module")
def polled(tmp_path_factory) -> dict:
    """Every recipe polled once (no baseline, no age limit: every act counts), with the requests it made."""
    sources, watches = recipe_blocks()
    config_dir = tmp_path_factory.mktemp("config")
    state = tmp_path_factory.mktemp("state")
    copy_watchlists(config_dir)
    with FixtureServer() as http:
        portals = Portals(http)
        mapped = [{**s, "url": on_loopback(s["url"], http.base), "ignore_older_than": 0} for s in sources]
        write_config(config_dir, yaml.safe_dump({"sources": mapped}, allow_unicode=True), "sources.yaml")
        write_config(config_dir, yaml.safe_dump(watches, allow_unicode=True), "recipe-watches.yaml")
        clock = Clock(datetime(2026, 9, 14, 12, 0, tzinfo=UTC))
        app = make_app(config_dir, state, clock)
        try:
            results = {s["id"]: app.runner.poll(s["id"]) for s in sources}
            watch_ids = [w.id for w in app.watchlist.watches]
        finally:
            app.close()
        return {
            "results": results,
            "sources": {s["id"]: s for s in sources},
            "asked": {path: portals.asked(path) for path in http.routes},
            "base": http.base,
            "watches": watch_ids,
        }


def copy_watchlists(config_dir: Path) -> None:
    """The example watchlists (term sets, entities, agreements, watches), as the config_dir fixture copies them."""
    for name in WATCHLIST_FILES:
        shutil.copy(EXAMPLE_CONFIG / name, config_dir / name)


def items(polled: dict, source_id: str) -> dict:
    result = polled["results"][source_id]
    assert result.error is None, (source_id, result.error)
    return {i.key: i for i in result.items}


def test_every_recipe_polls_without_error(polled: dict):
    assert set(polled["results"]) >= {
        "pravo-government", "pravo-president", "pravo-international", "pravo-mintrud", "pravo-government-rss",
        "kremlin-news", "government-docs", "federal-register-uscis", "eurlex-oj", "legislation-uk",
    }  # fmt: skip
    for source_id, result in polled["results"].items():
        assert result.error is None and result.items, source_id
    assert "government-acts-on-treaties" in polled["watches"]


def test_pravo_blocks_by_code_and_name_types_and_signatory_by_name(polled: dict):
    queries = [dict(parse_qsl(urlsplit(p).query)) for p in polled["asked"]["/api/Documents"]]
    by_block: dict[str, dict] = {}
    for q in queries:
        if "SignatoryAuthorityId" not in q:
            by_block.setdefault(q["Block"], q)  # each source's first request
    assert set(by_block) == {"government", "president", "international"}
    assert by_block["government"]["PageSize"] == "30" and by_block["government"]["Index"] == "1"
    assert by_block["government"]["SortedBy"] == "6" and by_block["government"]["SortDestination"] == "1"
    query_strings = [urlsplit(p).query for p in polled["asked"]["/api/Documents"]]
    government = next(q for q in query_strings if "Block=government" in q)
    assert f"DocumentTypes={GUIDS['Распоряжение']}&DocumentTypes={GUIDS['Постановление']}" in government
    international = next(q for q in query_strings if "Block=international" in q)
    for name in ("Международный договор", "Соглашение", "Протокол"):
        assert f"DocumentTypes={GUIDS[name]}" in international
    ministry = next(q for q in queries if "SignatoryAuthorityId" in q)
    assert ministry["SignatoryAuthorityId"] == MINTRUD_ID and ministry["PageSize"] == "10"
    # the dictionaries, once for all four sources
    for path in ("/api/DocumentTypes", "/api/SignatoryAuthorities", "/api/PublicBlocks"):
        assert polled["asked"][path] == [path]


def test_pravo_acts_carry_the_portals_fields(polled: dict):
    base = polled["base"]
    act = items(polled, "pravo-government")["0001202601170001"]
    assert act.title.startswith(
        "Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р «О присвоении классных чинов"
    )
    assert act.link == f"{base}/document/0001202601170001"
    assert act.act == ActFields(
        act_date=date(2026, 1, 17),
        number="28-р",
        doc_type="Распоряжение",
        issuer="Правительство Российской Федерации",
        published_on=date(2026, 1, 17),
        document_url=f"{base}/file/pdf?eoNumber=0001202601170001",
    )
    decree = items(polled, "pravo-president")["0001202601160006"]
    assert decree.act is not None and decree.act.label() == "Указ № 16 от 16.01.2026"
    assert decree.act.issuer == "Президент Российской Федерации"
    for item in items(polled, "pravo-mintrud").values():
        assert item.act is not None and item.act.issuer == MINTRUD_NAME and item.act.doc_type == "Приказ"


def test_pravo_rss_recipe(polled: dict):
    (path,) = polled["asked"]["/api/rss"]
    assert path == "/api/rss?block=government&pageSize=100"
    got = items(polled, "pravo-government-rss")
    assert len(got) == 10
    first = got["http://publication.pravo.gov.ru/document/0001202601170001"]
    assert first.title.startswith("Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р")
    assert first.act is not None and first.act.published_on == date(2026, 1, 17)
    assert first.language == "ru"


def test_kremlin_and_government_recipes(polled: dict):
    assert polled["asked"]["/events/president/news/feed"] == ["/events/president/news/feed"]
    kremlin = items(polled, "kremlin-news")
    assert len(kremlin) == 3
    news = kremlin["http://kremlin.ru/events/president/news/79001"]
    assert news.link == "http://kremlin.ru/events/president/news/79001"
    assert news.published == datetime(2026, 1, 17, 12, 30, tzinfo=UTC) and news.language == "ru"
    assert polled["asked"]["/docs/rss/"] == ["/docs/rss/"]
    docs = items(polled, "government-docs")
    assert [i.link for i in docs.values()] == ["http://government.ru/docs/57001/", "http://government.ru/docs/57000/"]


def test_federal_register_recipe_reads_both_pages(polled: dict):
    (first, second) = polled["asked"]["/api/v1/documents.json"] + polled["asked"]["/api/v1/documents"]
    assert first == urlsplit(polled["sources"]["federal-register-uscis"]["url"]).path + "?" + urlsplit(
        polled["sources"]["federal-register-uscis"]["url"]
    ).query
    assert "page=2" in second and "search_after_cursor=" in second
    got = items(polled, "federal-register-uscis")
    assert len(got) == 6
    notice = got["2026-18736"]
    assert notice.act == ActFields(published_on=date(2026, 9, 14), number="2026-18736", doc_type="Notice")
    assert notice.link.startswith("https://www.federalregister.gov/documents/2026/09/14/2026-18736/")


def test_eurlex_and_legislation_recipes(polled: dict):
    assert polled["asked"]["/EN/display-feed.rss"] == ["/EN/display-feed.rss?rssId=162"]
    directive = next(i for i in items(polled, "eurlex-oj").values() if "2026/1472" in i.title)
    assert directive.title.startswith("Directive (EU) 2026/1472 of the European Parliament")
    assert directive.act is not None and directive.act.published_on == date(2026, 6, 30)
    assert polled["asked"]["/all/data.feed"] == [
        "/all/data.feed?sort=published",
        "/all/data.feed?sort=published&page=2",
    ]
    leg = items(polled, "legislation-uk")
    assert len(leg) == 40
    assert leg["http://www.legislation.gov.uk/id/nisr/2015/404"].link == (
        "http://www.legislation.gov.uk/nisr/2015/404/made"
    )
