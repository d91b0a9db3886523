"""A one-shot pass (`treatywatch poll --once`): every source polled once, as many at a time as a daemon polls.

A pass is what cron runs, and what a desk runs by hand after editing a watchlist; one source after another made a
pass over 500 feeds take as long as their slowest responses added up. Sources are polled by POLL_WORKERS threads
(the fetcher spaces requests to one host across them, settings.per_host_delay), and with settings.poll_processes
the parsing, language identification and matching run in worker processes, as in the daemon. The outcomes come
back in the order of the sources asked for, each as soon as it and those before it are done, so the CLI prints
what it always printed, in the same order.

Polls overlap, but what a pass writes to the store is written by one thread, the pass's own, in the order of the
sources: it claims each source and reads its state as it hands it to the pool, whose threads fetch and read it
(`Runner.stage`, which writes nothing to the store; a claim renewed is the exception, below), and it stores each
staged poll in turn (`Runner.store_staged`) while they fetch the next ones, at most STAGED_AHEAD ahead. Which report
of an event opens its alert and which joins it as a follow-up is then the same in every pass over the same
responses, as it was when a pass polled one source after another. (Each poll thread used to claim, read its state,
wait for its turn to store and store: the threads waited for one another at the store's one SQLite connection and at
every hand-over of the turn, and a cold pass over 500 feeds spent more than half its storing waiting.)

Each source is claimed in the store as the daemons' dispatchers claim it (store/claims.py): a source a daemon or
another pass is polling, or polled since this pass was invoked, is skipped, and the claim is held afterwards for
most of the way to its next turn. A source whose claim ran out while it waited in the window (the sources before it
timing out) is renewed before it is fetched, or left to the process that took it meanwhile.
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
from .store import SourceState
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


def claim(app: App, sid: str, since: datetime, dry_run: bool) -> bool:
    """Claim `sid` for this pass, as a daemon's dispatcher claims it; False when another process has it. A dry run
    stores nothing, so it claims nothing."""
    return dry_run or app.store.claim_source(sid, app.clock(), app.config.settings.lease, since)


def stage(
    app: App, sid: str, dry_run: bool, state: SourceState | None = None, claimed: datetime | None = None
) -> Staged | None:
    """A claimed source fetched and read (`Runner.stage`); its claim handed back if that failed unexpectedly.
    `claimed`: when the pass claimed it. A source waits in the pass's window for the sources before it, which can
    be long when they time out: past half the lease its claim is renewed first, and None if it ran out meanwhile
    and another process has the source now (it polls it; this pass skips it)."""
    if not dry_run and claimed is not None:
        now, lease = app.clock(), app.config.settings.lease
        if (now - claimed).total_seconds() > lease / 2 and not app.store.claim_source(sid, now, lease):
            return None
    try:
        return app.runner.stage(sid, dry_run=dry_run, state=state)
    except BaseException:
        if not dry_run:
            app.hand_back(sid)
        raise


def store_and_release(app: App, sid: str, staged: Staged | None) -> Outcome:
    """A staged poll stored (`Runner.store_staged`) and its claim handed back, held for most of the time until its
    next turn."""
    if staged is None:
        return Outcome(sid, None)
    done: list[PollResult] = []
    try:
        done.append(app.runner.store_staged(staged, release=True))
    finally:
        if not staged.dry_run and not (done and done[0].released):  # handed back with the commit, or not stored
            app.hand_back(sid, done[0].next_due if done else None)
    return Outcome(sid, done[0])


def run_pass(app: App, ids: list[str], since: datetime, dry_run: bool = False) -> Iterator[Outcome]:
    """Poll each of `ids` once, POLL_WORKERS at a time; the outcomes in the order of `ids`, each stored by the
    calling thread (see the module's docstring). Leaving the loop early (an error in the caller) starts no more
    polls and stores none of those fetched meanwhile."""
    if len(ids) <= 1:  # one source: no pool to start, no worker processes to pay for
        for sid in ids:
            yield store_and_release(app, sid, stage(app, sid, dry_run) if claim(app, sid, since, dry_run) else None)
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
            # each source claimed by this thread as it is handed to the pool (None: another process has it)
            ahead: deque[tuple[str, Future[Staged | None] | None]] = deque()

            def submit() -> None:
                for sid in itertools.islice(todo, 1):
                    if not claim(app, sid, since, dry_run):
                        ahead.append((sid, None))
                        continue
                    # its state read here too: the pool's threads then never wait for the store (see Runner.stage)
                    state, now = app.store.source_state(sid), app.clock()
                    ahead.append((sid, pool.submit(stage, app, sid, dry_run, state, now)))

            for _ in range(STAGED_AHEAD):
                submit()
            try:
                while ahead:
                    sid, future = ahead.popleft()
                    staged = future.result() if future is not None else None
                    submit()  # the pool's FIFO queue and this window keep the sources in the order asked for
                    yield store_and_release(app, sid, staged)
            finally:  # left early: the claims of what is read ahead or not started are handed back, nothing stored
                for sid, future in ahead:
                    if future is None or dry_run:
                        continue
                    if not future.cancel():
                        with contextlib.suppress(Exception):  # a failed stage released its claim itself
                            future.result()
                        # its validators were not saved: the next poll fetches in full what this one read
                    app.hand_back(sid)
    finally:
        if owned and app.runner.processes is not None:
            app.runner.processes.close()
            app.runner.processes = None
