"""The pipeline runner: the one place where fetching, storing, matching and queueing meet."""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .alerts import Report, plan_alerts
from .config.models import Config
from .config.policy import age_cutoff, quiet_watches
from .documents.flow import document_wants
from .errors import SourceError, StoreConflict
from .items import Item
from .matching import Watchlist
from .matching.language import LanguageStage
from .metrics import Metrics
from .notify.routing import plan_deliveries
from .retry import backoff
from .schedule import hold_after_poll, next_turn
from .sources.base import (
    Page,
    Request,
    Response,
    SourceConfig,
    SourceType,
    reads_listing,
)
from .sources.fetch import Fetcher, FetchLimits, Validators
from .sources.listing import Backlog, ListingReader, Reading
from .sources.refcache import ReferenceCache
from .sources.registry import SOURCE_TYPES
from .store import KnownItem, SourceState, SqlStore
from .store.claims import Release
from .workers import Analysed, PollProcesses, analyse, parse_response

log = logging.getLogger("treatywatch.pipeline")


@dataclass
class PollResult:
    source_id: str
    items: list[Item] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    alerts: int = 0
    followups: int = 0
    not_modified: bool = False
    error: str | None = None
    flagged_empty: bool = False
    # the source's first successful poll, kept quiet: items that would have alerted without the baseline
    baseline: bool = False
    quieted: int = 0
    # a paging source's backlog that the page cap deferred to the next polls (None: none left)
    backlog: Backlog | None = None
    # the source's next turn, as stored: its schedule after a poll, its retry date after a failure (None: dry run)
    next_due: datetime | None = None
    # the poll's commit handed the source's claim back (asked with `release`): the poller has nothing left to do
    released: bool = False


