"""The dispatcher (dispatch.py) on a store of its own: a burst of quick polls runs on one worker, which claims each
next source itself; a source that holds its worker (a slow server) gets the others a second worker once they have
waited `grow_after` past their turn, and never more workers than that need."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from treatywatch.dispatch import CLAIM_BATCH, Dispatcher
from treatywatch.errors import StoreError
from treatywatch.store.claims import Claimed

pytestmark = pytest.mark.timeout(60)


class Schedule:
    """Due sources as the store keeps them for one process: the longest due first; a source stays due until its
    poll moves its turn (`polled`), and the process may take its own claims again, all but those it says are busy.
    `pause`: seconds a claim takes between reading what is due and answering (a window for another claim)."""

    def __init__(self, due: dict[str, datetime], pause: float = 0.0) -> None:
        self.due = dict(due)
        self.pause = pause
        self.lock = threading.Lock()
        self.claims: list[tuple[int, float]] = []  # (limit, waited) of every claim
        self.claiming = 0
        self.most_claiming = 0

    def claim(self, free: int, busy: list[str], waited: float) -> list[Claimed]:
        cutoff = datetime.now(UTC) - timedelta(seconds=waited)
        with self.lock:
            self.claims.append((free, waited))
            self.claiming += 1
            self.most_claiming = max(self.most_claiming, self.claiming)
            ready = sorted((t, sid) for sid, t in self.due.items() if t <= cutoff and sid not in busy)[:free]
        time.sleep(self.pause)
        with self.lock:
            self.claiming -= 1
        return [Claimed(sid, t) for t, sid in ready]

    def due_in(self, busy: list[str]) -> float | None:
        with self.lock:
            turns = [t for sid, t in self.due.items() if sid not in busy]
        return (min(turns) - datetime.now(UTC)).total_seconds() if turns else None

    def polled(self, sid: str) -> None:
        with self.lock:
            self.due.pop(sid, None)


class Polls:
    """The work: which thread polled what, how many times each, and how many polls ran at once at most."""

    def __init__(self, schedule: Schedule, hold: dict[str, threading.Event] | None = None) -> None:
        self.schedule = schedule
        self.hold = hold or {}
        self.lock = threading.Lock()
        self.done: dict[str, int] = {}
        self.times: dict[str, int] = {}
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
            self.schedule.polled(c.id)
            with self.lock:
                self.now -= 1
                self.done[c.id] = threading.get_ident()
                self.times[c.id] = self.times.get(c.id, 0) + 1


def away(exc: StoreError) -> None:
    raise AssertionError(f"the store is there: {exc}")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_burst_of_quick_polls_runs_on_one_worker_that_claims_its_next_sources_itself_a_batch_at_a_time():
    turn = datetime.now(UTC) - timedelta(seconds=5)
    schedule = Schedule({f"s{k:03d}": turn + timedelta(milliseconds=k) for k in range(200)})
    polls = Polls(schedule)
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=0.05, grow_after=1.0)
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == 200, "every source polled")
    finally:
        dispatcher.stop()
    assert polls.most == 1 and len(set(polls.done.values())) == 1 and set(polls.times.values()) == {1}
    # the dispatcher asked for one worker's first source only; the worker claimed the rest CLAIM_BATCH at a time (and
    # once more to find nothing left), not one statement a source
    assert schedule.claims[0] == (1, 0.0)
    batches = schedule.claims.count((CLAIM_BATCH, 0.0))
    assert batches == -(-199 // CLAIM_BATCH) + 1, schedule.claims
    assert schedule.claims.count((1, 0.0)) == 1


def test_a_backlog_no_worker_is_free_for_goes_back_to_the_store():
    """With every worker held, the backlog would sit on claims that another daemon could poll: past grow_after
    they go back (hand_back), are no longer this process's busy ones, and are claimed again once a worker is free."""
    turn = datetime.now(UTC) - timedelta(seconds=5)
    slow = threading.Event()
    schedule = Schedule({"a": turn - timedelta(seconds=2), "slow": turn - timedelta(seconds=1), "q1": turn, "q2": turn})
    polls = Polls(schedule, hold={"slow": slow})
    given: list[list[str]] = []
    dispatcher = Dispatcher(1, schedule.claim, polls, away, every=0.05, grow_after=0.1, hand_back=given.append)
    dispatcher.start()
    try:
        wait_for(lambda: given == [["q1", "q2"]], "the waiting claims handed back")
        assert dispatcher.busy() == ["slow"]
        assert "q1" not in polls.done
        slow.set()
        wait_for(lambda: len(polls.done) == 4, "every source polled once the worker is free")
    finally:
        slow.set()
        dispatcher.stop()
    assert set(polls.times.values()) == {1} and given == [["q1", "q2"]]


