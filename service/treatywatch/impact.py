"""What a watchlist change would do, before it goes live: the stored items of the last days run through the
candidate watchlist beside the running one. Which (item, watch) pairs would start or stop firing, and which of the
desk's verdicts would flip: a false alarm fixed, a miss caught, a correct alert lost, a new false alarm.

Each watchlist is compiled once and items are read in batches (memory stays bounded). When the two configurations
differ in their watches only (terms, entities and agreements unchanged), only the watches that changed are
evaluated: an unchanged watch over unchanged sets fires the same way on both sides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .config.models import Config
from .items import Item
from .matching import Match, Watchlist
from .store.models import AlertLoss

if TYPE_CHECKING:
    from .store import SqlStore

BATCH = 2000
MAX_LISTED = 500  # changes listed in full; the counts are always whole
FLIPS = {
    (True, False, False): "false alarm fixed",
    (True, True, False): "correct alert lost",
    (False, True, True): "miss caught",
    (False, False, True): "new false alarm",
}  # (fired before, should fire, fires after)


@dataclass(frozen=True)
class Change:
    item_id: int
    title: str
    source: str
    watch: str
    appears: bool  # True: the candidate fires where the running one does not; False: the reverse
    why: str  # the explanation of the side that fires

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "source": self.source, "watch": self.watch,
                "change": "appears" if self.appears else "disappears", "why": self.why}  # fmt: skip


@dataclass(frozen=True)
class Flip:
    change: Change
    kind: str  # one of FLIPS' values
    verdict: str
    note: str
    by: str

    def to_json(self) -> dict[str, Any]:
        return self.change.to_json() | {"flip": self.kind, "verdict": self.verdict, "note": self.note, "by": self.by}


@dataclass
class Impact:
    since: datetime
    items: int = 0
    seconds: float = 0.0
    watches: list[str] = field(default_factory=list)  # the watches evaluated (all, or those that changed)
    appear: int = 0
    disappear: int = 0
    changes: list[Change] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)
    alerts: list[AlertLoss] = field(default_factory=list)  # stored alerts that would lose reports, or vanish

    @property
    def correct_lost(self) -> list[Flip]:
        return [f for f in self.flips if f.kind == "correct alert lost"]

    def text(self) -> str:
        lines = [
            f"{self.items} items since {self.since:%Y-%m-%d %H:%M} in {self.seconds:.1f}s "
            f"({len(self.watches)} watches compared)",
            f"would appear: {self.appear}, would disappear: {self.disappear}",
        ]
        for c in self.changes:
            lines.append(
                f"  {'+' if c.appears else '-'} item {c.item_id} {c.watch}: {c.title[:90]}\n      {c.why[:300]}"
            )
        gone = [a for a in self.alerts if a.gone]
        lines.append(
            f"stored alerts that would not open: {len(gone)}; that would lose reports: {len(self.alerts) - len(gone)}"
        )
        for a in self.alerts:
            what = "would not open" if a.gone else f"would lose {a.lost} of {a.reports} reports"
            lines.append(f"  alert #{a.alert_id} ({a.watch}) {what}: {a.title[:90]}")
        lines.append(f"verdicts that flip: {len(self.flips)}")
        for f in self.flips:
            lines.append(f"  {f.kind}: item {f.change.item_id} {f.change.watch} (said {f.verdict} by {f.by})")
        if self.correct_lost:
            lines.append(f"WARNING: {len(self.correct_lost)} alerts the desk called correct would be lost")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "items": self.items,
            "seconds": round(self.seconds, 3),
            "watches": self.watches,
            "appear": self.appear,
            "disappear": self.disappear,
            "changes": [c.to_json() for c in self.changes],
            "flips": [f.to_json() for f in self.flips],
            "alerts": [a.to_json() for a in self.alerts],
        }


def changed_watches(current: Config, candidate: Config) -> list[str] | None:
    """The watch ids to compare, or None for all: when anything a watch reads besides its own definition changed
    (term sets, entities, agreements, vocabularies, the gazetteer), every watch may fire differently."""
    shared = ("terms", "entities", "agreements", "vocabularies", "gazetteer")
    if any(getattr(current, k) != getattr(candidate, k) for k in shared):
        return None
    before = {w.id: w for w in current.watches}
    return sorted(w.id for w in candidate.watches if before.get(w.id) != w) + sorted(
        i for i in before if i not in {w.id for w in candidate.watches}
    )


def _fired(watchlist: Watchlist, item: Item, only: list[str] | None) -> dict[str, Match]:
    return {m.watch_id: m for m in watchlist.match(item, only=only)}


def label_flips(store: SqlStore, current: Watchlist, candidate: Watchlist) -> list[Flip]:
    """Only the desk's labeled items, through both watchlists: what a reload about to happen does to the verdicts
    (cheap: as many items as verdicts, so the daemon checks every reload)."""
    out = []
    for label in store.labels():
        stored = store.get_item(label.item_id)
        before = _fired(current, stored.item, [label.watch_id])
        after = _fired(candidate, stored.item, [label.watch_id])
        fired, fires = label.watch_id in before, label.watch_id in after
        kind = FLIPS.get((fired, label.fire, fires))
        if kind is None:
            continue
        why = (after if fires else before)[label.watch_id].why()
        change = Change(stored.id, stored.item.title, stored.item.source_id, label.watch_id, fires, why)
        v = label.verdict
        out.append(Flip(change, kind, v.verdict, v.note, v.actor))
    return out


def impact(
    store: SqlStore,
    current: Watchlist,
    candidate: Watchlist,
    since: datetime,
    only: list[str] | None = None,
    batch: int = BATCH,
) -> Impact:
    """Run both watchlists over the items first seen since `since`; `only`: compare just these watches."""
    started = time.perf_counter()
    result = Impact(since)
    labels: dict[tuple[int, str], Any] = {(lab.item_id, lab.watch_id): lab for lab in store.labels()}
    ids = {w.id for w in current.watches} | {w.id for w in candidate.watches}
    result.watches = sorted(ids if only is None else set(only) & ids)
    if only is not None and not result.watches:
        return result
    lost: list[Change] = []
    for chunk in store.item_batches(since, batch):
        for stored in chunk:
            result.items += 1
            before = _fired(current, stored.item, only)
            after = _fired(candidate, stored.item, only)
            for watch in sorted(before.keys() ^ after.keys()):
                appears = watch in after
                why = (after if appears else before)[watch].why()
                change = Change(stored.id, stored.item.title, stored.item.source_id, watch, appears, why)
                if appears:
                    result.appear += 1
                else:
                    result.disappear += 1
                    lost.append(change)
                if len(result.changes) < MAX_LISTED:
                    result.changes.append(change)
                label = labels.get((stored.id, watch))
                kind = FLIPS.get((not appears, label.fire, appears)) if label is not None else None
                if label is not None and kind is not None:
                    v = label.verdict
                    result.flips.append(Flip(change, kind, v.verdict, v.note, v.actor))
    result.alerts = store.alert_losses([(c.item_id, c.watch) for c in lost])
    result.seconds = time.perf_counter() - started
    return result
