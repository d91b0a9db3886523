"""A one-shot pass (`treatywatch poll --once`): every source polled once, as many at a time as a daemon polls.

A pass is what cron runs, and what a desk runs by hand after editing a watchlist; one source after another made a
pass over 500 feeds take as long as their slowest responses added up. Sources are polled by POLL_WORKERS threads
(the fetcher spaces requests to one host across them, settings.per_host_delay), and with settings.poll_processes
the parsing, language identification and matching run in worker processes, as in the daemon. The outcomes come
back in the order of the sources asked for, each as soon as it and those before it are done, so the CLI prints
what it always printed, in the same order.

Polls overlap, but their items are stored by one thread, the pass's own, in the order of the sources: the pool's
threads fetch and read (`Runner.stage`), the calling thread stores each staged poll in turn (`Runner.store_staged`)
while they fetch the next ones, at most STAGED_AHEAD ahead. Which report of an event opens its alert and which joins
it as a follow-up is then the same in every pass over the same responses, as it was when a pass polled one source
after another. (Each poll thread used to wait for its own turn to store: every source handed the turn to the next
thread, and the thread woken had to win the interpreter back, a fifth of the pass's own CPU at 500 feeds.)

Each source is claimed in the store as the daemons' dispatchers claim it (store/claims.py): a source a daemon or
another pass is polling, or polled since this pass was invoked, is skipped, and the claim is held afterwards for
most of the way to its next turn.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from .app import POLL_WORKERS, App
from .pipeline import PollResult, Staged
from .schedule import hold_after_poll
from .workers import PollProcesses, processes

log = logging.getLogger("treatywatch.once")
# sources fetched and read ahead of the one being stored, at most: the pool's threads go on while the calling thread
# stores, and a pass over 50,000 sources never holds more than these in memory
STAGED_AHEAD = 4 * POLL_WORKERS


@dataclass(frozen=True)
class Outcome:
    """One source's part of a pass: its poll's result, or None when another process has it (its claim)."""

    source_id: str
    result: PollResult | None


def claim_and_stage(app: App, sid: str, since: datetime, dry_run: bool) -> Staged | None:
    """Claim `sid` and fetch and read it (`Runner.stage`); None when another process has it. A dry run stores
    nothing, so it claims nothing. The claim is handed back by `store_and_release`, or here if staging failed."""
    if not dry_run and not app.store.claim_source(sid, app.clock(), app.config.settings.lease, since):
        return None
    try:
        return app.runner.stage(sid, dry_run=dry_run)
    except BaseException:
        if not dry_run:
            now = app.clock()
            app.store.release_source(sid, now, hold_after_poll(None, now))
        raise


def store_and_release(app: App, sid: str, staged: Staged | None) -> Outcome:
    """A staged poll stored (`Runner.store_staged`) and its claim handed back, held for most of the time until its
    next turn."""
    if staged is None:
        return Outcome(sid, None)
    done: list[PollResult] = []
    try:
        done.append(app.runner.store_staged(staged))
    finally:
        if not staged.dry_run:
            now = app.clock()
            app.store.release_source(sid, now, hold_after_poll(done[0].next_due if done else None, now))
    return Outcome(sid, done[0])


def release_unstored(app: App, sid: str, staged: Staged | None) -> None:
    """A pass left early: a staged poll's claim handed back without storing it. Its source's validators were not
    saved, so the next poll fetches in full what this one read; nothing is lost."""
    if staged is not None and not staged.dry_run:
        now = app.clock()
        app.store.release_source(sid, now, hold_after_poll(None, now))


def run_pass(app: App, ids: list[str], since: datetime, dry_run: bool = False) -> Iterator[Outcome]:
    """Poll each of `ids` once, POLL_WORKERS at a time; the outcomes in the order of `ids`, each stored by the
    calling thread (see the module's docstring). Leaving the loop early (an error in the caller) starts no more
    polls and stores none of those fetched meanwhile."""
    if len(ids) <= 1:  # one source: no pool to start, no worker processes to pay for
        for sid in ids:
            yield store_and_release(app, sid, claim_and_stage(app, sid, since, dry_run))
        return
    workers = processes(app.config.settings.poll_processes)
    owned = app.runner.processes is None and workers > 0
    if owned:
        # forked now, before the pass's threads (cheap); or, spawned, at the first response to parse: a pass of
        # 304s does not pay for them
        app.runner.processes = PollProcesses(workers, app.config, lazy=True, watchlist=app.runner.watchlist)
        log.info("parsing, language identification and matching in up to %d worker processes", workers)
    try:
        with ThreadPoolExecutor(min(POLL_WORKERS, len(ids)), thread_name_prefix="poll") as pool:
            todo = iter(ids)
            ahead: deque[tuple[str, Future[Staged | None]]] = deque()

            def submit() -> None:
                for sid in itertools.islice(todo, 1):
                    ahead.append((sid, pool.submit(claim_and_stage, app, sid, since, dry_run)))

            for _ in range(STAGED_AHEAD):
                submit()
            try:
                while ahead:
                    sid, future = ahead.popleft()
                    staged = future.result()
                    submit()  # the pool's FIFO queue and this window keep the sources in the order asked for
                    yield store_and_release(app, sid, staged)
            finally:  # left early: what is staged is handed back unstored, what has not started never starts
                for sid, future in ahead:
                    if not future.cancel():
                        with contextlib.suppress(Exception):  # a failed stage released its claim itself
                            release_unstored(app, sid, future.result())
    finally:
        if owned and app.runner.processes is not None:
            app.runner.processes.close()
            app.runner.processes = None
