"""A paging portal's backlog across polls: after an outage longer than max_pages x page size, the acts in between
are walked back on the following polls, from where each poll stopped, while new acts keep arriving at the head
(page numbers shift). Every act is stored once, none is skipped, and the deferral is logged and shown.

The portal is served on loopback the way publication.pravo.gov.ru answers `/api/Documents`: newest first, paged
by `PageSize` and `Index`, in its real envelope; each act is a copy of a real list item
(`tests/data/pravo_documents_2026-01-17.json`, captured byte for byte) with its own number, date and name."""

from __future__ import annotations

import copy
import json
import logging
import math
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import Clock, tw
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

REAL = json.loads((Path(__file__).parent / "data" / "pravo_documents_2026-01-17.json").read_text(encoding="utf-8"))
SOURCE = "pravo-government"
ENDS = "О прекращении действия Соглашения между Правительством Российской Федерации и Правительством Республики {}"
BG = ENDS.format("Болгария о военном сотрудничестве")
PL = ENDS.format("Польша о военном сотрудничестве")
CONFIG = """
  - id: pravo-government
    type: pravo
    url: "{base}/pravo"
    page_size: 10
    max_pages: {max_pages}
    implies: [russia]
    ignore_older_than: 5d
"""


class Portal:
    """The portal's act list, newest first, served page by page as `/api/Documents?...&PageSize=&Index=`."""

    def __init__(self) -> None:
        self.acts: list[dict] = []
        self.queries: list[dict[str, str]] = []
        self.failing_index: int | None = None  # answer 500 for this Index (a page that fails once)
        self.base = ""

    def publish(self, day: date, name: str | None = None) -> str:
        """A new act at the head of the list, as the portal lists what it published last first."""
        n = len(self.acts) + 1
        act = copy.deepcopy(REAL["items"][n % len(REAL["items"])])
        eo = f"0001{day:%Y%m%d}{n:04d}"
        title = name or f"{act['name']} (№ {n})"
        act.update(
            eoNumber=eo,
            name=title,
            number=f"{n}-р",
            publishDateShort=f"{day:%Y-%m-%d}T00:00:00",
            documentDate=f"{day:%Y-%m-%d}T00:00:00",
            viewDate=f"{day:%d.%m.%Y}",
            complexName=f'Распоряжение Правительства Российской Федерации от {day:%d.%m.%Y} № {n}-р\n "{title}"',
            id=f"00000000-0000-4000-8000-{n:012d}",
        )
        self.acts.insert(0, act)
        return eo

    def respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        self.queries.append(query)
        size, index = int(query["PageSize"]), int(query["Index"])
        if index == self.failing_index:
            self.failing_index = None
            return 500, {}, b'{"message": "Internal Server Error"}'
        body = {
            "items": self.acts[(index - 1) * size : index * size],
            "itemsTotalCount": len(self.acts),
            "itemsPerPage": size,
            "currentPage": index,
            "pagesTotalCount": max(1, math.ceil(len(self.acts) / size)),
        }
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body, ensure_ascii=False).encode()


@pytest.fixture
def portal() -> Iterator[Portal]:
    p = Portal()
    with FixtureServer() as http:
        http.routes["/pravo/api/Documents"] = p.respond
        p.base = http.base
        yield p


def stored(tmp_path: Path) -> list[tuple[str, int, int]]:
    """(key, rows, revision) of every stored act, read from the database file itself."""
    with sqlite3.connect(tmp_path / "state" / "treatywatch.db") as db:
        return db.execute(
            "SELECT key, COUNT(*), MAX(revision) FROM items WHERE source_id = ? GROUP BY key", [SOURCE]
        ).fetchall()


def source_row(config_dir: Path, tmp_path: Path) -> dict:
    out = tw("sources", "--json", config=config_dir, state=tmp_path / "state")
    assert out.returncode == 0, out.stderr
    return next(s for s in json.loads(out.stdout) if s["id"] == SOURCE)


