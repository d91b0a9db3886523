"""Feeds as official portals write them: legislation.gov.uk's Atom (an entry's several rel="alternate" links: the
page wins, or the one an operator names by type or title; the feed pages by rel="next"), EUR-Lex's RSS (titles
without their CELEX prefix, a day written as midnight kept as that day), and the backlog rule for rel="next"
paging (an outage of 3 x max_pages pages walked across polls, none skipped).

Real captures from tests/data/ are served on loopback at the portals' paths and query strings; only the host of a
next link is pointed at the loopback server."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from conftest import Clock
from treatywatch.localserve import FixtureServer

DATA = Path(__file__).parent / "data"
LEG = (DATA / "legislation_gov_uk" / "all_data_feed_sort_published_2015-12-10.atom").read_text(encoding="utf-8")
EURLEX = (DATA / "eurlex" / "display-feed_rssId162_shape_2026-06-30.xml").read_bytes()
LEG_HOST = "http://legislation.data.gov.uk"
ATOM = {"Content-Type": "application/atom+xml"}


def leg_pages(base: str) -> tuple[bytes, bytes]:
    """Page 1 as captured, its next link on this host; page 2: the same entries under other ids, and no next."""
    first = LEG.replace(
        f'rel="next" type="application/atom+xml" href="{LEG_HOST}',
        f'rel="next" type="application/atom+xml" href="{base}',
    )
    second = LEG.replace("/2015/", "/2014/").replace('<link rel="next"', '<link rel="prev"')
    return first.encode(), second.encode()


def test_legislation_gov_uk_page_link_by_default_pdf_by_type_and_two_pages_by_rel_next(app_with):
    with FixtureServer() as http:
        first, second = leg_pages(http.base)

        def feed(handler):
            page = dict(parse_qsl(urlsplit(handler.path).query)).get("page", "1")
            return 200, ATOM, first if page == "1" else second

        http.routes["/all/data.feed"] = feed
        app = app_with(
            f"""
  - {{id: leg, type: feed, url: "{http.base}/all/data.feed?sort=published", follow_next: true, max_pages: 5,
      ignore_older_than: 0}}
  - {{id: leg-pdf, type: feed, url: "{http.base}/all/data.feed?sort=published", link_type: application/pdf,
      ignore_older_than: 0}}
  - {{id: leg-snippet, type: feed, url: "{http.base}/all/data.feed?sort=published", link_title: HTML snippet,
      ignore_older_than: 0}}
"""
        )
        r = app.runner.poll("leg")
        paths = [p for p, _ in http.requests]
        pdf = app.runner.poll("leg-pdf").items[0]
        snippet = app.runner.poll("leg-snippet").items[0]
    assert r.error is None and r.new == 40  # both pages, 20 entries each
    assert paths == ["/all/data.feed?sort=published", "/all/data.feed?sort=published&page=2"]
    item = r.items[0]
    assert item.key == "http://www.legislation.gov.uk/id/nisr/2015/404"
    assert item.title.startswith("The Social Security (Crediting and Treatment of Contributions")
    assert item.link == "http://www.legislation.gov.uk/nisr/2015/404/made"  # the page, not the XHTML snippet
    assert r.items[20].link == "http://www.legislation.gov.uk/nisr/2014/404/made"
    assert pdf.link == "http://legislation.data.gov.uk/nisr/2015/404/made/data.pdf"
    assert snippet.link == "http://legislation.data.gov.uk/nisr/2015/404/made/data.htm"


def test_eurlex_titles_lose_the_celex_prefix_and_keep_their_day(app_with):
    with FixtureServer() as http:
        http.routes["/EN/display-feed.rss"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, EURLEX)
        app = app_with(
            f"""
  - {{id: eurlex, type: feed, url: "{http.base}/EN/display-feed.rss?rssId=162", dates_are_days: true,
      ignore_older_than: 0}}
"""
        )
        r = app.runner.poll("eurlex")
    assert [i.title for i in r.items] == [
        "Directive (EU) 2026/1472 of the European Parliament and of the Council of 17 June 2026 amending Directive "
        "2012/29/EU",
        "Council Regulation (EU) 2026/1465 of 25 June 2026 amending Regulation (EU) 2021/2283",
    ]
    assert (
        r.items[0].link == "https://eur-lex.europa.eu/./legal-content/AUTO/?uri=CELEX%3A32026L1472"
    )  # as EUR-Lex writes it
    assert r.items[0].published == datetime(2026, 6, 29, 22, 0, tzinfo=UTC)  # the instant, for ordering
    assert all(i.act is not None and i.act.published_on == date(2026, 6, 30) for i in r.items)  # the day


class AtomListing:
    """An Atom feed of acts, newest first, 10 entries a page, each page linking to the next by rel="next"."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, date]] = []
        self.base = ""

    def publish(self, day: date) -> str:
        key = f"urn:example:act:{len(self.entries) + 1}"
        self.entries.insert(0, (key, day))
        return key

    def respond(self, handler):
        page = int(dict(parse_qsl(urlsplit(handler.path).query)).get("page", "1"))
        shown = self.entries[(page - 1) * 10 : page * 10]
        more = len(self.entries) > page * 10
        nxt = f'<link rel="next" href="{self.base}/acts.atom?page={page + 1}"/>' if more else ""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:acts</id>'
            f"<title>Acts</title>{nxt}"
            + "".join(
                f'<entry><id>{k}</id><title>Act {k}</title><link href="{self.base}/act/{k[16:]}"/>'
                f"<updated>{d:%Y-%m-%d}T09:00:00Z</updated></entry>"
                for k, d in shown
            )
            + "</feed>"
        )
        return 200, ATOM, body.encode()


def test_rel_next_backlog_of_three_times_max_pages_is_walked_none_skipped(app_with, clock: Clock, tmp_path: Path):
    listing = AtomListing()
    with FixtureServer() as http:
        http.routes["/acts.atom"] = listing.respond
        listing.base = http.base
        for i in range(8):
            listing.publish(date(2026, 3, 1) + timedelta(days=i // 4))
        clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
        app = app_with(
            f"""
  - {{id: acts, type: feed, url: "{http.base}/acts.atom", follow_next: true, max_pages: 2, page_size: 10,
      ignore_older_than: 0}}
"""
        )
        assert app.runner.poll("acts").new == 8
        gap = [listing.publish(date(2026, 3, 4) + timedelta(days=i // 10)) for i in range(60)]  # 3 x 2 pages
        clock.now = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
        assert app.runner.poll("acts").new == 20
        assert app.store.source_state("acts").cursor is not None
        head: list[str] = []
        for _ in range(12):
            clock.advance(minutes=15)
            head.append(listing.publish(date(2026, 3, 12)))
            assert app.runner.poll("acts").error is None
            if app.store.source_state("acts").cursor is None:
                break
        else:
            raise AssertionError("backlog not caught up")
    with sqlite3.connect(tmp_path / "state" / "treatywatch.db") as db:
        rows = db.execute("SELECT key, COUNT(*) FROM items WHERE source_id = 'acts' GROUP BY key").fetchall()
    keys = {k for k, _ in rows}
    assert set(gap) <= keys and set(head) <= keys  # none skipped
    assert all(n == 1 for _, n in rows) and len(rows) == 8 + 60 + len(head)