class Runner:
    """Built by the CLI with every dependency, so tests control the network, the disk and the clock."""

    def __init__(
        self,
        config: Config,
        watchlist: Watchlist,
        store: SqlStore,
        fetcher: Fetcher,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.watchlist = watchlist
        self.store = store
        self.fetcher = fetcher
        self.clock = clock
        self.rng = rng or random.Random()
        self._ingest_lock = threading.Lock()
        self.metrics = metrics or Metrics()
        self.languages = LanguageStage()  # survives reloads: its model and cache do not depend on the watchlist
        self.references = ReferenceCache()  # a portal's dictionaries, fetched a day at a time (sources/refcache.py)
        # settings.poll_processes: parsing, language and matching in worker processes (the daemon sets it)
        self.processes: PollProcesses | None = None

    def _limits(self, cfg: SourceConfig) -> FetchLimits:
        s = self.config.settings
        return FetchLimits(
            timeout=cfg.timeout or s.http_timeout,
            max_bytes=cfg.max_bytes or s.max_response_bytes,
            headers=tuple(cfg.headers.items()),
            proxy=cfg.proxy,
            max_redirects=cfg.max_redirects,
        )

    def _fetch(
        self, source_id: str, request: Request, limits: FetchLimits, validators: Validators | None = None
    ) -> Response:
        """Timed, failures included: a source that times out is the latency worth seeing."""
        started = time.perf_counter()
        try:
            return self.fetcher.fetch(request, limits, validators or Validators())
        finally:
            self.metrics.fetched(source_id, time.perf_counter() - started)

    def _parse(
        self,
        source_id: str,
        cfg: SourceConfig,
        plugin: SourceType,
        read: dict[str, Analysed] | None,
        request: Request,
        response: Response,
    ) -> Page:
        """`read` (poll processes, a source with nothing stored: every item is new): the page's items are read and
        matched in the same round trip and kept there by key, so they cross the pipe once."""
        if self.processes is None:
            return parse_response(source_id, cfg, plugin, request, response)
        # in a worker process: values there and back, this thread off the GIL
        if read is None:
            return self.processes.parse(source_id, cfg, request, response)
        page, analysed = self.processes.read(source_id, cfg, request, response)
        read.update((a.item.key, a) for a in analysed)
        return page

    def ingesting(self) -> threading.Lock:
        """Held while alerts are planned and committed: a poll's, or a read document's (documents/flow.py)."""
        return self._ingest_lock

    def _bodies(self, fresh: list[Item], known: dict[str, KnownItem]) -> dict[str, str]:
        """The text of the document read earlier for each revised item, by key: its matches still see the act's
        operative part."""
        out = {}
        for item in fresh:
            if item.key in known and (body := self.store.item_body(known[item.key].id)):
                out[item.key] = body
        return out

    def _read_ahead(
        self, source_id: str, items: list[Item], read: dict[str, Analysed] | None, watchlist: Watchlist
    ) -> Ahead | None:
        """With poll processes: the items that look new or changed now, read and matched in a worker before the
        ingest lock is taken (the commit redoes in-process only what changed meanwhile); `read`: as the parse did.
        `watchlist`: the runner's when the poll began (a reload since: the commit matches again in-process)."""
        if self.processes is None or not items:
            return None
        if read:
            return Ahead(watchlist, {key: (a, "") for key, a in read.items()})
        known = self.store.known_items(source_id, [i.key for i in items])
        fresh = _fresh(items, known)
        if not fresh:
            return None
        bodies = self._bodies(fresh, known)
        done = self.processes.analyse(fresh, bodies)
        return Ahead(watchlist, {a.item.key: (a, bodies.get(a.item.key, "")) for a in done})

    def _analysed(self, fresh: list[Item], bodies: dict[str, str], ahead: Ahead | None) -> list[Analysed]:
        """The fresh items read and matched: as the workers did ahead where the item, its body and the watchlist
        are still the same, in-process otherwise."""
        if ahead is None or ahead.watchlist is not self.watchlist:
            return analyse(self.languages, self.watchlist, fresh, bodies)

        def fits(item: Item) -> bool:
            got = ahead.read.get(item.key)
            return (
                got is not None and got[0].item.content_hash == item.content_hash and got[1] == bodies.get(item.key, "")
            )

        todo = [i for i in fresh if not fits(i)]
        redone = {a.item.key: a for a in analyse(self.languages, self.watchlist, todo, bodies)} if todo else {}
        return [redone[i.key] if i.key in redone else ahead.read[i.key][0] for i in fresh]

    def fetch_items(
        self,
        source_id: str,
        state: SourceState,
        now: datetime | None = None,
        read: dict[str, Analysed] | None = None,
    ) -> Reading:
        """Fetch and parse what the source has new: one request, or for a paging source its head until known
        items and then the backlog its cursor says is left (`ListingReader`). `read`: see _parse."""
        cfg = self.config.source(source_id)
        plugin = SOURCE_TYPES[cfg.type]
        limits = self._limits(cfg)
        fetch = functools.partial(self._fetch, source_id, limits=limits)
        cfg = self.references.bind(plugin, cfg, fetch, now or self.clock(), self.config.settings.state_dir)
        validators = Validators(state.etag, state.last_modified)
        parse = functools.partial(self._parse, source_id, cfg, plugin, read)
        if reads_listing(plugin, cfg):
            reader = ListingReader(
                source_id,
                plugin,
                cfg,
                lambda request, conditional: self._fetch(
                    source_id, request, limits, validators if conditional else None
                ),
                parse,
                lambda keys: self.store.known_items(source_id, keys).keys(),
            )
            mark = state.last_success if state.total_items else None  # a gap needs something stored before it
            return reader.read(state.cursor, mark, now or self.clock())
        request = plugin.first_request(cfg)
        first = self._fetch(source_id, request, limits, validators)
        if first.status == 304:
            return Reading([], first, None)
        return Reading(list({i.key: i for i in parse(request, first).items}.values()), first, None)

    def poll(
        self,
        source_id: str,
        dry_run: bool = False,
        due: datetime | None = None,
        release: bool = False,
        state: SourceState | None = None,
    ) -> PollResult:
        """One poll of one source (`due`: the turn it was claimed for, which its next turn follows; `state`: its
        state, when the claim read it). Never raises for source trouble: it is recorded, logged once and retried.
        `release`: see store_staged."""
        return self.store_staged(self.stage(source_id, dry_run, due, state), release)

    def stage(
        self, source_id: str, dry_run: bool = False, due: datetime | None = None, state: SourceState | None = None
    ) -> Staged:
        """The first half of `poll`: the source fetched and read; nothing written to the store yet. A one-shot pass
        stores its sources' staged polls in their order from one thread while its pool fetches the next ones, and
        reads each source's `state` as it claims it: the pool's threads never wait for the store, nor it for them
        (on one SQLite connection, each did: half of a cold pass's storing was spent waiting)."""
        started = time.perf_counter()
        result = PollResult(source_id)
        pending = self._fetched(source_id, dry_run, due, result, state)
        if isinstance(pending, SourceState):  # a failure or a 304: only the source's state to save
            return Staged(result, started, dry_run, None, state=pending)
        return Staged(result, started, dry_run, pending)

    def store_staged(self, staged: Staged, release: bool = False) -> PollResult:
        """The second half of `poll`: a staged poll's items stored, matched and their alerts planned, in one
        transaction under the ingest lock. `release`: the source's claim is handed back in that transaction, held
        for most of the way to its next turn (schedule.hold_after_poll), and the result says so (`released`): one
        commit a poll, not two (a 304's was a sixth of its CPU, and on PostgreSQL a round trip)."""
        result, pending = staged.result, staged.pending
        back = None
        if release and not staged.dry_run:
            now = self.clock()
            back = Release(now, hold_after_poll(result.next_due, now))
        if staged.state is not None:  # a failure's or a 304's: the source's state alone
            self.store.save_source_state(staged.state, back)
        if pending is not None:
            self._store(result, pending, back)
        result.released = back is not None  # not a dry run: a state or items were stored, with the claim
        if not staged.dry_run:  # a dry run is the operator trying a source, not the service's work
            source_id = result.source_id
            outcome = "error" if result.error else "not_modified" if result.not_modified else "ok"
            self.metrics.polled(source_id, outcome, result.new, time.perf_counter() - staged.started)
        return result

    def _fetched(
        self, source_id: str, dry_run: bool, due: datetime | None, result: PollResult, state: SourceState | None
    ) -> Pending | SourceState | None:
        """Fetch and read: what is left to store; for a failure or a 304, only the source's new state to save; for
        a dry run, nothing. `state`: the source's, read already."""
        state = state or self.store.source_state(source_id)
        now = self.clock()
        settings = self.config.settings
        # a dry run shows what the source holds now: no If-None-Match / If-Modified-Since, or a 304 would show nothing
        fetched_as = replace(state, etag=None, last_modified=None) if dry_run else state
        try:
            # a source with nothing stored: its items are all new, read and matched as they are parsed
            read: dict[str, Analysed] | None = {} if self.processes and not (dry_run or state.total_items) else None
            watchlist = self.watchlist
            reading = self.fetch_items(source_id, fetched_as, now, read)
            ahead = None if dry_run else self._read_ahead(source_id, reading.items, read, watchlist)
        except SourceError as exc:
            failures = state.consecutive_failures + 1
            delay = backoff(
                failures, settings.source_backoff_base, settings.source_backoff_max, self.rng, exc.retry_after
            )
            result.error = str(exc)
            log.warning("source %s failed (%d in a row), retry in %.0fs: %s", source_id, failures, delay, exc)
            result.next_due = now + timedelta(seconds=delay)
            if dry_run:
                return None
            return replace(
                state, last_attempt=now, consecutive_failures=failures, last_error=str(exc), next_due=result.next_due
            )
        items, first, result.backlog = reading.items, reading.first, reading.backlog
        result.items = items
        if dry_run:
            return None
        result.next_due = next_turn(self.config.source(source_id).every, now, due)
        base_state = replace(
            state,
            last_attempt=now,
            last_success=now,
            consecutive_failures=0,
            last_error=None,
            next_due=result.next_due,
            cursor=reading.backlog.to_cursor() if reading.backlog else None,
        )
        if first is not None and first.status == 304:
            result.not_modified = True
            return base_state
        return Pending(state, base_state, items, first, now, ahead)

    def _store(self, result: PollResult, pending: Pending, release: Release | None = None) -> None:
        # Fetching runs in parallel; deciding what is new and which alert it joins must not, or two sources
        # reporting one event at the same moment would both start an alert. Another process (poll --once beside
        # the daemon) may store some of these items first: its commit wins, ours is redone from a fresh read.
        source_id, items = result.source_id, pending.items
        for attempt in (1, 2):
            try:
                with self._ingest_lock:
                    self._ingest(source_id, pending, result, release)
                break
            except StoreConflict:
                if attempt == 2:
                    raise
                log.info("source %s: another process stored some of these items first; reading again", source_id)
        if result.baseline:
            log.info(
                "source %s baseline: %d items stored, %d would have matched; alerts start with what comes next",
                source_id,
                result.new,
                result.quieted,
            )
        log.info(
            "source %s: %d items, %d new, %d changed, %d alerts, %d follow-ups",
            source_id,
            len(items),
            result.new,
            result.changed,
            result.alerts,
            result.followups,
        )

    def _ingest(self, source_id: str, pending: Pending, result: PollResult, release: Release | None = None) -> None:
        """Decide what is new, match it, plan alerts and commit it all in one transaction. The first successful
        poll of a source is its baseline: matched, stored, but the watches it keeps quiet open nothing."""
        state, items, first, now = pending.state, pending.items, pending.first, pending.now
        settings = self.config.settings
        cfg = self.config.source(source_id)
        if adopted := self.store.adopt_keys(source_id, {i.key: i.legacy_key for i in items if i.legacy_key}):
            log.info("source %s: %d stored items took keys that do not hold the feed's URL", source_id, adopted)
        known = self.store.known_items(source_id, [i.key for i in items])
        # new and changed items only, each read for its language (the source's is the prior) before matching; the
        # language model reads the poll's texts together
        fresh = _fresh(items, known)
        bodies = self._bodies(fresh, known)
        analysed = self._analysed(fresh, bodies, pending.ahead)
        changed = [
            (a.item.with_(body=bodies[a.item.key]) if a.item.key in bodies else a.item, known.get(a.item.key))
            for a in analysed
        ]
        # seen again unchanged: only last_seen moves, in the same transaction as the rest of the poll
        seen = [known[i.key].id for i in items if i.key in known and known[i.key].content_hash == i.content_hash]
        result.new = sum(1 for _, k in changed if k is None)
        result.changed = len(changed) - result.new
        quiet = quiet_watches(self.config, cfg) if state.last_success is None else frozenset()
        result.baseline, result.quieted = bool(quiet), 0
        reports = []
        cutoff = age_cutoff(self.config, cfg, now)
        kept_quiet: list[Report] = []  # matched and stored like the rest, but they open nothing
        for (item, _), read in zip(changed, analysed, strict=True):
            matches = read.matches
            if not matches:
                continue
            too_old = cutoff is not None and item.published is not None and item.published < cutoff
            held = tuple(m for m in matches if too_old or m.watch_id in quiet)
            loud = tuple(m for m in matches if not (too_old or m.watch_id in quiet))
            if loud:
                reports.append(Report(item, loud))
            if held:
                kept_quiet.append(Report(item, held))
                result.quieted += not too_old
        # no report, no alert to join: the open ones are read only when a poll has something to add (most do not)
        open_alerts = self.store.open_alerts(now - timedelta(seconds=settings.event_window)) if reports else []
        plan = plan_alerts(reports, open_alerts)
        for_new, for_attach = plan_deliveries(self.config.subscribers, plan, now, settings.followup_delay)
        result.alerts = len(plan.new)
        started_alerts = [n.watches for n in plan.new]
        was = state.items_last_seen or 0
        result.flagged_empty = not items and (was > 0 or state.empty_flag)
        if result.flagged_empty and not state.empty_flag:
            log.warning("source %s returned no items where it had %d: selector or layout changed?", source_id, was)
        elif not items and state.last_success is None:
            log.warning("source %s returned no items on its first poll; check it with poll --dry-run", source_id)
        new_state = replace(
            pending.base_state,
            etag=first.headers.get("etag") if first else None,
            last_modified=first.headers.get("last-modified") if first else None,
            items_last_seen=len(items),
            empty_flag=result.flagged_empty,
            total_items=state.total_items + result.new,
        )
        result.followups = self.store.commit_poll(
            new_state, changed, reports, plan, for_new, for_attach, now, seen=seen, quiet=kept_quiet,
            documents=[] if quiet else document_wants(cfg, [i for i, _ in changed], cutoff), release=release,
        )  # fmt: skip
        for watches in started_alerts:  # counted once committed: a StoreConflict redo must not count twice
            for watch in sorted(watches):
                self.metrics.alerts.labels(watch).inc()


@dataclass(frozen=True)
class Pending:
    """What a poll fetched and read that is still to be stored: the source's state before, its state after the
    poll (`_ingest` adds the validators and counts), the items, the first response, the poll's time, and the items
    read ahead in a worker."""

    state: SourceState
    base_state: SourceState
    items: list[Item]
    first: Response | None
    now: datetime
    ahead: Ahead | None


@dataclass(frozen=True)
class Staged:
    """A poll fetched and read (`Runner.stage`): `pending`, what is left to store, or `state`, the source's new
    state alone (a failure, a 304); neither for a dry run."""

    result: PollResult
    started: float
    dry_run: bool
    pending: Pending | None
    state: SourceState | None = None


@dataclass(frozen=True)
class Ahead:
    """A poll's fresh items as a worker read and matched them, by key, each with the body it was matched with,
    and the watchlist they were meant for (a reload in between: read again in-process)."""

    watchlist: Watchlist
    read: dict[str, tuple[Analysed, str]]


def _fresh(items: list[Item], known: dict[str, KnownItem]) -> list[Item]:
    """New items and those whose content changed since stored: the ones read for language and matched."""
    return [i for i in items if i.key not in known or known[i.key].content_hash != i.content_hash]
