"""What a large desk's console overview costs to pick the sources that need attention, with N sources in a real
SQLite store (each polled a minute ago; one in 500 failing, one in 2,000 paused, one in 1,000 gone empty): every
source's row and health built and filtered (api.sources, as the overview did), against the rows that may need
attention read and weighed (api.attention). Prints the figures and checks both name the same sources.

Usage: python bench/overview_scale.py [--sizes 5000 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from treatywatch.config.models import Config
from treatywatch.store import Store
from treatywatch.store.base import ts
from treatywatch.web import api


def store_of(ids: list[str], where: Path, now: datetime) -> Store:
    store = Store(where / "treatywatch.db")
    polled = ts(now - timedelta(minutes=1))
    with store.transaction() as tx:
        tx.executemany(
            "INSERT INTO sources (id, last_attempt, last_success, consecutive_failures, empty_flag, paused_at,"
            " enabled) VALUES (?, ?, ?, ?, ?, ?, 1)",
            [
                (sid, polled, polled, int(i % 500 == 7), int(i % 1000 == 3), polled if i % 2000 == 11 else None)
                for i, sid in enumerate(ids)
            ],
        )
    return store


def run(n: int) -> str:
    ids = [f"farm-{i}" for i in range(n)]
    config = Config.model_validate(
        {"sources": [{"id": i, "type": "feed", "url": f"http://127.0.0.1/{i}.xml", "every": "15m"} for i in ids]}
    )
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="overview-") as tmp:
        store = store_of(ids, Path(tmp), now)
        app = SimpleNamespace(clock=lambda: now, config=config, store=store)
        try:
            started = time.process_time()
            every = [r["id"] for r in api.sources(app) if api.needs_attention(r)]  # type: ignore[arg-type]
            before = time.process_time() - started
            started = time.process_time()
            shown, _ = api.attention(app)  # type: ignore[arg-type]
            after = time.process_time() - started
        finally:
            store.close()
    same = "yes" if [r["id"] for r in shown] == every else "NO"
    return f"| {n:,} | {len(every):,} | {before:.2f} s | {after:.3f} s | {same} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    args = ap.parse_args()
    print("| sources | need attention | every row built and filtered | candidates read and weighed | same |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        print(run(n), flush=True)


if __name__ == "__main__":
    main()
