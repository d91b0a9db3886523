"""Generic listings that page by a link, as real portals do: the US Federal Register API's `next_page_url` (json
type, `next_page`), read through the same ListingReader as the pravo portal, so the backlog rule holds: after an
outage of 3 x max_pages pages the walk goes back across polls, from where each stopped, while new documents keep
arriving at the head; every document is stored once and none is skipped.

The Federal Register is served on loopback at its real paths and query strings: page 1 is the captured answer
(tests/data/federalregister/, 3 of its 5 results kept), its next link pointed at the loopback server; page 2 is
made of the same results with other numbers and no next link, as the API ends a listing."""

from __future__ import annotations

import copy
import json
import math
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from conftest import Clock
from treatywatch.items import ActFields
from treatywatch.localserve import FixtureServer

DATA = Path(__file__).parent / "data"
FR = json.loads((DATA / "federalregister" / "documents_uscis_fields_trimmed_2026-09-14.json").read_text("utf-8"))
REAL_HOST = "https://www.federalregister.gov"
QUERY = (
    "conditions%5Bagencies%5D%5B%5D=u-s-citizenship-and-immigration-services&fields%5B%5D=document_number"
    "&fields%5B%5D=title&fields%5B%5D=abstract&fields%5B%5D=html_url&fields%5B%5D=publication_date"
    "&fields%5B%5D=type&format=json&order=newest&per_page=5"
)
FIELDS = """{id: document_number, title: title, summary: abstract, link: html_url, published: publication_date,
      published_on: publication_date, number: document_number, doc_type: type, kind: type, fr_url: html_url}"""


def fr_source(base: str, max_pages: int, per_page: int = 5) -> str:
    query = QUERY.replace("per_page=5", f"per_page={per_page}")
    return f"""
  - id: federal-register
    type: json
    url: "{base}/api/v1/documents.json?{query}"
    items: results
    next_page: next_page_url
    page_size: {per_page}
    max_pages: {max_pages}
    timezone: America/New_York
    language: en
    ignore_older_than: 0
    fields: {FIELDS}
"""


def test_federal_register_two_pages_by_next_page_url(app_with):
    page2 = copy.deepcopy(FR)
    for n, r in enumerate(page2["results"]):
        r["document_number"] = f"2026-1870{n}"
        r["html_url"] = r["html_url"].replace(FR["results"][n]["document_number"], r["document_number"])
        r["publication_date"] = "2026-09-11"
    page2["next_page_url"] = None
    with FixtureServer() as http:
        first = json.dumps({**FR, "next_page_url": FR["next_page_url"].replace(REAL_HOST, http.base)}).encode()
        http.routes["/api/v1/documents.json"] = lambda h: (200, {"Content-Type": "application/json"}, first)
        http.routes["/api/v1/documents"] = lambda h: (
            200,
            {"Content-Type": "application/json"},
            json.dumps(page2).encode(),
        )
        app = app_with(fr_source(http.base, max_pages=5))
        r = app.runner.poll("federal-register")
        paths = [p for p, _ in http.requests]
    assert r.error is None and r.new == 6
    assert paths[0] == f"/api/v1/documents.json?{QUERY}"
    # the second request is the next_page_url the API gave, on this host, with its query as written
    assert paths[1] == urlsplit(FR["next_page_url"]).path + "?" + urlsplit(FR["next_page_url"]).query
    assert len(paths) == 2  # page 2 has no next link: the listing ends there
    assert [i.key for i in r.items] == [
        "2026-18736", "2026-18724", "2026-18722", "2026-18700", "2026-18701", "2026-18702"
    ]  # fmt: skip
    first_item = r.items[0]
    assert first_item.title.startswith("Agency Information Collection Activities; Revision of a Currently Approved")
    assert first_item.link == FR["results"][0]["html_url"]
    assert first_item.summary.startswith("The Department of Homeland Security (DHS), U.S. Citizenship")
    assert first_item.act == ActFields(published_on=date(2026, 9, 14), number="2026-18736", doc_type="Notice")
    assert first_item.extra["kind"] == "Notice" and first_item.extra["fr_url"] == first_item.link  # any other field
    assert first_item.published == datetime(2026, 9, 14, 4, 0, tzinfo=UTC)  # midnight in Washington
    assert r.items[-1].act is not None and r.items[-1].act.published_on == date(2026, 9, 11)