def test_claims_being_handed_back_are_still_this_processs_busy_ones_until_the_store_has_them():
    """The hand-back is a write to the store; a claim of ours made while it runs (here: forced into the middle of
    it) must not take those sources, or they would be polled here and claimable in the store at once."""
    turn = datetime.now(UTC) - timedelta(seconds=5)
    slow = threading.Event()
    schedule = Schedule({"a": turn - timedelta(seconds=2), "slow": turn - timedelta(seconds=1), "q1": turn, "q2": turn})
    polls = Polls(schedule, hold={"slow": slow})
    meanwhile: list[list[str]] = []
    dispatcher: Dispatcher

    def hand_back(ids: list[str]) -> None:
        meanwhile.append([c.id for c in schedule.claim(CLAIM_BATCH, dispatcher.busy(), 0.0)])

    dispatcher = Dispatcher(1, schedule.claim, polls, away, every=0.05, grow_after=0.1, hand_back=hand_back)
    dispatcher.start()
    try:
        wait_for(lambda: bool(meanwhile), "the waiting claims handed back")
        assert meanwhile == [[]] and dispatcher.busy() == ["slow"]  # q1 and q2 were busy until the hand-back ended
    finally:
        slow.set()
        dispatcher.stop()


def test_a_backlog_left_by_a_worker_whose_poll_raised_is_taken_by_another_at_once():
    """A worker ends when its poll raises; the sources it had claimed with it do not wait for grow_after, nor
    for the idle dispatcher's next tick."""
    turn = datetime.now(UTC) - timedelta(seconds=5)
    schedule = Schedule({"a": turn - timedelta(seconds=2), "bad": turn - timedelta(seconds=1), "q1": turn, "q2": turn})
    polls = Polls(schedule)

    def poll(c: Claimed) -> None:
        polls(c)
        if c.id == "bad":
            raise RuntimeError("a poll that raised past its guard")

    dispatcher = Dispatcher(10, schedule.claim, poll, away, every=30.0, grow_after=30.0)
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == 4, "the backlog polled", timeout=3.0)
    finally:
        dispatcher.stop()
    assert set(polls.times.values()) == {1}


@pytest.mark.parametrize("waiting", ["in the store", "in the backlog"])
def test_a_source_that_holds_its_worker_gets_the_others_a_second_worker_after_grow_after(waiting: str):
    """In the store: the slow source is the longest due, the first worker takes it alone and the others stay due in
    the store. In the backlog: the worker polled "a" first and then claimed the slow one in a batch with the others,
    which wait in the dispatcher's backlog. Either way the dispatcher finds them waiting past grow_after and starts
    one more worker for them, not one each."""
    turn = datetime.now(UTC)
    slow = threading.Event()
    due = {"slow": turn - timedelta(seconds=1), **{f"q{k}": turn for k in range(5)}}
    if waiting == "in the backlog":
        due["a"] = turn - timedelta(seconds=2)
    schedule = Schedule(due)
    polls = Polls(schedule, hold={"slow": slow})
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=0.05, grow_after=0.3)
    started = time.monotonic()
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == len(due) - 1, "the quick ones polled while the slow one holds its worker")
        waited = time.monotonic() - started
        assert "slow" not in polls.done
        slow.set()
        wait_for(lambda: "slow" in polls.done, "the slow source done once let go")
    finally:
        slow.set()
        dispatcher.stop()
    if waiting == "in the backlog":
        assert schedule.claims[:2] == [(1, 0.0), (CLAIM_BATCH, 0.0)]  # "a", then the batch with the slow one first
    assert waited >= 0.3  # not before they had waited grow_after
    assert polls.most == 2 and set(polls.times.values()) == {1}  # one worker held, one for the rest: not one each
    assert len({polls.done[f"q{k}"] for k in range(5)}) == 1


def test_run_due_polls_everything_due_and_says_how_many():
    turn = datetime.now(UTC) - timedelta(seconds=1)
    schedule = Schedule({f"s{k}": turn for k in range(25)})
    polls = Polls(schedule)
    dispatcher = Dispatcher(10, schedule.claim, polls, away)
    try:
        assert dispatcher.run_due() == 25
        assert dispatcher.run_due() == 0
    finally:
        dispatcher.stop()
    assert len(polls.done) == 25


def test_two_workers_of_one_process_never_take_one_source_together():
    """The store lets a process take its own claims again (all but its busy ones): a claim made between another
    worker's claim and that worker's entry in the busy list took the same source twice (two fetches of one turn,
    3 ms apart, in the multi-daemon test). Claims are one at a time in a process; each claim here pauses between
    reading what is due and answering, the window where the second one came in."""
    turn = datetime.now(UTC)
    slow = threading.Event()
    schedule = Schedule({"slow": turn - timedelta(seconds=1), **{f"q{k:02d}": turn for k in range(40)}}, pause=0.02)
    polls = Polls(schedule, hold={"slow": slow})
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=0.02, grow_after=0.05)
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == 40, "the quick sources polled beside the held one")
        slow.set()
        wait_for(lambda: len(polls.done) == 41, "every source polled")
    finally:
        slow.set()
        dispatcher.stop()
    assert polls.most >= 2  # workers polled side by side, each claiming its next source
    assert schedule.most_claiming == 1
    assert set(polls.times.values()) == {1}, {sid: n for sid, n in polls.times.items() if n > 1}


