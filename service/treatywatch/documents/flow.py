"""The documents' job: take queued documents, fetch them through the sources' fetcher (size cap, timeout, per-host
politeness), read them (`read_document`, or trafilatura for an article), store the text, and match their items again
with it as the body.

What a read body changes goes through the alert path the poll uses:
- an item already in an alert: the alert gains the subject agreements the act's text names, and its report is news
  again (a follow-up "the act's text names: …", with page and line);
- an item in no alert: a watch that the body fires (only where the watch allows the body, `fields:`) opens or
  joins an alert as a poll's report would;
- nothing twice: each item is marked with the content hash it was matched with, and a URL is fetched once.

A fetch failure is retried with backoff (settings.document_retry_base, doubling) and after
settings.document_attempts becomes the item's note "document unreadable: …"; it is never the source's failure.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..alerts import Report, plan_alerts
from ..config.policy import age_cutoff
from ..errors import FetchError, NotFoundError, SourceError, StoreConflict, TooLargeError
from ..items import Item
from ..matching import Match
from ..notify.routing import plan_deliveries, route
from ..retry import backoff
from ..sources.base import Request, SourceConfig
from ..sources.fetch import WHOLE_RESPONSE_FACTOR, FetchLimits
from ..store.documents import BodyNews, BodyOutcome, DocumentWant, DocumentWork
from ..store.models import StoredItem, TextName
from .models import DocumentLimits, DocumentText
from .reader import read_document

if TYPE_CHECKING:
    from ..pipeline import Runner

log = logging.getLogger("treatywatch.documents")

Reader = Callable[[bytes, DocumentLimits, Sequence[str]], DocumentText]
# how the matcher's explanation names a place in the body (matching/reading.py): "body p. 2, line 14: …"
BODY_REASON = "body p."
# documents one pass of the job takes: each may cost a minute of OCR, and the job must not hold a worker for long
PER_PASS = 4


@dataclass
class DocumentStats:
    """What one pass did, for the log and `treatywatch documents --read`."""

    read: int = 0
    cached: int = 0  # the same bytes read before under another URL: their text reused
    failed: int = 0  # fetch failed; retried later
    unreadable: int = 0
    opened: int = 0
    followups: int = 0
    urls: list[str] = field(default_factory=list)


def document_wants(cfg: SourceConfig, items: Sequence[Item], cutoff: datetime | None) -> list[DocumentWant]:
    """The documents to queue for these new or revised items of a poll: an act's PDF (unless the source says
    `documents: false`), the item's own page where the source asks for articles. An item too old to alert
    (published before `cutoff`) gets none: OCR is spent on what can reach a desk."""
    out = []
    for item in items:
        if cutoff is not None and item.published is not None and item.published < cutoff:
            continue
        act = item.act
        if act is not None and act.document_url and cfg.documents is not False:
            out.append(DocumentWant(item, act.document_url, "document"))
        if cfg.fetch_article and item.link.startswith(("http://", "https://")):
            out.append(DocumentWant(item, item.link, "article"))
    return out


def text_names(
    before: Sequence[Match], after: Sequence[Match], alert_agreements: frozenset[str]
) -> tuple[TextName, ...]:
    """The subject agreements the body adds to an alert: named by the matches with the body, not by the alert yet."""
    had = set(alert_agreements) | {a.id for m in before for a in m.agreements if a.subject}
    out: dict[str, TextName] = {}
    for m in after:
        for a in m.agreements:
            if a.subject and a.id not in had and a.id not in out:
                # where the text names it ("body p. 2, line 14: …"); the other reasons are the match's to explain
                places = tuple(r for r in a.reasons if r.startswith(BODY_REASON))
                out[a.id] = TextName(a.id, a.title, places or a.reasons)
    return tuple(out.values())


class DocumentJob:
    """Built on the runner, whose config, watchlist, store, fetcher and clock it shares (a reload swaps them there)."""

    def __init__(
        self,
        runner: Runner,
        reader: Reader = read_document,
        limits: DocumentLimits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.runner = runner
        self.reader = reader
        self._limits = limits
        self.rng = rng or random.Random()

    @property
    def limits(self) -> DocumentLimits:
        """The bounds of one document: the settings' (read at each use: a reload may change them), or the test's."""
        if self._limits is not None:
            return self._limits
        s = self.runner.config.settings
        return replace(
            DocumentLimits(),
            max_bytes=s.document_max_bytes,
            max_pages=s.document_max_pages,
            timeout_s=s.document_timeout,
            memory_mb=s.document_memory_mb,
        )

    # -- one pass ------------------------------------------------------------------------------------------------
    def run_once(self, limit: int = PER_PASS) -> DocumentStats:
        """Claim up to `limit` due documents and settle each; a document's trouble is its own note."""
        stats = DocumentStats()
        for _ in range(limit):  # one claim at a time, each held for as long as one document may take
            claimed = self.runner.store.claim_documents(self.runner.clock(), 1, self._hold())
            if not claimed:
                break
            stats.urls.append(claimed[0].url)
            self.process(claimed[0], stats)
        if stats.urls:
            log.info(
                "documents: %d read, %d from the cache, %d unreadable, %d to retry; %d alerts opened, %d follow-ups",
                stats.read,
                stats.cached,
                stats.unreadable,
                stats.failed,
                stats.opened,
                stats.followups,
            )
        return stats

    def run_all(self, limit: int = 1000) -> DocumentStats:
        """Every due document, pass after pass (`poll --once` and `documents --read`): a one-shot run is complete."""
        total = DocumentStats()
        while len(total.urls) < limit:
            stats = self.run_once(min(PER_PASS, limit - len(total.urls)))
            if not stats.urls:
                break
            for name in ("read", "cached", "failed", "unreadable", "opened", "followups"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            total.urls += stats.urls
        return total

    def _hold(self) -> float:
        """How long a claim on a document lasts: its whole fetch, its reading process's bound, and a margin."""
        fetch = self.runner.config.settings.http_timeout * WHOLE_RESPONSE_FACTOR
        return max(self.runner.store.lease, fetch + self.limits.timeout_s + 60.0)

    def process(self, work: DocumentWork, stats: DocumentStats) -> None:
        store, now = self.runner.store, self.runner.clock()
        items = [store.get_item(d.item_id) for d in store.document_items(work.url)]
        if not items:  # its items were removed: nothing to read it for
            store.document_failed(work.url, "no item refers to it any more", None, now)
            return
        try:
            data = self._fetch(work, items[0].item)
        except TooLargeError as exc:  # the same bytes every time: given up at once, not after hours of retries
            self._failed(work, str(exc), stats, final=True)
            return
        except SourceError as exc:
            self._failed(work, str(exc), stats)
            return
        fetched_at = self.runner.clock()
        text = self._read(work, data, items[0].item, stats)
        if text.state == "unreadable":
            stats.unreadable += 1
            log.warning("document %s: %s (items %s)", work.url, text.note, ", ".join(str(i.id) for i in items))
        self.settle(work.url, text, fetched_at, stats)

    def _fetch(self, work: DocumentWork, item: Item) -> bytes:
        """Through the sources' fetcher, with the item's source's timeout, headers and proxy, and the document cap."""
        config = self.runner.config
        try:
            cfg = config.source(item.source_id)
            timeout, headers, proxy = cfg.timeout, tuple(cfg.headers.items()), cfg.proxy
            redirects = cfg.max_redirects
        except NotFoundError:  # the source left the configuration; its queued documents are still read
            timeout, headers, proxy, redirects = None, (), None, None
        limits = FetchLimits(
            timeout=timeout or config.settings.http_timeout,
            max_bytes=self.limits.max_bytes,
            headers=headers,
            proxy=proxy,
            max_redirects=redirects,
        )
        response = self.runner.fetcher.fetch(Request(work.url), limits)
        if response.status >= 300:
            raise FetchError(f"HTTP {response.status} from {work.url}")
        return response.content

    def _read(self, work: DocumentWork, data: bytes, item: Item, stats: DocumentStats) -> DocumentText:
        """The text of these bytes: from the cache when the same bytes were read before, else read now."""
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        cached = self.runner.store.read_by_hash(sha)
        if cached is not None:
            stats.cached += 1
            return cached
        if work.kind == "article" and b"%PDF-" not in data[:1024]:  # a story whose link is a PDF is read as one
            from .article import read_article

            text = read_article(data, work.url, self.limits)
        else:
            text = self.reader(data, self.limits, self._languages(item))
        stats.read += text.state != "unreadable"
        return text

    def _languages(self, item: Item) -> tuple[str, ...]:
        """The OCR's languages: the item's (the poll read it), else its source's, and English, whose letters acts of
        every language quote (names, codes, addresses); without either, Russian and English. Fewer languages read
        faster: never all six."""
        language = item.language
        if not language:
            try:
                language = self.runner.config.source(item.source_id).language
            except NotFoundError:
                language = None
        return tuple(dict.fromkeys((language or "ru", "en")))

    def _failed(self, work: DocumentWork, error: str, stats: DocumentStats, final: bool = False) -> None:
        s, now = self.runner.config.settings, self.runner.clock()
        attempts = work.attempts + 1
        if final or attempts >= s.document_attempts:
            note = f"document unreadable: {error}" + ("" if final else f" (after {attempts} attempts)")
            log.warning("document %s: %s", work.url, note)
            self.runner.store.document_failed(work.url, note, None, now)
            stats.unreadable += 1
            return
        delay = backoff(attempts, s.document_retry_base, s.document_retry_max, self.rng)
        log.info("document %s: fetch failed (attempt %d), retry in %.0fs: %s", work.url, attempts, delay, error)
        self.runner.store.document_failed(work.url, error, now + timedelta(seconds=delay), now)
        stats.failed += 1

    # -- matching again ------------------------------------------------------------------------------------------
    def settle(self, url: str, text: DocumentText, fetched_at: datetime, stats: DocumentStats) -> None:
        """Store the text and match its items again, under the runner's ingest lock (alert planning never runs
        beside a poll's); a commit that meets another process's is redone once from a fresh read."""
        for attempt in (1, 2):
            try:
                with self.runner.ingesting():
                    done = self.runner.store.commit_document(
                        url, text, fetched_at, self.runner.clock(), self._outcomes(url, text)
                    )
                break
            except StoreConflict:
                if attempt == 2:
                    raise
        stats.opened += done.opened
        stats.followups += done.followups

    def _outcomes(self, url: str, text: DocumentText) -> list[BodyOutcome]:
        store = self.runner.store
        if text.state == "unreadable":
            return []
        out = []
        for link in store.document_items(url):
            if link.matched_sha256 == text.sha256:
                continue  # matched with this very text before: nothing changes, nothing is sent twice
            stored = store.get_item(link.item_id)
            body = "\f".join(
                [d.body for d in store.item_documents(link.item_id) if d.url != url and d.body] + [text.body()]
            )
            out.append(self._outcome(stored, body, link.quiet))
        return out

    def _outcome(self, stored: StoredItem, body: str, quiet: bool) -> BodyOutcome:
        """What the body changes for one item (pure but for reads of the store)."""
        runner, now = self.runner, self.runner.clock()
        settings = runner.config.settings
        item = stored.item.with_(body=body)
        matches = tuple(runner.watchlist.match(item))
        before = tuple(runner.watchlist.match(stored.item))
        base = BodyOutcome(item, stored.id, stored.revision, matches)
        alerts = runner.store.item_alerts(stored.id)
        if alerts:
            news = []
            for alert_id, agreements in alerts.items():
                names = text_names(before, matches, agreements)
                if not names:
                    continue
                fired = [m for m in matches if any(a.id in {n.id for n in names} for a in m.agreements)]
                watches = frozenset(m.watch_id for m in fired)
                severity = max(fired, key=lambda m: _rank(m.severity)).severity
                specs = route(runner.config.subscribers, watches, severity, "followup", now, settings.followup_delay)
                news.append(BodyNews(alert_id, names, watches, specs))
                base = BodyOutcome(item, stored.id, stored.revision, matches, tuple(news))
            return base
        if not matches:
            return base
        if quiet or self._too_old(item, now):
            return BodyOutcome(item, stored.id, stored.revision, matches, plan=plan_alerts([], []), quiet=True)
        plan = plan_alerts(
            [Report(item, matches)], runner.store.open_alerts(now - timedelta(seconds=settings.event_window))
        )
        for_new, for_attach = plan_deliveries(runner.config.subscribers, plan, now, settings.followup_delay)
        return BodyOutcome(item, stored.id, stored.revision, matches, plan=plan, for_new=for_new, for_attach=for_attach)

    def _too_old(self, item: Item, now: datetime) -> bool:
        try:
            cutoff = age_cutoff(self.runner.config, self.runner.config.source(item.source_id), now)
        except NotFoundError:
            return False
        return cutoff is not None and item.published is not None and item.published < cutoff


def _rank(severity: str) -> int:
    from ..config.models import SEVERITY_RANK

    return SEVERITY_RANK[severity]

