"""A one-shot pass (`treatywatch poll --once`): every source polled once, as many at a time as a daemon polls.

A pass is what cron runs, and what a desk runs by hand after editing a watchlist; one source after another made a
pass over 500 feeds take as long as their slowest responses added up. Sources are polled by POLL_WORKERS threads
(the fetcher spaces requests to one host across them, settings.per_host_delay), and with settings.poll_processes
the parsing, language identification and matching run in worker processes, as in the daemon. The outcomes come
back in the order of the sources asked for, each as soon as it and those before it are done, so the CLI prints
what it always printed, in the same order.

Polls overlap, but each source stores its items only once every source before it has finished (`InTurn`): which
report of an event opens its alert and which joins it as a follow-up is then the same in every pass over the same
responses, as it was when a pass polled one source after another.

Each source is claimed in the store as the daemons' dispatchers claim it (store/claims.py): a source a daemon or
another pass is polling, or polled since this pass was invoked, is skipped, and the claim is held afterwards for
most of the way to its next turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from .app import POLL_WORKERS, App
from .pipeline import PollResult
from .schedule import hold_after_poll
from .workers import PollProcesses, processes

log = logging.getLogger("treatywatch.once")


@dataclass(frozen=True)
class Outcome:
    """One source's part of a pass: its poll's result, or None when another process has it (its claim)."""

    source_id: str
    result: PollResult | None


class InTurn:
    """The order in which a pass's sources store their items: the order they were asked for. A source waits at its
    turn until every source before it is done (stored, failed, not modified or skipped); fetching and reading go on
    meanwhile. A pool's threads take the sources in order, so every source waited for has been started."""

    def __init__(self, ids: list[str]) -> None:
        self._place = {sid: k for k, sid in enumerate(ids)}
        self._done: set[int] = set()
        self._next = 0  # every source before this place is done
        self._lock = threading.Lock()
        # the source waiting at each place: when the turn moves, only the one whose turn it is now is woken (one
        # condition for all woke every waiting thread at every move, to find all but one still waiting)
        self._waiting: dict[int, threading.Event] = {}

    @contextmanager
    def turn(self, sid: str) -> Iterator[None]:
        place = self._place.get(sid)
        if place is not None:
            with self._lock:
                wake = None if self._next >= place else self._waiting.setdefault(place, threading.Event())
            if wake is not None:
                wake.wait()
        yield

    def done(self, sid: str) -> None:
        with self._lock:
            self._done.add(self._place[sid])
            while self._next in self._done:
                self._next += 1
            # a place passed over is done, so nobody waits there: only the source at the new turn may
            wake = self._waiting.pop(self._next, None)
        if wake is not None:
            wake.set()


def poll_one(app: App, sid: str, since: datetime, dry_run: bool) -> Outcome:
    """Claim `sid`, poll it, hand the claim back held for most of the time until its next turn. A dry run stores
    nothing, so it claims nothing."""
    if not dry_run and not app.store.claim_source(sid, app.clock(), app.config.settings.lease, since):
        return Outcome(sid, None)
    done: list[PollResult] = []
    try:
        done.append(app.runner.poll(sid, dry_run=dry_run))
    finally:
        if not dry_run:
            now = app.clock()
            app.store.release_source(sid, now, hold_after_poll(done[0].next_due if done else None, now))
    return Outcome(sid, done[0])


def run_pass(app: App, ids: list[str], since: datetime, dry_run: bool = False) -> Iterator[Outcome]:
    """Poll each of `ids` once, POLL_WORKERS at a time; the outcomes in the order of `ids`. Leaving the loop early
    (an error in the caller) lets the polls under way finish and starts no more."""
    if len(ids) <= 1:  # one source: no pool to start, no worker processes to pay for
        for sid in ids:
            yield poll_one(app, sid, since, dry_run)
        return
    workers = processes(app.config.settings.poll_processes)
    owned = app.runner.processes is None and workers > 0
    if owned:
        # forked now, before the pass's threads (cheap); or, spawned, at the first response to parse: a pass of
        # 304s does not pay for them
        app.runner.processes = PollProcesses(workers, app.config, lazy=True, watchlist=app.runner.watchlist)
        log.info("parsing, language identification and matching in up to %d worker processes", workers)
    order = InTurn(ids)

    def in_turn(sid: str) -> Outcome:
        try:
            return poll_one(app, sid, since, dry_run)
        finally:
            order.done(sid)

    plain, app.runner.turn = app.runner.turn, order.turn
    try:
        with ThreadPoolExecutor(min(POLL_WORKERS, len(ids)), thread_name_prefix="poll") as pool:
            futures = [pool.submit(in_turn, sid) for sid in ids]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
    finally:
        app.runner.turn = plain
        if owned and app.runner.processes is not None:
            app.runner.processes.close()
            app.runner.processes = None
