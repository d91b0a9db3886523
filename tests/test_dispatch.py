"""The dispatcher (dispatch.py) on a store of its own: a burst of quick polls runs on one worker, which claims each
next source itself; a source that holds its worker (a slow server) gets the others a second worker once they have
waited `grow_after` past their turn, and never more workers than that need."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from treatywatch.dispatch import Dispatcher
from treatywatch.errors import StoreError
from treatywatch.store.claims import Claimed

pytestmark = pytest.mark.timeout(60)


class Schedule:
    """Due sources and their claims, as the store keeps them: the longest due first, each claimed once."""

    def __init__(self, due: dict[str, datetime]) -> None:
        self.due = dict(due)
        self.lock = threading.Lock()
        self.claims: list[tuple[int, float]] = []  # (limit, waited) of every claim

    def claim(self, free: int, busy: list[str], waited: float) -> list[Claimed]:
        cutoff = datetime.now(UTC) - timedelta(seconds=waited)
        with self.lock:
            self.claims.append((free, waited))
            ready = sorted((t, sid) for sid, t in self.due.items() if t <= cutoff and sid not in busy)[:free]
            for _, sid in ready:
                del self.due[sid]
        return [Claimed(sid, t) for t, sid in ready]


class Polls:
    """The work: which thread polled what, and how many polls ran at once at most."""

    def __init__(self, hold: dict[str, threading.Event] | None = None) -> None:
        self.hold = hold or {}
        self.lock = threading.Lock()
        self.done: dict[str, int] = {}
        self.now = 0
        self.most = 0

    def __call__(self, c: Claimed) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if c.id in self.hold:
                assert self.hold[c.id].wait(20), f"{c.id} was never let go"
        finally:
            with self.lock:
                self.now -= 1
                self.done[c.id] = threading.get_ident()


def away(exc: StoreError) -> None:
    raise AssertionError(f"the store is there: {exc}")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_burst_of_quick_polls_runs_on_one_worker_that_claims_each_next_source_itself():
    turn = datetime.now(UTC) - timedelta(seconds=5)
    schedule = Schedule({f"s{k:03d}": turn + timedelta(milliseconds=k) for k in range(200)})
    polls = Polls()
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=0.05, grow_after=1.0)
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == 200, "every source polled")
    finally:
        dispatcher.stop()
    assert polls.most == 1 and len(set(polls.done.values())) == 1
    # the worker's own claims, one source each: the dispatcher asked for one worker's first source only
    assert schedule.claims.count((1, 0.0)) >= 200


def test_a_source_that_holds_its_worker_gets_the_others_a_second_worker_after_grow_after():
    turn = datetime.now(UTC)
    slow = threading.Event()
    # the slow source is the longest due: the first worker takes it and is held until the test lets it go
    schedule = Schedule({"slow": turn - timedelta(seconds=1), **{f"q{k}": turn for k in range(5)}})
    polls = Polls(hold={"slow": slow})
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=0.05, grow_after=0.3)
    started = time.monotonic()
    dispatcher.start()
    try:
        wait_for(lambda: polls.now == 1 and "slow" not in polls.done, "the slow source taken")
        wait_for(lambda: len(polls.done) == 5, "the quick sources polled while the slow one holds its worker")
        waited = time.monotonic() - started
        assert "slow" not in polls.done
        slow.set()
        wait_for(lambda: "slow" in polls.done, "the slow source done once let go")
    finally:
        slow.set()
        dispatcher.stop()
    assert waited >= 0.3  # not before they had waited grow_after past their turn
    assert polls.most == 2  # one worker held, one for the rest: not one each
    assert len({polls.done[f"q{k}"] for k in range(5)}) == 1


def test_run_due_polls_everything_due_and_says_how_many():
    turn = datetime.now(UTC) - timedelta(seconds=1)
    schedule = Schedule({f"s{k}": turn for k in range(25)})
    polls = Polls()
    dispatcher = Dispatcher(10, schedule.claim, polls, away)
    try:
        assert dispatcher.run_due() == 25
        assert dispatcher.run_due() == 0
    finally:
        dispatcher.stop()
    assert len(polls.done) == 25
