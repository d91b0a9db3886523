"""A source in the operator's hands: paused (not polled until resumed) and "poll now" (its next_due set to now, so
whichever daemon claims due sources takes it at once). Both go through the store, so they hold whichever process
made them (the console inside the daemon, `treatywatch sources pause` beside it) and on both engines; each is
recorded in the desk's history with who and when. A poll's own write of the source's state (SqlStore._save_state)
never touches the pause. And the sources' health summed up for a large desk's metrics."""

from __future__ import annotations

from datetime import datetime

from ..errors import FilterError
from .base import Tx, dt, ts
from .desk import DeskStore
from .models import SourcesHealth, SourceState

SOURCE_ACTIONS = ("pause", "resume", "poll-now")


class SourceControl(DeskStore):
    def _ensure_source_row(self, conn: Tx, source_id: str) -> None:
        """A source never polled has no row yet; its pause (or poll now) makes one."""
        conn.execute("INSERT INTO sources (id) VALUES (?) ON CONFLICT (id) DO NOTHING", (source_id,))

    def pause_source(self, source_id: str, actor: str, now: datetime) -> bool:
        """Pause; False when it was paused already (the first pause keeps its who and when)."""
        with self.transaction() as conn:
            self._ensure_source_row(conn, source_id)
            cur = conn.execute(
                "UPDATE sources SET paused_at = ?, paused_by = ? WHERE id = ? AND paused_at IS NULL",
                (ts(now), actor, source_id),
            )
            if cur.rowcount:
                self._event(conn, "source", source_id, "pause", "", actor, now)
            return bool(cur.rowcount)

    def resume_source(self, source_id: str, actor: str, now: datetime) -> bool:
        """Resume, polled at once (next_due now); False when it was not paused."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE sources SET paused_at = NULL, paused_by = NULL, next_due = ? WHERE id = ?"
                " AND paused_at IS NOT NULL",
                (ts(now), source_id),
            )
            if cur.rowcount:
                self._event(conn, "source", source_id, "resume", "", actor, now)
            return bool(cur.rowcount)

    def poll_source_now(self, source_id: str, actor: str, now: datetime) -> None:
        """Make the source due now (a backoff's retry date included). A paused source is refused: resume it."""
        with self.transaction() as conn:
            self._ensure_source_row(conn, source_id)
            row = conn.execute("SELECT paused_at, paused_by FROM sources WHERE id = ?", (source_id,)).fetchone()
            if row["paused_at"] is not None:
                raise FilterError(f"source {source_id} is paused (by {row['paused_by']}): resume it to poll it")
            conn.execute("UPDATE sources SET next_due = ? WHERE id = ?", (ts(now), source_id))
            self._event(conn, "source", source_id, "poll now", "", actor, now)

    def poll_matches(self, item_ids: list[int]) -> dict[int, set[str]]:
        """The watches that fired on each item when it was polled (stored matches, quiet ones included)."""
        out: dict[int, set[str]] = {i: set() for i in item_ids}
        if item_ids:
            marks = ", ".join("?" * len(item_ids))
            for r in self._rows(f"SELECT item_id, watch_id FROM matches WHERE item_id IN ({marks})", item_ids):
                out[int(r["item_id"])].add(r["watch_id"])
        return out

    def paused_sources(self) -> set[str]:
        """The ids of the sources paused now: what a pass over all sources leaves out."""
        return {r["id"] for r in self._rows("SELECT id FROM sources WHERE paused_at IS NOT NULL")}

    def sources_health(self, failing_after: int) -> SourcesHealth:
        """The enabled sources' health in one aggregate over their rows (`enabled` is the daemon's planned
        configuration: store/claims.py), not one SourceState a source."""
        row = self._rows(
            "SELECT count(*) AS enabled, count(CASE WHEN consecutive_failures >= ? THEN 1 END) AS failing,"
            " max(consecutive_failures) AS worst, sum(empty_flag) AS empty, min(last_success) AS oldest"
            " FROM sources WHERE enabled = 1",
            [failing_after],
        )[0]
        enabled, failing, worst, empty = (int(row[name] or 0) for name in ("enabled", "failing", "worst", "empty"))
        return SourcesHealth(enabled, failing, worst, empty, dt(row["oldest"]))

    def failing_sources(self, failing_after: int, limit: int) -> list[str]:
        """The first `limit` enabled sources, by id, with at least `failing_after` failed polls in a row."""
        rows = self._rows(
            "SELECT id FROM sources WHERE enabled = 1 AND consecutive_failures >= ? ORDER BY id LIMIT ?",
            [failing_after, limit],
        )
        return [r["id"] for r in rows]

    def attention_candidates(self, stale_since: datetime | None) -> dict[str, SourceState]:
        """The states of the sources that may need a desk's attention (web/api.attention): failing, paused, gone
        empty, behind on a backlog, or without a success (or any poll) since `stale_since` (None: none can be
        stale). A superset read from the rows alone: the console decides on each with the configuration."""
        stale, params = "", []
        if stale_since is not None:
            stale, params = " OR COALESCE(last_success, first_attempt, last_attempt) < ?", [ts(stale_since)]
        rows = self._rows(
            "SELECT * FROM sources WHERE consecutive_failures > 0 OR paused_at IS NOT NULL OR empty_flag = 1"
            f" OR cursor IS NOT NULL{stale}",
            params,
        )
        return {r["id"]: SourceState.from_row(r) for r in rows}