def test_an_idle_dispatcher_wakes_when_the_next_source_is_due_not_at_its_next_tick():
    """A source due just after a tick waited out the next one (`every`), and each of its later turns with it (a turn
    starts `every` after the last one started): an idle dispatcher sleeps until the next turn it could claim."""
    schedule = Schedule({"soon": datetime.now(UTC) + timedelta(seconds=0.4)})
    polls = Polls(schedule)
    dispatcher = Dispatcher(10, schedule.claim, polls, away, every=30.0, due_in=schedule.due_in)
    started = time.monotonic()
    dispatcher.start()
    try:
        wait_for(lambda: "soon" in polls.done, "the source polled at its turn", timeout=5.0)
    finally:
        dispatcher.stop()
    assert 0.35 <= time.monotonic() - started < 2.0


def test_turns_falling_close_together_are_gathered_into_one_workers_run():
    """50 sources due 20 ms apart (500 sources at 10 s): an idle dispatcher ticks at least `gather` (0.25 s) apart, so
    the turns that fell due meanwhile go to one worker, which claims each next one itself. Before, the worker that
    ran out of due sources woke the dispatcher, which claimed the next turn at once: a worker and an empty claim for
    every source (two claims a source), and CPU per pass up by half. No turn waits out the 5-s tick."""
    start = datetime.now(UTC) + timedelta(seconds=0.2)
    turns = {f"s{k:02d}": start + timedelta(milliseconds=20 * k) for k in range(50)}
    schedule = Schedule(turns)
    late: dict[str, float] = {}

    def poll(c: Claimed) -> None:
        late[c.id] = (datetime.now(UTC) - turns[c.id]).total_seconds()
        polls(c)

    polls = Polls(schedule)
    dispatcher = Dispatcher(10, schedule.claim, poll, away, every=5.0, due_in=schedule.due_in)
    dispatcher.start()
    try:
        wait_for(lambda: len(polls.done) == 50, "every source polled", timeout=15.0)
    finally:
        dispatcher.stop()
    assert len(schedule.claims) < 75, len(schedule.claims)  # one claim a source, and a few to start and end runs
    assert max(late.values()) < 2.0, max(late.values())


def test_a_poll_that_starts_late_keeps_the_sources_next_turn_where_the_schedule_had_it():
    """A turn follows the one it was due at, not the poll's start: a dispatcher that gathers turns (above) starts
    some a little late, and that must not push every later turn back. A tenth of the interval is made up at most:
    two polls are never closer than 0.9 of it, and a source far behind is polled once, not once per missed turn."""
    from treatywatch.config.common import Schedule as Every
    from treatywatch.schedule import next_turn

    every = Every(seconds=10.0)
    due = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    late = lambda s: due + timedelta(seconds=s)  # noqa: E731
    assert next_turn(every, late(0.4), due) == due + timedelta(seconds=10)  # a gathered turn: as planned
    assert next_turn(every, late(1.0), due) == due + timedelta(seconds=10)
    assert next_turn(every, late(3.0), due) == late(3.0) + timedelta(seconds=9)  # far behind: 0.9 of it
    assert next_turn(every, late(3600), due) == late(3600) + timedelta(seconds=9)
    assert next_turn(every, late(0.4)) == late(0.4) + timedelta(seconds=10)  # a one-shot pass: from its poll
    assert next_turn(every, late(-2), due) == late(-2) + timedelta(seconds=10)  # polled before its turn ("now")
    cron = Every(cron="0 * * * *")
    assert next_turn(cron, late(30), due) == due + timedelta(hours=1)  # a cron keeps its own times


def test_a_daemon_gathers_turns_for_half_what_its_shortest_interval_absorbs():
    """The idle dispatcher's gathering never outgrows what next_turn makes up (a tenth of the interval): half of it
    on the shortest interval, at most a second; sources at 4 s (the burst test's) gather 0.2 s."""
    from types import SimpleNamespace

    from treatywatch.config.common import Schedule as Every
    from treatywatch.schedule import gathering

    def config(*every: str) -> Any:
        return SimpleNamespace(sources=[SimpleNamespace(every=Every.parse(e), enabled=True) for e in every])

    now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    assert gathering(config("4s", "15m"), now) == pytest.approx(0.2)
    assert gathering(config("10s"), now) == pytest.approx(0.5)
    assert gathering(config("15m", "1h"), now) == 1.0
    assert gathering(config(), now) == 1.0