class Listing:
    """A Federal Register-shaped listing, newest first, paged by `page` and `per_page`, each page linking to the
    next by `next_page_url` (with an opaque cursor beside the page number, as the API writes it)."""

    def __init__(self) -> None:
        self.docs: list[dict] = []
        self.base = ""

    def publish(self, day: date) -> str:
        n = len(self.docs) + 1
        doc = copy.deepcopy(FR["results"][n % 3])
        doc.update(
            document_number=f"2026-{n:05d}",
            html_url=f"{REAL_HOST}/documents/{day:%Y/%m/%d}/2026-{n:05d}/x",
            publication_date=f"{day:%Y-%m-%d}",
            title=f"{doc['title']} ({n})",
        )
        self.docs.insert(0, doc)
        return doc["document_number"]

    def respond(self, handler):
        query = dict(parse_qsl(urlsplit(handler.path).query))
        size, page = int(query["per_page"]), int(query.get("page", "1"))
        pages = max(1, math.ceil(len(self.docs) / size))
        nxt = None
        if page < pages:
            nxt = f"{self.base}/api/v1/documents?" + urlencode(  # the API's own host, here the loopback one
                {**query, "page": page + 1, "search_after_cursor": f"opaque{page}"}
            )
        body = {
            "count": len(self.docs),
            "total_pages": pages,
            "next_page_url": nxt,
            "results": self.docs[(page - 1) * size : page * size],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def listing():
    lst = Listing()
    with FixtureServer() as http:
        http.routes["/api/v1/documents.json"] = lst.respond
        http.routes["/api/v1/documents"] = lst.respond
        lst.base = http.base
        yield lst


def test_next_page_url_backlog_of_three_times_max_pages_is_walked_none_skipped(
    listing: Listing, app_with, clock: Clock, tmp_path: Path
):
    for i in range(6):
        listing.publish(date(2026, 9, 1) + timedelta(days=i // 3))
    clock.now = datetime(2026, 9, 3, 12, 0, tzinfo=UTC)
    app = app_with(fr_source(listing.base, max_pages=2))
    assert app.runner.poll("federal-register").new == 6
    # an outage: 3 x max_pages pages of 5 published meanwhile
    gap = [listing.publish(date(2026, 9, 4) + timedelta(days=i // 6)) for i in range(30)]
    clock.now = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
    first = app.runner.poll("federal-register")
    assert first.error is None and first.new == 10
    assert app.store.source_state("federal-register").cursor is not None  # the rest is deferred
    head: list[str] = []
    for _ in range(10):
        clock.advance(minutes=15)
        head.append(listing.publish(date(2026, 9, 10)))
        assert app.runner.poll("federal-register").error is None
        if app.store.source_state("federal-register").cursor is None:
            break
    else:
        raise AssertionError("backlog not caught up")
    with sqlite3.connect(tmp_path / "state" / "treatywatch.db") as db:
        rows = db.execute(
            "SELECT key, COUNT(*) FROM items WHERE source_id = 'federal-register' GROUP BY key"
        ).fetchall()
    keys = {k for k, _ in rows}
    assert set(gap) <= keys and set(head) <= keys  # none skipped
    assert all(n == 1 for _, n in rows) and len(rows) == 6 + 30 + len(head)


def test_json_link_and_id_templates_over_any_field(app_with):
    """The pravo API through the generic json type: link and PDF built from eoNumber by templates (the bare
    `link: eoNumber` gave a wrong URL), the act's date and number mapped as typed fields."""
    real = (DATA / "pravo" / "api_documents_all_pagesize10_2026-01-17.json").read_bytes()
    with FixtureServer() as http:
        http.routes["/api/Documents"] = lambda h: (200, {"Content-Type": "application/json"}, real)
        app = app_with(
            f"""
  - id: pravo-json
    type: json
    url: "{http.base}/api/Documents?pageSize=10"
    items: items
    timezone: Europe/Moscow
    ignore_older_than: 0
    fields:
      id: "pravo:{{eoNumber}}"
      title: complexName
      link: "http://publication.pravo.gov.ru/document/{{eoNumber}}"
      document_url: "http://publication.pravo.gov.ru/file/pdf?eoNumber={{eoNumber}}"
      published: publishDateShort
      act_date: documentDate
      number: number
      pages: pagesCount
"""
        )
        r = app.runner.poll("pravo-json")
    first = r.items[0]
    assert first.key == "pravo:0001202601170001"
    assert first.link == "http://publication.pravo.gov.ru/document/0001202601170001"
    assert first.act == ActFields(
        act_date=date(2026, 1, 17),
        number="28-р",
        document_url="http://publication.pravo.gov.ru/file/pdf?eoNumber=0001202601170001",
    )
    assert first.extra["pages"] == "22"
    assert len(r.items) == 10
