"""When a source is polled: its next turn after a poll, its first turn, and how far ahead a turn may lie before it
is a clock that went back. Pure functions of the configuration and a time; the store keeps the turns
(store/claims.py) and the daemon's dispatcher claims what is due."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .config.common import Schedule
from .config.models import Config
from .store.claims import Planned

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

# first polls a daemon starts per second at most when many sources are new to the store (a first start, a large
# reload): they are spread over their interval or over n / this many seconds, whichever is shorter
FIRST_POLLS_PER_SECOND = 50.0
HOLD_SHARE = 0.8  # of the time to a source's next turn that its claim is held after a poll (hold_after_poll)
# of its interval that a poll may start late and still leave its next turn where the schedule had it (next_turn): a
# dispatcher that gathers turns falling close together into one worker's run does not push every later turn back
LATE_ABSORBED = 0.1


def hold_after_poll(next_due: datetime | None, now: datetime) -> float:
    """Seconds a poller keeps its claim after a poll: most of the way to the source's next turn, so a one-shot pass
    beside it (or another daemon) does not poll the source again this interval; none when it has no next turn."""
    if next_due is None:
        return 0.0
    return HOLD_SHARE * max(0.0, (next_due - now).total_seconds())


def _cron(schedule: Schedule) -> CronTrigger:
    """The source's cron (APScheduler's parser, imported here: a desk of intervals never loads it)."""
    from apscheduler.triggers.cron import CronTrigger

    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=UTC)


def next_turn(schedule: Schedule, now: datetime, due: datetime | None = None) -> datetime:
    """The source's next turn after a poll at `now`: the cron's next time, or an interval after the turn it was
    `due` at, so a poll that started late does not delay every turn after it (the dispatcher gathers turns that fall
    close together: a turn started after the last one's start drifted later by each wait, and a loaded daemon
    polled 120 sources every 4 s only 91 % as often as planned). At most LATE_ABSORBED of the interval is made
    up: two polls are never closer than 0.9 of it, and a source far behind (a daemon that was down) is polled once,
    not once per missed turn. Without `due` (a one-shot pass), an interval after `now`."""
    if schedule.cron:
        nxt = _cron(schedule).get_next_fire_time(None, now + timedelta(microseconds=1))
        return nxt if nxt is not None else now + timedelta(days=365)
    assert schedule.seconds is not None
    every = timedelta(seconds=schedule.seconds)
    if due is None or due > now:
        return now + every
    return max(due + every, now + every * (1 - LATE_ABSORBED))


GATHER_AT_MOST = 1.0  # seconds an idle dispatcher lets turns gather (gathering)


def gathering(config: Config, now: datetime) -> float:
    """Seconds an idle daemon's dispatcher lets turns fall due before it starts a worker on them (dispatch.py): half
    the lateness next_turn makes up on the shortest interval, so gathering never pushes a later turn back, and at
    most GATHER_AT_MOST (a desk's sources at minutes gather a second's turns). 500 unchanged feeds at 10 s cost
    0.45 s of CPU a pass gathered over 0.5 s, 0.41 over 1 s and 0.43-0.54 over 0.25 s."""
    shortest = min((every_seconds(s.every, now) for s in config.sources if s.enabled), default=None)
    if shortest is None:
        return GATHER_AT_MOST
    return min(GATHER_AT_MOST, max(0.01, shortest * LATE_ABSORBED / 2))


def every_seconds(schedule: Schedule, now: datetime) -> float:
    """The interval, or a cron's gap between its next two times."""
    if schedule.cron:
        first = next_turn(schedule, now)
        return max(1.0, (next_turn(schedule, first) - first).total_seconds())
    assert schedule.seconds is not None
    return schedule.seconds


def fraction(source_id: str) -> float:
    """A number in [0, 1) fixed by the source's id: where in the spread its first turn falls (tests can reason)."""
    return int.from_bytes(hashlib.sha256(source_id.encode()).digest()[:8], "big") / 2**64


def first_due(source_id: str, every: float, now: datetime, count: int) -> datetime:
    """The first turn of a source new to the store, `count` sources being new at once: up to 50 a second start
    now, more are spread over their interval (or over count / 50 seconds when that is shorter)."""
    spread = min(every, count / FIRST_POLLS_PER_SECOND)
    return now + timedelta(seconds=fraction(source_id) * spread if spread >= 1.0 else 0.0)


def plan(config: Config, now: datetime, ids: Iterable[str] | None = None) -> dict[str, Planned]:
    """Each enabled source's interval and first turn (of `ids` only, when given: a reload's new ones)."""
    enabled = [s for s in config.sources if s.enabled]
    wanted = set(ids) if ids is not None else None
    chosen = [s for s in enabled if wanted is None or s.id in wanted]
    out = {}
    for s in chosen:
        every = every_seconds(s.every, now)
        out[s.id] = Planned(every, first_due(s.id, every, now, len(chosen)))
    return out


def clock_back_horizon(config: Config, now: datetime) -> float:
    """Seconds: no turn lies further ahead than the longest interval or 4 × source_backoff_max (a server's
    Retry-After is capped there); a later one was set by a clock that has since gone back, and honouring it would
    silence the source as long."""
    longest = max((every_seconds(s.every, now) for s in config.sources if s.enabled), default=0.0)
    return max(longest, 4 * config.settings.source_backoff_max)
