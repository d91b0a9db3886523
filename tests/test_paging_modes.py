"""The generic types page as real portals do, each mode through the same ListingReader as the pravo portal: a json
API by a page number in its URL (`page_param`) or by a cursor its body gives (`cursor`), an html list page by a page
number. For each, the backlog rule holds: after an outage of 3 x max_pages pages, the walk goes back across polls
from where each stopped while new acts keep arriving at the head; every act is stored once and none is skipped.
(The feed's rel=next and the json next_page_url: tests/test_feed_paging.py, tests/test_paged_listings.py.)

The listings are served on loopback, newest first, 5 acts a page, each act with a number and a PDF link."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import Clock
from treatywatch.items import ActFields
from treatywatch.localserve import FixtureServer
from treatywatch.sources.html import HtmlConfig
from treatywatch.sources.jsonapi import JsonConfig
from treatywatch.sources.paging import with_param

SIZE = 5


class Acts:
    """A portal's listing of acts, newest first."""

    def __init__(self) -> None:
        self.acts: list[dict] = []
        self.expired: set[str] = set()  # cursors the API no longer takes (HTTP 400)

    def publish(self, day: date) -> str:
        n = len(self.acts) + 1
        self.acts.insert(
            0,
            {"id": f"A-{n:04d}", "title": f"Order No. {n} on customs cooperation", "day": f"{day:%Y-%m-%d}"},
        )
        return f"A-{n:04d}"

    def page(self, index: int) -> list[dict]:
        """Page `index` from 0."""
        return self.acts[index * SIZE : (index + 1) * SIZE]

    def json_by_number(self, handler) -> tuple[int, dict, bytes]:
        query = dict(parse_qsl(urlsplit(handler.path).query))
        assert query["per_page"] == str(SIZE)
        body = {"data": {"rows": self.page(int(query.get("page", "0")))}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def json_by_cursor(self, handler) -> tuple[int, dict, bytes]:
        """An opaque cursor (the last act's id, reversed), as search APIs write them."""
        query = dict(parse_qsl(urlsplit(handler.path).query))
        after = query.get("after")
        if after in self.expired:
            return 400, {"Content-Type": "application/json"}, b'{"error": "cursor expired"}'
        start = 0
        if after is not None:
            start = next(i for i, a in enumerate(self.acts) if a["id"] == after[::-1]) + 1
        rows = self.acts[start : start + SIZE]
        more = start + SIZE < len(self.acts)
        body = {"rows": rows, "meta": {"next": rows[-1]["id"][::-1] if more else None}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def html_by_number(self, handler) -> tuple[int, dict, bytes]:
        query = dict(parse_qsl(urlsplit(handler.path).query))
        rows = "".join(
            f'<li class="act"><a href="/acts/{a["id"]}">{html.escape(a["title"])}</a> <time>{a["day"]}</time>'
            f' <span class="no">{a["id"]}</span> <a class="pdf" href="/files/{a["id"]}.pdf">PDF</a></li>'
            for a in self.page(int(query.get("p", "1")) - 1)
        )
        page = int(query.get("p", "1"))
        more = page * SIZE < len(self.acts)
        pager = f"<a class='next' href='?p={page + 1}'>next</a>" if more else ""  # the page's own next link
        body = f"<html><body><ul>{rows}</ul>{pager}</body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()


def json_source(base: str, path_and_paging: str) -> str:
    """A json source of the acts, 5 a page, 2 pages a poll; `path_and_paging`: its URL's path, `items` and mode."""
    return f"""
  - id: acts
    type: json
    page_size: {SIZE}
    max_pages: 2
    ignore_older_than: 0
    fields: {{id: id, title: title, published: day, published_on: day, number: id,
              document_url: "{base}/files/{{id}}.pdf"}}
{path_and_paging.format(base=base)}"""


def json_number(base: str) -> str:
    paging = f'    url: "{{base}}/api/acts?per_page={SIZE}"\n    items: data.rows\n    page_param: page\n'
    return json_source(base, paging + "    first_page: 0\n")


def json_cursor(base: str) -> str:
    paging = f'    url: "{{base}}/api/search?size={SIZE}"\n    items: rows\n    cursor: meta.next\n'
    return json_source(base, paging + "    cursor_param: after\n")


def html_number(base: str) -> str:
    return f"""
  - id: acts
    type: html
    url: "{base}/list"
    items: li.act
    page_param: p
    page_size: {SIZE}
    max_pages: 2
    ignore_older_than: 0
    fields: {{title: a, link: a@href, id: span.no, published: time, published_on: time, number: span.no,
              document_url: "/files/{{id}}.pdf", pdf: a.pdf@href}}
"""


MODES: dict[str, tuple[str, Callable[[Acts], Callable], Callable[[str], str]]] = {
    "json page number": ("/api/acts", lambda a: a.json_by_number, json_number),
    "json cursor": ("/api/search", lambda a: a.json_by_cursor, json_cursor),
    "html page number": ("/list", lambda a: a.html_by_number, html_number),
    "html next link": ("/list", lambda a: a.html_by_number, lambda base: html_number(base).replace(
        "page_param: p", "next_link: a.next@href"
    )),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_a_backlog_of_three_times_max_pages_is_walked_none_skipped(
    mode: str, app_with, clock: Clock, tmp_path: Path
):
    path, handler, source = MODES[mode]
    acts = Acts()
    with FixtureServer() as http:
        http.routes[path] = handler(acts)
        for i in range(7):
            acts.publish(date(2026, 3, 1) + timedelta(days=i // 4))
        clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
        app = app_with(source(http.base))
        first = app.runner.poll("acts")
        assert first.error is None and first.new == 7
        item = next(i for i in first.items if i.key == "A-0007")
        if mode.startswith("html"):  # the PDF by a template over the id; its link as the page gives it
            assert item.extra["pdf"] == "/files/A-0007.pdf"
        assert item.act == ActFields(
            number="A-0007", published_on=date(2026, 3, 2), document_url=f"{http.base}/files/A-0007.pdf"
        )
        # an outage: 3 x max_pages pages of acts published meanwhile
        gap = [acts.publish(date(2026, 3, 4) + timedelta(days=i // 10)) for i in range(3 * 2 * SIZE)]
        clock.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
        capped = app.runner.poll("acts")
        assert capped.error is None and capped.new == 2 * SIZE
        assert app.store.source_state("acts").cursor is not None  # the rest is deferred
        head: list[str] = []
        for _ in range(12):
            clock.advance(minutes=15)
            head.append(acts.publish(date(2026, 3, 10)))
            assert app.runner.poll("acts").error is None
            if app.store.source_state("acts").cursor is None:
                break
        else:
            raise AssertionError("backlog not caught up")
        requests = len(http.requests)
    with sqlite3.connect(tmp_path / "state" / "treatywatch.db") as db:
        rows = db.execute("SELECT key, COUNT(*) FROM items WHERE source_id = 'acts' GROUP BY key").fetchall()
    keys = {k for k, _ in rows}
    assert set(gap) <= keys and set(head) <= keys  # none skipped
    assert all(n == 1 for _, n in rows) and len(rows) == 7 + len(gap) + len(head)
    assert requests <= 2 + 2 + 3 * (len(head) + 1)  # at most max_pages and 2 to find its place, a poll


def test_pages_by_number_stop_at_known_items_and_at_an_empty_page(app_with, clock: Clock):
    acts = Acts()
    with FixtureServer() as http:
        http.routes["/list"] = acts.html_by_number
        for _ in range(7):
            acts.publish(date(2026, 3, 1))
        clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
        app = app_with(html_number(http.base).replace("max_pages: 2", "max_pages: 5"))
        assert app.runner.poll("acts").new == 7
        # pages 1 and 2 hold the 7 acts; page 3 is empty: the listing's end
        assert [dict(parse_qsl(urlsplit(p).query)).get("p") for p, _ in http.requests] == [None, "2", "3"]
        acts.publish(date(2026, 3, 3))
        http.requests.clear()
        assert app.runner.poll("acts").new == 1
        assert len(http.requests) == 1  # page 1 holds known acts: no more pages


def test_one_paging_mode_a_source(tmp_path: Path):
    with pytest.raises(ValueError, match="next_page and cursor: a listing pages one way"):
        JsonConfig(id="x", url="http://h/x", fields={"title": "t"}, next_page="n", cursor="c")
    with pytest.raises(ValueError, match="page_param 'p&x'"):
        HtmlConfig(id="x", url="http://h/x", items="li", fields={"title": "a"}, page_param="p&x")


def test_with_param_sets_a_parameter_in_place():
    assert with_param("http://h/a?x=1&page=1&y=2", "page", "3") == "http://h/a?x=1&page=3&y=2"
    assert with_param("http://h/a?x=1", "page", "2") == "http://h/a?x=1&page=2"
    assert with_param("http://h/a?f%5B%5D=a&f%5B%5D=b", "p", "2") == "http://h/a?f%5B%5D=a&f%5B%5D=b&p=2"


def test_an_expired_cursor_costs_a_poll_and_the_walk_goes_on_none_skipped(app_with, clock: Clock, tmp_path: Path):
    """The page a cursor backlog resumes from answers 400 (the cursor expired): that poll stores the head and
    logs the failure; the resume URL is dropped and the next polls walk again from below the head."""
    acts = Acts()
    with FixtureServer() as http:
        http.routes["/api/search"] = acts.json_by_cursor
        for _ in range(7):
            acts.publish(date(2026, 3, 1))
        clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
        app = app_with(json_cursor(http.base))
        assert app.runner.poll("acts").new == 7
        gap = [acts.publish(date(2026, 3, 4)) for _ in range(3 * 2 * SIZE)]
        clock.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
        assert app.runner.poll("acts").new == 2 * SIZE
        resume = json.loads(app.store.source_state("acts").cursor or "{}")["backlog"]["resume"]
        acts.expired.add(dict(parse_qsl(urlsplit(resume).query))["after"])
        clock.advance(minutes=15)
        head = [acts.publish(date(2026, 3, 10))]
        assert app.runner.poll("acts").error is None  # the head is read; the backlog page failed
        assert json.loads(app.store.source_state("acts").cursor or "{}")["backlog"]["resume"] == ""
        for _ in range(12):
            clock.advance(minutes=15)
            head.append(acts.publish(date(2026, 3, 10)))
            assert app.runner.poll("acts").error is None
            if app.store.source_state("acts").cursor is None:
                break
        else:
            raise AssertionError("backlog not caught up")
    with sqlite3.connect(tmp_path / "state" / "treatywatch.db") as db:
        keys = {k for (k,) in db.execute("SELECT key FROM items WHERE source_id = 'acts'")}
    assert set(gap) <= keys and set(head) <= keys and len(keys) == 7 + len(gap) + len(head)
