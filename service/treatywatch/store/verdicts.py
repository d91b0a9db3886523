"""The analysts' verdicts: "correct" or "false alarm" on an alert or one of its reports, "should have fired W" on
any stored item. One row per subject (a later verdict replaces an earlier one); every verdict is also an event in
the desk's history, so nothing said is lost. A mixin of SqlStore, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import FilterError, NotFoundError
from .base import Row, dt_req, ts
from .desk import DeskStore
from .models import AlertLoss, StoredItem, Verdict

VERDICTS = ("correct", "false_alarm", "miss")


@dataclass(frozen=True)
class Label:
    """What the desk says one item should do for one watch: fire (correct, miss) or not (false alarm)."""

    item_id: int
    watch_id: str
    fire: bool
    verdict: Verdict


def _verdict(r: Row) -> Verdict:
    return Verdict(
        r["subject"],
        None if r["alert_id"] is None else int(r["alert_id"]),
        None if r["item_id"] is None else int(r["item_id"]),
        r["watch_id"],
        r["verdict"],
        r["note"],
        r["actor"],
        dt_req(r["at"]),
    )


class VerdictStore(DeskStore):
    def set_verdict(
        self,
        verdict: str,
        actor: str,
        now: datetime,
        *,
        alert_id: int | None = None,
        item_id: int | None = None,
        watch_id: str | None = None,
        note: str = "",
    ) -> Verdict:
        """correct / false_alarm: on `alert_id`, or on its report `item_id`; miss: `item_id` should have fired
        `watch_id` (a watch of the configuration: the caller checks). Replaces an earlier verdict on the same
        subject; recorded in the history with who and when."""
        if verdict not in VERDICTS:
            raise FilterError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        note = note.strip()[:2000]
        with self.transaction() as conn:
            if verdict == "miss":
                if item_id is None or not watch_id:
                    raise FilterError("a miss names the item and the watch it should have fired")
                if conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
                    raise NotFoundError(f"no item {item_id}")
                subject, kind, target = f"miss:{item_id}:{watch_id}", "item", str(item_id)
            else:
                if alert_id is None:
                    raise FilterError(f"{verdict} is said of an alert (and optionally one of its reports)")
                row = conn.execute("SELECT watch_id FROM alerts WHERE id = ?", (alert_id,)).fetchone()
                if row is None:
                    raise NotFoundError(f"no alert {alert_id}")
                watch_id = row["watch_id"]
                if item_id is not None:
                    found = conn.execute(
                        "SELECT 1 FROM alert_reports WHERE alert_id = ? AND item_id = ?", (alert_id, item_id)
                    ).fetchone()
                    if found is None:
                        raise NotFoundError(f"item {item_id} is not a report of alert {alert_id}")
                subject = f"report:{alert_id}:{item_id}" if item_id is not None else f"alert:{alert_id}"
                kind, target = "alert", str(alert_id)
            conn.execute(
                "INSERT INTO verdicts (subject, alert_id, item_id, watch_id, verdict, note, actor, at) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET verdict = excluded.verdict,"
                " note = excluded.note, actor = excluded.actor, at = excluded.at",
                (subject, alert_id, item_id, watch_id, verdict, note, actor, ts(now)),
            )
            said = verdict.replace("_", " ") + (f" (item {item_id})" if item_id and verdict != "miss" else "")
            said += f": should have fired {watch_id}" if verdict == "miss" else ""
            self._event(conn, kind, target, "verdict", said + (f": {note}" if note else ""), actor, now)
        assert watch_id is not None
        return Verdict(subject, alert_id, item_id, watch_id, verdict, note, actor, now)

    def verdicts(self, alert_id: int | None = None, item_id: int | None = None) -> list[Verdict]:
        """Every verdict (or those on this alert, or naming this item), newest first."""
        sql, params = "SELECT * FROM verdicts WHERE 1=1", list[object]()
        if alert_id is not None:
            sql += " AND alert_id = ?"
            params.append(alert_id)
        if item_id is not None:
            sql += " AND item_id = ?"
            params.append(item_id)
        return [_verdict(r) for r in self._rows(sql + " ORDER BY at DESC, subject", params)]

    def labels(self) -> list[Label]:
        """The verdicts as (item, watch, should fire): an alert's verdict speaks for each of its reports, unless a
        verdict on the report itself says otherwise."""
        out: dict[tuple[int, str], Label] = {}
        rows = self._rows(
            "SELECT v.*, ar.item_id AS report_item FROM verdicts v JOIN alert_reports ar ON ar.alert_id = v.alert_id"
            " WHERE v.subject LIKE 'alert:%' ORDER BY ar.item_id"
        )
        for r in rows:
            v = _verdict(r)
            out[(int(r["report_item"]), v.watch_id)] = Label(
                int(r["report_item"]), v.watch_id, v.verdict == "correct", v
            )
        for v in map(_verdict, self._rows("SELECT * FROM verdicts WHERE subject NOT LIKE 'alert:%'")):
            assert v.item_id is not None
            out[(v.item_id, v.watch_id)] = Label(v.item_id, v.watch_id, v.verdict != "false_alarm", v)
        return sorted(out.values(), key=lambda lab: (lab.watch_id, lab.item_id))

    def alert_losses(self, stopped: list[tuple[int, str]]) -> list[AlertLoss]:
        """The stored alerts whose reports these (item, watch) pairs are, for the alert's own watch: how many of
        each alert's reports would stop firing it (impact.py)."""
        by_item: dict[int, set[str]] = {}
        for item_id, watch in stopped:
            by_item.setdefault(item_id, set()).add(watch)
        out: dict[int, list[Any]] = {}
        ids = list(by_item)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._rows(
                "SELECT ar.alert_id, ar.item_id, a.watch_id, a.title, a.report_count FROM alert_reports ar JOIN alerts"
                f" a ON a.id = ar.alert_id WHERE ar.item_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for r in rows:
                if r["watch_id"] in by_item[int(r["item_id"])]:
                    entry = out.setdefault(int(r["alert_id"]), [r["watch_id"], r["title"], 0, int(r["report_count"])])
                    entry[2] += 1
        return [AlertLoss(i, *out[i]) for i in sorted(out)]

    def stored_match(self, item_id: int, watch_id: str) -> str | None:
        """The explanation (JSON) the watch gave when it fired on the item, newest revision first; None if never."""
        rows = self._rows(
            "SELECT explanation FROM matches WHERE item_id = ? AND watch_id = ? ORDER BY revision DESC LIMIT 1",
            [item_id, watch_id],
        )
        return str(rows[0]["explanation"]) if rows else None

    def item_batches(self, since: datetime, size: int = 2000) -> Iterator[list[StoredItem]]:
        """Items first seen since then, oldest first, `size` at a time (keyset paging: each batch one indexed read,
        memory bounded however many there are)."""
        after = 0
        while True:
            rows = self._rows(
                "SELECT * FROM items WHERE first_seen >= ? AND id > ? ORDER BY id LIMIT ?", [ts(since), after, size]
            )
            if not rows:
                return
            yield [self._stored_item(r) for r in rows]
            after = int(rows[-1]["id"])
