"""The daemon's dispatcher: one loop per daemon starts poll workers on due sources claimed from the store. Every
daemon on one database does the same, and the claim (one statement, store/claims.py) is what keeps two of them, or a
`poll --once` beside them, from fetching a source twice.

A worker goes on from source to source: when it has polled one it claims the next due ones itself, until nothing is
due. It claims up to CLAIM_BATCH at once (one statement, not one a source: fewer commits, and on PostgreSQL fewer
round trips) and keeps those it has not started on in the dispatcher's backlog, which every worker of this daemon
takes from first.

The dispatcher starts a worker when none runs and something is due, and one more at each of its ticks while a due
source has waited over `grow_after` seconds past its turn, or a claimed one as long in the backlog (slow sources hold
their workers; the others need more). When no worker is free, what waited that long in the backlog goes back to the
store (`hand_back`), so this daemon never sits on claims another daemon could poll. So a burst of quick polls (a pass
of 304s) runs on one or two threads, not ten: on a machine's 2 cores, ten threads taking turns at the interpreter's
lock for polls that each take under a millisecond spent more CPU on the hand-overs (0.55 s for 500 polls) than on
the polls (0.33 s).

It ticks every half `grow_after` while workers run; when none does, when the next source is due but at least
`gather` seconds after its last tick (and at most `every` apart); and when asked (`wake`: the console's "poll now").
Turns that fall due meanwhile wait a little and go to one worker's run: a poll between sleeps costs about twice the
CPU of one in a run. The schedule absorbs the wait (schedule.next_turn follows the turn, not the poll's start).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .errors import StoreError
from .store.claims import Claimed

log = logging.getLogger("treatywatch.dispatch")
BATCH_WAIT = 0.02  # seconds a woken dispatcher waits before it ticks, so wakes in a burst make one tick
# seconds a due source may wait past its turn before the dispatcher starts another worker for it (slow sources hold
# theirs). The next turn makes up a wait of up to a tenth of the interval (schedule.next_turn); a longer one delays
# the later turns, and a loaded machine once polled 120 sources every 4 s only 91 % as often as planned
# (tests/test_multi_daemon.py's burst)
GROW_AFTER = 0.25
# the shortest time between an idle dispatcher's ticks unless told (`gather`; the daemon's is
# schedule.gathering's): sources coming due closer together than this go to one worker's run, not a worker each
# (500 sources at 10 s come due 20 ms apart: a worker each cost 40 % more CPU a pass; 50,000 at 15 minutes, 55 a
# second)
GATHER = 0.25
# sources a worker claims at once when it looks for its next (those due now, the longest due first)
CLAIM_BATCH = 8


class Dispatcher:
    def __init__(
        self,
        workers: int,
        claim: Callable[[int, list[str], float], list[Claimed]],
        work: Callable[[Claimed], None],
        away: Callable[[StoreError], None],
        every: float = 1.0,
        grow_after: float = GROW_AFTER,
        gather: float = GATHER,
        due_in: Callable[[list[str]], float | None] = lambda busy: None,
        hand_back: Callable[[list[str]], None] = lambda ids: None,
        batch: int = CLAIM_BATCH,
    ) -> None:
        """claim(free, busy, waited): claim up to `free` sources due at least `waited` seconds ago, not those in
        `busy` (polled by us now). work(c): poll one claimed source and release it. away(exc): the store is
        unreachable (the daemon says so once). due_in(busy): seconds until the next source we could claim is due
        (None: none known); an idle dispatcher wakes then, not only every `every` seconds. hand_back(ids): claims
        of ours not started on, given back to the store (due as they were). batch: sources a worker claims at
        once."""
        self.workers = workers
        self.batch = batch
        self.every = every
        self.grow_after = grow_after
        self.gather = gather
        self._due_in = due_in
        self._claim, self._work, self._away, self._hand_back = claim, work, away, hand_back
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="poll")
        self._busy: set[str] = set()
        self._running = 0  # workers going from source to source
        # claimed by a worker's batch, not started on yet, with when (monotonic): every worker takes from here first
        self._backlog: deque[tuple[Claimed, float]] = deque()
        # one claim at a time in this process: the store lets a process take its own claims again (all but `busy`),
        # so a claim between another's statement and its entry in _busy took the same source twice
        self._claiming = threading.Lock()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def busy(self) -> list[str]:
        with self._lock:
            return sorted(self._busy)

    def tick(self, fill: bool = False) -> list[Future[int]]:
        """Start a worker on what is due: when none runs, or when a due source has waited over grow_after (fill:
        one worker for each due source, up to the free ones). The futures of the workers started."""
        with self._lock:
            running = self._running
        free = self.workers - running
        if self._stop.is_set():
            return []
        if free <= 0:
            self._give_back_waiting()
            return []
        if fill:
            wanted, waited = free, 0.0
        else:
            wanted, waited = 1, 0.0 if running == 0 else self.grow_after
        claimed = self._waiting(wanted, waited)
        if len(claimed) < wanted:
            claimed += self._take(wanted - len(claimed), waited)
        futures = []
        with self._lock:
            self._running += len(claimed)
        for c in claimed:
            try:
                futures.append(self.executor.submit(self._run, c))
            except RuntimeError:  # stopping: the claim goes back with the store's release at the stop
                with self._lock:
                    self._busy.discard(c.id)
                    self._running -= 1
        return futures

    def run_due(self) -> int:
        """Poll what is due now and wait for it (tests, and a daemon's caller that drives it by hand); the
        number of sources polled."""
        return sum(future.result() for future in self.tick(fill=True))

    def _run(self, c: Claimed) -> int:
        """Poll `c`, then whatever this worker claims next, until nothing is due or the daemon stops; how many."""
        polled = 0
        try:
            current: Claimed | None = c
            while current is not None:
                try:
                    self._work(current)
                    polled += 1
                finally:
                    with self._lock:
                        self._busy.discard(current.id)
                current = self._next()
            return polled
        finally:
            # no wake: the dispatcher's next tick (grow_after / 2) finds it idle and sleeps on (a wake here made it
            # claim again at once: a worker for each source due 20 ms apart, the 50 a second of 500 sources at 10 s,
            # and CPU per pass up by half)
            with self._lock:
                self._running -= 1
                left = bool(self._backlog)  # it ended early (its poll raised): a worker for them now
            if left:
                self._wake.set()

    def _next(self) -> Claimed | None:
        """The worker's next source: the longest due one no worker of ours polls, claimed by this worker."""
        if self._stop.is_set():
            return None
        with self._lock:
            if self._backlog:
                return self._backlog.popleft()[0]
        claimed = self._take(self.batch, 0.0)
        if not claimed:
            return None
        with self._lock:
            taken = time.monotonic()
            self._backlog.extend((c, taken) for c in claimed[1:])
        return claimed[0]

    def _waiting(self, limit: int, waited: float) -> list[Claimed]:
        """Up to `limit` sources of the backlog claimed at least `waited` seconds ago (the worker that claimed them
        is held by a slow poll), taken out of it."""
        out: list[Claimed] = []
        with self._lock:
            cutoff = time.monotonic() - waited
            while self._backlog and len(out) < limit and self._backlog[0][1] <= cutoff:
                out.append(self._backlog.popleft()[0])
        return out

    def _give_back_waiting(self) -> None:
        """Every worker is busy: what waited over grow_after in the backlog goes back to the store, where another
        daemon (or a worker of ours, once free) can claim it."""
        given = [c.id for c in self._waiting(len(self._backlog), self.grow_after)]
        if not given:
            return
        try:
            self._hand_back(given)
        except StoreError as exc:  # unreachable: the claims simply expire (settings.lease)
            self._away(exc)
        finally:
            with self._lock:
                self._busy.difference_update(given)

    def _take(self, limit: int, waited: float) -> list[Claimed]:
        """Claim up to `limit` sources due `waited` seconds ago, entered as busy before any other claim of ours."""
        with self._claiming:
            with self._lock:
                busy = list(self._busy)
            try:
                claimed = self._claim(limit, busy, waited)
            except StoreError as exc:
                self._away(exc)
                return []
            with self._lock:
                self._busy.update(c.id for c in claimed)
            return claimed

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # never let the loop die: the next tick tries again
                log.exception("dispatcher: claiming due sources failed; trying again")
            ticked = time.monotonic()
            while not self._stop.is_set():
                pause, idle = self._pause(time.monotonic() - ticked)
                if pause <= 0:
                    break
                if self._wake.wait(pause):  # asked (poll now, a reload): tick once the burst of wakes is in
                    self._wake.clear()
                    time.sleep(BATCH_WAIT)
                    break
                if idle:  # slept until the next turn: tick, without asking the store again
                    break

    def _pause(self, since: float) -> tuple[float, bool]:
        """Seconds until the next tick, `since` seconds after the last, and whether no worker runs: every half
        grow_after while workers run (then asked again: a worker that ends leaves the dispatcher idle); when none
        does, until the next source is due but at least `gather` after the last tick (at most `every`: a source
        another daemon holds, a clock that moved, a reload)."""
        with self._lock:
            running, busy, backlog = self._running, list(self._busy), bool(self._backlog)
        if backlog and not running:  # the worker that claimed them ended early (its poll raised): start one now
            return 0.0, False
        if running:
            return min(self.every, self.grow_after / 2) - since, False
        try:
            due = self._due_in(busy)
        except StoreError:
            return self.every - since, True  # the claim says so when it meets the outage
        if due is None:
            return self.every - since, True
        return min(self.every - since, max(due, self.gather - since)), True

    def stop(self) -> None:
        """No more claims; polls not yet started are dropped (their claims go back with the store's release)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            self._backlog.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