def history_then_outage(portal: Portal, app_with, clock: Clock, max_pages: int = 1):
    """12 acts before the first poll (it reads page 1: its history starts there), then a week's outage in which
    70 acts (7 pages) appear: one of them ends the Polish agreement (too old to alert when it is reached), one the
    Bulgarian (recent enough)."""
    for i in range(12):
        portal.publish(date(2026, 1, 5) + timedelta(days=i // 4))
    clock.now = datetime(2026, 1, 9, 9, 0, tzinfo=UTC)
    app = app_with(CONFIG.format(base=portal.base, max_pages=max_pages))
    first = app.runner.poll(SOURCE)
    assert first.error is None and first.new == min(12, 10 * max_pages)
    assert app.store.source_state(SOURCE).cursor is None  # a first poll walks no archive: there is no gap yet
    backlog = []
    for day in range(9, 16):
        for n in range(10):
            name = BG if (day, n) == (13, 4) else PL if (day, n) == (10, 6) else None
            backlog.append(portal.publish(date(2026, 1, day), name))
    clock.now = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    return app, backlog


def walk(app, portal: Portal, clock: Clock, head: list[str], limit: int = 15, burst: int = 0) -> int:
    """Poll every 15 minutes, two new acts at the head each time (and `burst` more before the second poll), until
    the backlog is caught up; returns the number of polls."""
    for polls in range(1, limit + 1):
        clock.advance(minutes=15)
        for _ in range(2 + (burst if polls == 2 else 0)):
            head.append(portal.publish(date(2026, 1, 16)))
        r = app.runner.poll(SOURCE)
        assert r.error is None
        if app.store.source_state(SOURCE).cursor is None:
            return polls
    raise AssertionError(f"backlog not caught up after {limit} polls")


def test_backlog_after_an_outage_is_walked_across_polls_none_skipped(
    portal: Portal, app_with, clock, caplog, config_dir, tmp_path
):
    app, backlog = history_then_outage(portal, app_with, clock)
    with caplog.at_level(logging.INFO):
        second = app.runner.poll(SOURCE)
    assert second.error is None and second.new == 10
    assert (
        "source pravo-government: read 1 page (max_pages 1) without reaching items it had before; the rest of "
        "the backlog is deferred to the next poll" in caplog.text
    )
    row = source_row(config_dir, tmp_path)
    assert row["backlog"] == {
        "since": "2026-01-16T09:00:00+00:00",
        "mark": "2026-01-09T09:00:00+00:00",
        "pages": 1,
        "items": 10,
        "next_page": 2,
    }
    text = tw("sources", config=config_dir, state=tmp_path / "state").stdout
    assert (
        "    backlog deferred: 1 page, 10 items read since 2026-01-16 09:00 UTC; the rest comes with the next polls "
        "(from page 2)\n" in text
    )

    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as console:
            (api,) = [r for r in console.get("/api/sources").json() if r["id"] == SOURCE]
            page = console.get("/").text
    finally:
        server.stop()
    assert api["backlog"] == row["backlog"]
    assert '<span class="badge warn" title="the page cap deferred the rest of a backlog to the next polls">' in page
    assert "<small>1 page, 10 items read since 2026-01-16 09:00 UTC; next: page 2</small>" in page

    head: list[str] = []
    caplog.clear()
    with caplog.at_level(logging.INFO):
        polls = walk(app, portal, clock, head)
    # 60 acts left, 8 a poll (each page holds the 2 read last time, pushed down by the 2 new ones); the last
    # page, with the 4 last ones, reaches acts dated before the mark
    assert polls == 8
    log = caplog.text.replace("\n", " ")
    assert "source pravo-government: backlog: read page 2 (1 page this poll), 8 new items; the rest is deferred" in log
    assert "source pravo-government: backlog caught up: 70 items over 9 pages since 2026-01-16 09:00 UTC" in log

    rows = stored(tmp_path)
    keys = {k for k, _, _ in rows}
    assert set(backlog) <= keys and set(head) <= keys  # none skipped
    assert all(n == 1 and rev == 1 for _, n, rev in rows)  # each stored once, never re-stored as a revision
    assert len(rows) == 10 + 70 + len(head)  # and nothing older than the history: the walk stopped at the mark
    # every request asked the portal for its real paths and query
    assert {(q["Block"], q["PageSize"], q["SortedBy"], q["SortDestination"]) for q in portal.queries} == {
        ("government", "10", "6", "1")
    }
    # backlog acts are news the desk missed: they alert like any other, unless older than the age limit (5d)
    (alert,) = app.store.recent_alerts(10)
    assert alert.agreements == ("ru-bg-military-cooperation",)
    assert [r.item.title.split(" № ", 1)[1].split(" ", 1)[1] for r in alert.reports] == [f"«{BG}»"]  # official title
    assert source_row(config_dir, tmp_path)["backlog"] is None


def test_a_second_outage_during_the_walk_is_walked_too(portal: Portal, app_with, clock, caplog, tmp_path):
    app, backlog = history_then_outage(portal, app_with, clock)
    app.runner.poll(SOURCE)
    head: list[str] = []
    with caplog.at_level(logging.INFO):
        walk(app, portal, clock, head, limit=30, burst=25)  # a page and a half more before the second poll
    assert "the walk starts again below it (pages read again are not stored twice)" in caplog.text
    rows = stored(tmp_path)
    keys = {k for k, _, _ in rows}
    assert set(backlog) <= keys and set(head) <= keys
    assert all(n == 1 and rev == 1 for _, n, rev in rows)


def withdraw(first: int, last: int):
    def change(portal: Portal) -> list[str]:
        gone = [a["eoNumber"] for a in portal.acts[first:last]]
        del portal.acts[first:last]
        return gone

    return change


def backdate(portal: Portal) -> list[str]:
    """12 acts the portal lists among those the walk has read (dated into the week): the walk's place moves
    down by more than a page, and no new act at the head says so."""
    for _ in range(12):
        portal.publish(date(2026, 1, 15))
    listed = portal.acts[:12]
    del portal.acts[:12]
    portal.acts[12:12] = listed
    return []


@pytest.mark.parametrize(
    ("walked", "change", "logged"),
    [
        # 4 acts the walk read are withdrawn: its place moved up; found one page up
        (1, withdraw(3, 7), "backlog: read page 2 (2 pages this poll), 2 new items"),
        # the page it read last is withdrawn: it goes on after what is left of its tail
        (1, withdraw(10, 20), "backlog: read page 2 (2 pages this poll), 8 new items"),
        # 12 acts listed inside what it read: its place moved down; it follows its tail to page 4
        (1, backdate, "backlog: read page 4 (2 pages this poll), 6 new items"),
        # the 50 acts it remembers are withdrawn: its place is gone; it walks again from below the head
        (5, withdraw(10, 60), "the walk starts again below the head"),
    ],
)
def test_a_listing_that_changes_above_the_walk_does_not_make_it_skip(
    portal: Portal, app_with, clock, caplog, tmp_path, walked: int, change, logged: str
):
    app, backlog = history_then_outage(portal, app_with, clock)
    app.runner.poll(SOURCE)
    for _ in range(walked):  # no new act at the head: the walk reads pages 2, 3, ...
        clock.advance(minutes=15)
        app.runner.poll(SOURCE)
    gone = change(portal)
    head: list[str] = []
    with caplog.at_level(logging.INFO):
        walk(app, portal, clock, head, limit=20)
    assert logged in caplog.text
    rows = stored(tmp_path)
    keys = {k for k, _, _ in rows}
    assert set(backlog) - set(gone) <= keys and set(head) <= keys
    assert all(n == 1 and rev == 1 for _, n, rev in rows)


def test_a_failing_backlog_page_keeps_the_head_and_the_place(portal: Portal, app_with, clock, caplog, tmp_path):
    app, backlog = history_then_outage(portal, app_with, clock, max_pages=3)
    app.runner.poll(SOURCE)  # pages 1-3
    clock.advance(minutes=15)
    new = portal.publish(date(2026, 1, 16))
    portal.failing_index = 4
    with caplog.at_level(logging.WARNING):
        r = app.runner.poll(SOURCE)
    assert r.error is None and r.new >= 1  # the head is stored although the backlog page failed
    assert app.store.known_items(SOURCE, [new])
    assert "source pravo-government: backlog page 4 failed, tried again next poll: HTTP 500" in caplog.text
    assert app.store.source_state(SOURCE).cursor is not None
    walk(app, portal, clock, [], limit=10)
    keys = {k for k, _, _ in stored(tmp_path)}
    assert set(backlog) <= keys


def test_a_poll_without_backlog_reads_the_head_only(portal: Portal, app_with, clock, caplog, config_dir, tmp_path):
    for i in range(25):
        portal.publish(date(2026, 1, 5) + timedelta(days=i // 5))
    clock.now = datetime(2026, 1, 9, 9, 0, tzinfo=UTC)
    app = app_with(CONFIG.format(base=portal.base, max_pages=5))
    first = app.runner.poll(SOURCE)
    assert first.new == 25 and [q["Index"] for q in portal.queries] == ["1", "2", "3"]  # to the list's end
    portal.queries.clear()
    news = [portal.publish(date(2026, 1, 9)) for _ in range(2)]
    clock.advance(minutes=15)
    with caplog.at_level(logging.INFO):
        second = app.runner.poll(SOURCE)
    assert second.new == 2 and {i.key for i in second.items} >= set(news)
    assert [q["Index"] for q in portal.queries] == ["1"]  # page 1 held known acts: stop
    assert "backlog" not in caplog.text
    assert app.store.source_state(SOURCE).cursor is None
    assert source_row(config_dir, tmp_path)["backlog"] is None
