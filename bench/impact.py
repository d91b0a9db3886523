"""Impact of a watchlist edit over 100,000 stored items (30 days of a busy desk), on one core.

Target (issue 20): under 30 s. The items are written to a fresh SQLite file in a temporary folder: a third news
vocabulary (terms the example watches know), the rest filler, one in three Russian, each text different; 200 of
them carry verdicts. Two edits are measured: one watch's query (only that watch is run on both sides), and a term
set (every watch on both sides). Prints figures; asserts nothing.

    .venv/bin/python bench/impact.py [N]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from treatywatch.alerts import AlertPlan
from treatywatch.app import compile_config
from treatywatch.impact import changed_watches, impact
from treatywatch.items import make_item
from treatywatch.matching.text import Analyzer
from treatywatch.store import SourceState, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching import corpus

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 31, 12, tzinfo=UTC)
FROZEN = '"@frozen_assets AND @russia"'


def fill(store: Store, n: int) -> None:
    rng = random.Random(20)
    source = SourceState("bench")
    batch: list = []
    for i, item in enumerate(corpus(n, rng, topical=0.3)):
        fresh = make_item("bench", title=item.title, summary=item.summary, guid=f"g{i}", language=item.language)
        batch.append((fresh, None))
        if len(batch) == 5000:
            store.commit_poll(source, batch, [], AlertPlan(), [], [], NOW - timedelta(days=29))
            batch = []
    if batch:
        store.commit_poll(source, batch, [], AlertPlan(), [], [], NOW - timedelta(days=29))
    for item_id in range(1, n, max(1, n // 200)):
        store.set_verdict("miss", "bench", NOW, item_id=item_id, watch_id="frozen-assets")


def edited(folder: Path, where: str, old: str, new: str, name: str) -> Path:
    """A copy of the example configuration with `old` replaced by `new` in the file `where`."""
    target = folder / name
    target.mkdir()
    for file in (ROOT / "config").glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        (target / file.name).write_text(text.replace(old, new) if file.name == where else text, encoding="utf-8")
    return target


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    analyzer = Analyzer()
    current_config, current = compile_config(ROOT / "config", analyzer=analyzer)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store(folder / "bench.db")
        started = time.perf_counter()
        fill(store, n)
        print(f"stored {n:,} items in {time.perf_counter() - started:.1f}s")
        since = NOW - timedelta(days=30)
        edits = [
            ("one watch's query", "watches.yaml", FROZEN, FROZEN[:-1] + ' AND NOT war"'),
            (
                "a term set (every watch)",
                "terms.yaml",
                "  frozen_assets:",
                "  unused:\n    en: [nothing]\n  frozen_assets:",
            ),
        ]
        for i, (what, where, old, new) in enumerate(edits):
            config, candidate = compile_config(edited(folder, where, old, new, f"edit{i}"), analyzer=analyzer)
            only = changed_watches(current_config, config)
            result = impact(store, current, candidate, since, only=only)
            print(
                f"{what}: {result.items:,} items in {result.seconds:.1f}s "
                f"({result.items / max(result.seconds, 1e-9):,.0f} items/s; watches compared: "
                f"{', '.join(result.watches)}); appear {result.appear}, disappear {result.disappear}, "
                f"flips {len(result.flips)}"
            )
        store.close()


if __name__ == "__main__":
    main()
