"""The walk back through a paged listing (newest first) that a page cap cut short, carried across polls: the
ListingReader reads a PagingSource's head each poll and the backlog its cursor (Backlog) says is left."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import SourceError
from ..items import Item
from .base import Page, PagingSource, Request, Response

log = logging.getLogger("treatywatch.backlog")


# Listings that date their items by the day only (the pravo portal): the walk reads the whole day before its mark.
BACKLOG_MARGIN = timedelta(days=1)
# Keys of the last items read that the cursor keeps: the walk finds its place again by them, wherever new items at
# the head (or items withdrawn above it) have moved them. 50 keys cover a page of 10 or 30 and most of one of 100.
TAIL_KEYS = 50
# Pages a poll may spend finding where the walk stopped, beyond those it reads on: the page that ends with the
# tail, read again when no new item moved it (a page read on must overlap what was read), and one more when the
# listing moved under it.
LOCATE_PAGES = 2


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Backlog:
    """A walk back through a paged listing, deferred by the page cap, written in the listing's own data (page
    numbers shift as items are published at the head). `mark`: the last successful poll before the gap; it had read
    everything published before it, so the walk is over at the first item dated before it (less a day). `tail`:
    keys of the last items read, newest first; the walk resumes after them. `at`: where the last of them stood
    (0-based) when read, a hint for the page to look on; `page`: the page the next poll reads (for operators).
    `resume`: for a listing paged by links alone (a cursor), the URL of the page that ended with the tail, fetched
    again to find it when the links of the head do not reach it (a cursor names the items after it, not a page)."""

    mark: datetime
    since: datetime
    at: int
    page: int
    tail: tuple[str, ...]
    pages: int = 0
    items: int = 0
    resume: str = ""

    def to_cursor(self) -> str:
        return json.dumps(
            {
                "backlog": {
                    "mark": _utc(self.mark).isoformat(),
                    "since": _utc(self.since).isoformat(),
                    "at": self.at,
                    "page": self.page,
                    "tail": list(self.tail),
                    "pages": self.pages,
                    "items": self.items,
                    "resume": self.resume,
                }
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_cursor(cls, text: str | None) -> Backlog | None:
        """The walk a source's cursor holds, or None. Raises ValueError on a cursor this code did not write."""
        if not text:
            return None
        try:
            b = json.loads(text).get("backlog")
            if b is None:
                return None
            return cls(
                mark=datetime.fromisoformat(b["mark"]),
                since=datetime.fromisoformat(b["since"]),
                at=int(b["at"]),
                page=int(b["page"]),
                tail=tuple(str(k) for k in b["tail"]),
                pages=int(b["pages"]),
                items=int(b["items"]),
                resume=str(b.get("resume") or ""),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable source cursor: {exc}") from exc

    def summary(self) -> dict[str, Any]:
        """What `sources --json` and the console show of a deferred walk."""
        return {
            "since": _utc(self.since).isoformat(),
            "mark": _utc(self.mark).isoformat(),
            "pages": self.pages,
            "items": self.items,
            "next_page": self.page,
        }


@dataclass
class Reading:
    """What one poll read of a source: its items, the first response (validators, a 304) and the walk left."""

    items: list[Item]
    first: Response | None
    backlog: Backlog | None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _when(value: datetime) -> str:
    return f"{_utc(value):%Y-%m-%d %H:%M} UTC"


class ListingReader:
    """One poll of a paging source. First the head: pages from 1 until one holds an item stored before, within
    the page cap. Then, if a walk is pending, the backlog from where it stopped, with the pages the head left (at
    least one). A head that the cap stops before any known item starts a walk (during one, it restarts the walk
    below the head: the walk reads again what it had read, never skips). Pages read twice are harmless: items are
    stored once by key."""

    def __init__(
        self,
        source_id: str,
        plugin: PagingSource,
        cfg: Any,
        fetch: Callable[[Request, bool], Response],
        parse: Callable[[Request, Response], Page],
        known: Callable[[list[str]], Collection[str]],
    ) -> None:
        self.source_id, self.plugin, self.cfg = source_id, plugin, cfg
        self.fetch, self.parse, self.known = fetch, parse, known
        self.size, self.budget = plugin.paging(cfg)
        self.pages: dict[int, list[Item]] = {}
        self.links: dict[int, Request] = {}  # page n+1's request, as page n linked to it
        self.asked: dict[int, Request] = {}  # each page's request, as fetched this poll
        self.unreachable: set[int] = set()  # pages neither the plugin nor a link read this poll can ask for
        self.items: dict[str, Item] = {}
        self.fetched = 0
        self.last: int | None = None  # the listing's last page, once a page has said so
        self.first: Response | None = None
        self.trying = 0  # the page being fetched, for the log when it fails
        self.resumed = 0  # the page fetched from a backlog's resume URL, if one was

    def _page(self, n: int, validators: bool = False) -> list[Item] | None:
        """Page n, fetched once per poll; None past the listing's end, or when page 1 was not modified."""
        if n in self.pages:
            return self.pages[n]
        if self.last is not None and n > self.last:
            return None
        request = self._request(n)
        if request is None:
            self.unreachable.add(n)
            return None
        self.trying = n
        self.asked[n] = request
        response = self.fetch(request, validators)
        self.fetched += 1
        if n == 1:
            self.first = response
        if response.status == 304:
            return None
        page = self.parse(request, response)
        self.pages[n] = page.items
        if page.next_request is not None:
            self.links[n + 1] = replace(page.next_request, page=n + 1)
            self.unreachable.discard(n + 1)  # a page no request could be built for, linked to now
        if page.next_request is None or not page.items:
            self.last = n if page.items else n - 1
        for item in page.items:
            self.items[item.key] = item
        return page.items

    def _request(self, n: int) -> Request | None:
        """Page n: as a page read this poll linked to it, else as the plugin builds it, else from a link of this
        poll that names its page by number (page=2) or by offset (offset=10): the same link with page n's."""
        if n in self.links:
            return self.links[n]
        own = self.plugin.page_request(self.cfg, n)
        if own is not None:
            return own
        first = self.asked.get(1)
        for k, link in sorted(self.links.items()):
            url = renumber(link.url, k, n, self.size, first.url if first is not None else "")
            if url is not None:
                return Request(url, link.params, n)
        return None

    def _unread(self, n: int) -> bool:
        """Page n is one this poll may still read."""
        return n >= 1 and n not in self.pages and n not in self.unreachable and (self.last is None or n <= self.last)

    def _keys(self, upto: int) -> list[str]:
        return [i.key for n in range(1, upto + 1) for i in self.pages.get(n, [])]

    def read(self, cursor: str | None, mark: datetime | None, now: datetime) -> Reading:
        """`cursor`: the source's, from the last poll; `mark`: its last successful poll, if it has stored items
        (a gap needs something before it)."""
        try:
            backlog = Backlog.from_cursor(cursor)
        except ValueError as exc:
            log.warning("source %s: %s; it is dropped", self.source_id, exc)
            backlog = None
        reached, shift, head = False, 0, 0
        while not reached and self.fetched < self.budget:
            items = self._page(head + 1, validators=backlog is None and head == 0)
            if items is None:
                if self.first is not None and self.first.status == 304:
                    return Reading([], self.first, backlog)
                reached = True  # past the end
                break
            head += 1
            known = self.known([i.key for i in items])
            fresh = next((n for n, i in enumerate(items) if i.key in known), len(items))
            shift += fresh
            below_mark = backlog is None and mark is not None and bool(items) and _ends(items[-1], mark)
            reached = fresh < len(items) or below_mark or (self.last is not None and self.last <= head)
        if not self.items:  # an empty listing says nothing of the backlog: keep the walk as it was
            return Reading([], self.first, backlog)
        if not reached:
            return Reading(list(self.items.values()), self.first, self._capped(backlog, mark, now, head))
        walked = self._walk(backlog, shift, head) if backlog is not None else None
        return Reading(list(self.items.values()), self.first, walked)

    def _capped(self, backlog: Backlog | None, mark: datetime | None, now: datetime, head: int) -> Backlog | None:
        """The cap stopped the head before any item stored before: a gap, walked on the next polls."""
        at = (head - 1) * self.size + len(self.pages[head]) - 1
        tail = tuple(self._keys(head)[-TAIL_KEYS:])
        pages = _plural(head, "page")
        if backlog is not None:
            log.warning(
                "source %s: read %s (max_pages %d) without reaching the items of the last poll, while a backlog "
                "walk was under way; the walk starts again below it (pages read again are not stored twice)",
                self.source_id,
                pages,
                self.budget,
            )
            return replace(
                backlog,
                at=at,
                page=head + 1,
                tail=tail,
                pages=backlog.pages + head,
                items=backlog.items + len(self.items),
                resume=self._resume_at(head),
            )
        if mark is None:
            log.info(
                "source %s: read %s (max_pages %d) and had no items before: older items are not fetched, its "
                "history starts here",
                self.source_id,
                pages,
                self.budget,
            )
            return None
        log.warning(
            "source %s: read %s (max_pages %d) without reaching items it had before; the rest of the backlog is "
            "deferred to the next poll (the walk goes back to what the poll of %s had seen)",
            self.source_id,
            pages,
            self.budget,
            _when(mark),
        )
        return Backlog(
            mark, now, at, head + 1, tail, pages=head, items=len(self.items), resume=self._resume_at(head)
        )

    def _resume_at(self, n: int) -> str:
        """Page n's URL, kept for the next poll, when the listing pages by links alone (see Backlog.resume)."""
        asked = self.asked.get(n)
        if asked is None or asked.params or self.plugin.page_request(self.cfg, 2) is not None:
            return ""
        return asked.url

    def _find(self, tail: tuple[str, ...]) -> tuple[int, int] | int | None:
        """Where the walk stopped, on this poll's pages: (page, index) of the tail item read last that is here,
        when nothing of the tail can follow it (it is the tail's end; or an item off the tail, or the listing's end,
        follows it: the tail's later items were withdrawn). A page number: the tail ends a page and may go on there.
        None: no tail item here."""
        rank = {key: r for r, key in enumerate(tail)}
        found = [(rank[i.key], n, j) for n, items in self.pages.items() for j, i in enumerate(items) if i.key in rank]
        if not found:
            return None
        r, n, j = max(found)
        if r == len(tail) - 1 or j < len(self.pages[n]) - 1 or n + 1 in self.pages or self.last == n:
            return n, j
        return n + 1

    def _locate(self, backlog: Backlog, head: int, limit: int) -> Backlog | tuple[Backlog, tuple[int, int]]:
        """Where to read on: after the tail, looked for on this poll's pages and on the page the new items at the
        head pushed it to (`backlog.at`, already moved); then on from there while the tail goes on (items listed
        inside the listing pushed it further), or else one page up (items withdrawn above it). Not found: below the
        head, reading again (with the head as the tail). Out of pages first: the backlog that looks on next poll."""
        guess = backlog.at // self.size + 1
        probes = [guess]
        resume = backlog.resume
        while True:
            where = self._find(backlog.tail)
            if isinstance(where, tuple):
                return backlog, where
            probes = [p for p in probes if self._unread(p)]
            if probes:
                probe = probes.pop(0)
            elif resume:  # the page that ended with the tail, as the last poll fetched it
                probe = max(self.pages, default=0) + 1
                self.links[probe], resume = Request(resume, (), probe), ""
                self.resumed = probe
            elif isinstance(where, int) and where not in self.unreachable:
                probe = where
            elif guess > 1 and self._unread(guess - 1):
                probe = guess = guess - 1
            else:
                break
            if self.fetched >= limit:
                log.info(
                    "source %s: backlog: where the last poll stopped is not on the pages read; page %d is looked at "
                    "next poll",
                    self.source_id,
                    probe,
                )
                return replace(backlog, at=(probe - 1) * self.size, page=probe)
            self._page(probe)
        log.warning(
            "source %s: backlog: the items where the last poll stopped are not where the new items pushed them "
            "(withdrawn from the listing?); the walk starts again below the head (pages read again are not "
            "stored twice)",
            self.source_id,
        )
        return replace(backlog, tail=tuple(self._keys(head)[-TAIL_KEYS:])), (head, len(self.pages[head]) - 1)

    def _walk(self, backlog: Backlog, shift: int, head: int) -> Backlog | None:
        """Resume the walk and read on to the mark: as many pages of items past the tail as the head left (at least
        one), after at most LOCATE_PAGES pages spent finding the tail (the page that ends with it, when no new item
        moved it, is read again: only an overlap proves nothing between was skipped)."""
        start = self.fetched
        allowance = max(1, self.budget - start)
        progress = replace(backlog, at=backlog.at + shift)  # the shift new items at the head pushed it down
        counted = set(backlog.tail)
        read: list[int] = []
        try:
            located = self._locate(progress, head, start + LOCATE_PAGES)
            if isinstance(located, Backlog):
                return replace(located, pages=backlog.pages + self.fetched - start)
            progress, (page, index) = located
            while True:
                items = self.pages[page][index + 1 :]
                if any(i.key not in counted for i in items):
                    read.append(page)
                known = set(self.known([i.key for i in items])) if items else set()
                fresh = [i.key for i in items if i.key not in known and i.key not in counted]
                counted.update(fresh)
                progress = replace(
                    progress,
                    at=(page - 1) * self.size + len(self.pages[page]) - 1,
                    page=page + 1,
                    tail=(*progress.tail, *(i.key for i in items))[-TAIL_KEYS:],
                    pages=backlog.pages + self.fetched - start,
                    items=progress.items + len(fresh),
                    resume=self._resume_at(page),
                )
                if any(_ends(i, backlog.mark) for i in items) or self.last == page:
                    log.info(
                        "source %s: backlog caught up: %s over %s since %s",
                        self.source_id,
                        _plural(progress.items, "item"),
                        _plural(progress.pages, "page"),
                        _when(backlog.since),
                    )
                    return None
                if len(read) >= allowance:
                    break
                page, index = page + 1, -1
                if self._page(page) is None:
                    log.info("source %s: backlog caught up at the end of the listing", self.source_id)
                    return None
        except SourceError as exc:
            log.warning(
                "source %s: backlog page %d failed, tried again next poll: %s", self.source_id, self.trying, exc
            )
            # a resume URL that fails (a cursor expired) is dropped: the walk then starts again below the head
            resume = "" if self.trying == self.resumed else progress.resume
            return replace(progress, pages=backlog.pages + self.fetched - start, resume=resume)
        log.info(
            "source %s: backlog: read %s (%s this poll), %s; the rest is deferred to the next poll (%s, %s since %s)",
            self.source_id,
            f"page {read[0]}" if len(read) == 1 else f"pages {read[0]}-{read[-1]}",
            _plural(self.fetched - start, "page"),
            _plural(progress.items - backlog.items, "new item"),
            _plural(progress.pages, "page"),
            _plural(progress.items, "item"),
            _when(backlog.since),
        )
        return progress


def renumber(url: str, page: int, wanted: int, size: int, first: str = "") -> str | None:
    """A link to page `page` made a link to page `wanted`: the query parameter whose value is that page's number
    (page=2), else its first item's offset (offset=10, start=10), takes the wanted page's; a parameter page 1's URL
    (`first`) has with the same value is no page's (size=10 beside a cursor). None: the link names its page some
    other way (an opaque cursor); that page is reached through the links only."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    same = set(parse_qsl(urlsplit(first).query, keep_blank_values=True)) if first else set()
    for old, new in ((str(page), str(wanted)), (str((page - 1) * size), str((wanted - 1) * size))):
        at = [i for i, (k, v) in enumerate(query) if v == old and (k, v) not in same]
        if len(at) == 1:
            query[at[0]] = (query[at[0]][0], new)
            return urlunsplit(parts._replace(query=urlencode(query)))
    return None


def _ends(item: Item, mark: datetime) -> bool:
    """An item dated before the mark (less a day): the poll of the mark had read it, and all below it."""
    return item.published is not None and _utc(item.published) < _utc(mark) - BACKLOG_MARGIN
