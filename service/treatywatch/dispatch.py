"""The daemon's dispatcher: one loop per daemon claims due sources from the store, as many as it has free poll
workers, and hands them to those workers. Every daemon on one database does the same, and the claim (one statement,
store/claims.py) is what keeps two of them, or a `poll --once` beside them, from fetching a source twice.

It wakes every `every` seconds, when a worker frees up (so a busy daemon claims its next batch at once rather than
a second later), and when asked (`wake`: the console's "poll now").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from .errors import StoreError
from .store.claims import Claimed

log = logging.getLogger("treatywatch.dispatch")
BATCH_WAIT = 0.02  # seconds a woken dispatcher waits for more workers to free up, so one claim serves several


class Dispatcher:
    def __init__(
        self,
        workers: int,
        claim: Callable[[int, list[str]], list[Claimed]],
        work: Callable[[Claimed], None],
        away: Callable[[StoreError], None],
        every: float = 1.0,
    ) -> None:
        """claim(free, busy): claim up to `free` due sources, not those in `busy` (polled by us now). work(c): poll
        one claimed source and release it. away(exc): the store is unreachable (the daemon says so once)."""
        self.workers = workers
        self.every = every
        self._claim, self._work, self._away = claim, work, away
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="poll")
        self._busy: set[str] = set()
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

    def tick(self) -> list[Future[None]]:
        """Claim what is due for the free workers and start polling it; the futures of the polls started."""
        with self._lock:
            busy = list(self._busy)
        free = self.workers - len(busy)
        if free <= 0 or self._stop.is_set():
            return []
        try:
            claimed = self._claim(free, busy)
        except StoreError as exc:
            self._away(exc)
            return []
        futures = []
        with self._lock:
            self._busy.update(c.id for c in claimed)
        for c in claimed:
            try:
                futures.append(self.executor.submit(self._run, c))
            except RuntimeError:  # stopping: the claim goes back with the store's release at the stop
                with self._lock:
                    self._busy.discard(c.id)
        return futures

    def run_due(self) -> int:
        """Poll what is due now and wait for it (tests, and a daemon's caller that drives it by hand); the
        number polled."""
        futures = self.tick()
        wait(futures)
        return len(futures)

    def _run(self, c: Claimed) -> None:
        try:
            self._work(c)
        finally:
            with self._lock:
                self._busy.discard(c.id)
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # never let the loop die: the next tick tries again
                log.exception("dispatcher: claiming due sources failed; trying again")
            self._wake.wait(self.every)
            self._wake.clear()
            time.sleep(BATCH_WAIT)

    def stop(self) -> None:
        """No more claims; polls not yet started are dropped (their claims go back with the store's release)."""
        self._stop.set()
        self._wake.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
