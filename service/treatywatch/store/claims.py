"""Who polls which source when: the schedule lives in the `sources` table, and a process polls a source only
after claiming it there. A mixin of SqlStore, on both engines.

- `next_due` is the schedule: the runner writes the next turn with each poll (or the retry date of a failure);
  a source never polled gets a first turn spread over its interval (schedule.first_due), so a restart of 50,000
  sources is no thundering herd.
- A claim is the lease: `claimed_by` names the process, `claim_expires` ends it (the server's clock on
  PostgreSQL). Claiming is one statement: PostgreSQL's `FOR UPDATE SKIP LOCKED` lets daemons claim at once without
  waiting on each other; SQLite has one writer at a time. A daemon that dies keeps its claims only until they
  expire, or not at all when it ran on this machine (its pid is gone).
- After a poll the claim is held on for most of the time until the source's next turn, so a `poll --once` beside a
  daemon (or another one-shot) leaves the source alone; daemons claim by `next_due` and never by the hold.
- A process's holds end with it (its clean stop, or its death seen by the others). A one-shot pass is over in
  seconds, so a pass also skips what was polled since it started (`last_attempt`): otherwise a second pass beside a
  first that had ended would fetch again what the first had just fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .base import StoreBase, Tx, dt, ts
from .models import SourceState


@dataclass(frozen=True)
class Claimed:
    """A source this process now holds: its id, the turn it was due at (the schedule lag is the difference) and,
    from claim_due, its state as the claim found it (the poll needs it: read in the claim's statement, not in one
    more a poll)."""

    id: str
    due: datetime | None
    state: SourceState | None = None


@dataclass(frozen=True)
class Release:
    """A claim handed back with the poll's own commit: when, and for how many seconds more the source is held
    (schedule.hold_after_poll)."""

    now: datetime
    hold: float


@dataclass(frozen=True)
class Planned:
    """What the configuration says of a source: its interval (a cron's usual gap), its first turn if it has none."""

    every: float
    first_due: datetime


class SourceClaims(StoreBase):
    _skip_locked = ""  # PostgreSQL: FOR UPDATE SKIP LOCKED

    # How a claim's expiry is written and compared: this process's clock on SQLite (one machine), the server's on
    # PostgreSQL; postgres.py overrides both.
    def _hold_until(self, now: datetime, seconds: float) -> tuple[str, list[object]]:
        return "?", [ts(now + timedelta(seconds=seconds))]

    def _held_now(self, now: datetime) -> tuple[str, list[object]]:
        return "?", [ts(now)]

    def _statement(self, sql: str, params: list[Any]) -> list[Any]:
        """One writing statement in a transaction of its own; PostgreSQL sends it alone (autocommit: one round
        trip, not BEGIN, statement, COMMIT)."""
        with self.transaction() as tx:
            return list(tx.execute(sql, params).fetchall())

    def _executemany(self, tx: Tx, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows of one statement; PostgreSQL overrides it with a pipelined executemany."""
        for row in rows:
            tx.execute(sql, row)

    def plan_sources(self, plan: Mapping[str, Planned], exclusive: bool = True) -> int:
        """Make the table's schedule the configuration's: every planned source enabled with its interval, a first
        turn for those without one. `exclusive` (a daemon's start or reload): sources not planned are disabled, so
        no daemon claims them. Returns how many got a first turn."""
        enabled = {r["id"] for r in self._rows("SELECT id FROM sources WHERE enabled = 1")} if exclusive else set()
        fresh = {r["id"] for r in self._rows("SELECT id FROM sources WHERE next_due IS NULL")}
        known = {r["id"] for r in self._rows("SELECT id FROM sources")}
        rows = [(sid, ts(p.first_due), p.every) for sid, p in plan.items() if sid not in known or sid in fresh]
        updates = [(p.every, sid) for sid, p in plan.items() if sid in known and sid not in fresh]
        gone = sorted(enabled - set(plan))
        with self.transaction() as tx:
            self._executemany(
                tx,
                "INSERT INTO sources (id, next_due, every_seconds, enabled) VALUES (?, ?, ?, 1)"
                # a turn only where there is none yet: a one-shot pass may have polled the source (and written its
                # next turn) since `fresh` was read, and its turn must not be pulled back to now
                " ON CONFLICT (id) DO UPDATE SET next_due = COALESCE(sources.next_due, excluded.next_due),"
                " every_seconds = excluded.every_seconds, enabled = 1",
                rows,
            )
            self._executemany(tx, "UPDATE sources SET every_seconds = ?, enabled = 1 WHERE id = ?", updates)
            self._executemany(tx, "UPDATE sources SET enabled = 0 WHERE id = ?", [(sid,) for sid in gone])
        return len(rows)

    def reschedule(self, source_ids: Iterable[str], due: Mapping[str, datetime]) -> None:
        """Sources whose schedule changed (a reload) take the turn given here."""
        rows = [(ts(due[sid]), sid) for sid in source_ids]
        with self.transaction() as tx:
            self._executemany(tx, "UPDATE sources SET next_due = ? WHERE id = ?", rows)

    def pull_back_turns(self, now: datetime, beyond: datetime) -> list[str]:
        """Turns later than `beyond` were set by a clock that has since gone back: they become due now (honouring
        them would silence the sources as long). Returns the sources' ids. A range of the due index, not a scan."""
        rows = self._statement(
            "UPDATE sources SET next_due = ? WHERE enabled = 1 AND next_due > ? RETURNING id", [ts(now), ts(beyond)]
        )
        return sorted(r["id"] for r in rows)

    def claim_due(
        self, now: datetime, limit: int, lease: float, busy: Iterable[str] = (), waited: float = 0.0
    ) -> list[Claimed]:
        """Claim up to `limit` due sources, the longest due first, for `lease` seconds. `busy`: this process's
        sources being polled now (its own earlier claims are otherwise its to take again). `waited`: only sources
        due at least this many seconds ago. The due index is read in order (sources_due): a claim costs the same
        with 50 sources or 50,000."""
        if limit <= 0:
            return []
        until, until_params = self._hold_until(now, lease)
        claimable, claimable_params = self._claimable(now, busy)
        sql = (
            f"UPDATE sources SET claimed_by = ?, claim_expires = {until} WHERE id IN ("
            f" SELECT id FROM sources WHERE next_due <= ? AND {claimable}"
            f" ORDER BY next_due LIMIT ?{self._skip_locked}) RETURNING *"
        )
        due_by = now - timedelta(seconds=waited)
        params = [self.owner, *until_params, ts(due_by), *claimable_params, limit]
        rows = self._statement(sql, params)
        out = [Claimed(r["id"], dt(r["next_due"]), SourceState.from_row(r)) for r in rows]
        return sorted(out, key=lambda c: (c.due is None, c.due or now))

    def _claimable(self, now: datetime, busy: Iterable[str]) -> tuple[str, list[object]]:
        """The condition on a source this process may claim now: enabled, not paused, not another live process's
        claim, not in `busy` (this process's polls under way: its own earlier claims are otherwise its to take)."""
        busy = list(busy)
        held, held_params = self._held_now(now)
        not_busy = f" AND id NOT IN ({', '.join('?' * len(busy))})" if busy else ""
        sql = f"enabled = 1 AND paused_at IS NULL AND (claimed_by IS NULL OR claimed_by = ? OR claim_expires <= {held})"
        return sql + not_busy, [self.owner, *held_params, *busy]

    def next_claimable(self, now: datetime, busy: Iterable[str] = ()) -> datetime | None:
        """The earliest turn claim_due could take now or later: the dispatcher sleeps until then rather than a
        fixed tick, or a source due just after a tick waited out the next one, and so did every later turn of it.
        Reads the due index in order, like the claim."""
        claimable, params = self._claimable(now, busy)
        rows = self._rows(
            f"SELECT next_due FROM sources WHERE next_due IS NOT NULL AND {claimable} ORDER BY next_due LIMIT 1",
            params,
        )
        return dt(rows[0]["next_due"]) if rows else None

    def claim_source(self, source_id: str, now: datetime, lease: float, since: datetime | None = None) -> bool:
        """A one-shot pass takes one source: True when no other live process holds it (polling it, or having
        polled it within most of its interval) and, with `since` (the pass's start), nobody polled it since then:
        a pass beside it that polled the source and already ended (its holds went with it) is not followed by a
        second fetch. A pass started after that poll fetches again: the operator asked for it."""
        until, until_params = self._hold_until(now, lease)
        held, held_params = self._held_now(now)
        polled_since, since_params = "", []
        if since is not None:
            polled_since, since_params = " AND (sources.last_attempt IS NULL OR sources.last_attempt < ?)", [ts(since)]
        rows = self._statement(  # a source never polled has no row yet: the claim makes it
            f"INSERT INTO sources (id, claimed_by, claim_expires) VALUES (?, ?, {until}) ON CONFLICT (id) DO UPDATE"
            " SET claimed_by = excluded.claimed_by, claim_expires = excluded.claim_expires WHERE"
            f" (sources.claimed_by IS NULL OR sources.claimed_by = ? OR sources.claim_expires <= {held}){polled_since}"
            " RETURNING id",
            [source_id, self.owner, *until_params, self.owner, *held_params, *since_params],
        )
        return bool(rows)

    def release_source(self, source_id: str, now: datetime, hold: float) -> None:
        """The poll ended: one-shot passes leave the source alone for `hold` seconds more (0: at once)."""
        self._statement(*self._release(source_id, now, hold))

    def _release(self, source_id: str, now: datetime, hold: float) -> tuple[str, list[Any]]:
        """release_source's statement, also run inside a poll's own transaction (the store's `release=`): one
        commit a poll, not two."""
        if hold > 0:
            until, params = self._hold_until(now, hold)
            sql = f"UPDATE sources SET claim_expires = {until}"
        else:
            sql, params = "UPDATE sources SET claimed_by = NULL, claim_expires = NULL", []
        return f"{sql} WHERE id = ? AND claimed_by = ? RETURNING id", [*params, source_id, self.owner]

    def release_sources(self) -> None:
        """A clean stop: every claim and hold of this process goes back at once."""
        with self.transaction() as tx:
            tx.execute("UPDATE sources SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = ?", [self.owner])

    def reserve_host(self, host: str, gap: float, now: datetime) -> float:
        """Take the host's next free start, `gap` seconds after the one before (settings.per_host_delay), across
        every worker and daemon on this database; returns the seconds to wait for it (0: now)."""
        with self.transaction() as tx:
            return self._reserve(tx, host, gap, now)

    def _reserve(self, tx: Tx, host: str, gap: float, now: datetime) -> float:
        row = tx.execute("SELECT next_start FROM host_gates WHERE host = ?", (host,)).fetchone()
        start = max(now, dt(row["next_start"]) or now) if row is not None else now
        tx.execute(
            "INSERT INTO host_gates (host, next_start) VALUES (?, ?) ON CONFLICT (host) DO UPDATE"
            " SET next_start = excluded.next_start",
            (host, ts(start + timedelta(seconds=gap))),
        )
        return (start - now).total_seconds()

    def forget_dead_claims(self) -> int:
        """Claims of processes of this machine that no longer run (killed mid-poll) are void at once; returns how
        many processes' claims went."""
        return self._void_dead_claims("sources")
