"""What a Prometheus scrape of /metrics costs with N sources, each polled twice (a new-items poll and a 304), with
their own series and past settings.metrics_sources_max (one series for all): lines, bytes, CPU of the exposition
and the memory the series hold (tracemalloc). The scrape-time gauges read a real SQLite store of those sources, as a
daemon's do. Prints the figures; asserts nothing.

Usage: python bench/metrics_scrape.py [--sizes 1000 5000 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from treatywatch.config.models import Config
from treatywatch.metrics import Metrics, StateSource
from treatywatch.store import Store
from treatywatch.store.base import ts


def store_of(ids: list[str], where: Path) -> Store:
    """A real SQLite store whose sources were each polled a minute ago, none failing, all planned: the scrape-time
    gauges read it as a daemon's would."""
    store = Store(where / "treatywatch.db")
    at = datetime.now(UTC)
    with store.transaction() as tx:
        tx.executemany(
            "INSERT INTO sources (id, last_attempt, last_success, enabled) VALUES (?, ?, ?, 1)",
            [(i, ts(at), ts(at)) for i in ids],
        )
    return store


def run(n: int, each: bool) -> str:
    ids = [f"farm-{i}" for i in range(n)]
    config = Config.model_validate(
        {
            "sources": [{"id": i, "type": "feed", "url": f"http://127.0.0.1/{i}.xml"} for i in ids],
            "settings": {"metrics_sources_max": n if each else 0},
        }
    )
    with tempfile.TemporaryDirectory(prefix="scrape-") as tmp:
        store = store_of(ids, Path(tmp))
        try:
            return _measure(n, each, config, store)
        finally:
            store.close()


def _measure(n: int, each: bool, config: Config, store: Store) -> str:
    ids = [s.id for s in config.sources]
    tracemalloc.start()
    metrics = Metrics()
    metrics.watch_state(StateSource(lambda: config, store))
    for sid in ids:
        metrics.fetched(sid, 0.02)
        metrics.polled(sid, "ok", 20, 0.05)
        metrics.fetched(sid, 0.01)
        metrics.polled(sid, "not_modified", 0, 0.01)
    held = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    started = time.process_time()
    text = metrics.exposition()
    cpu = time.process_time() - started
    mode = "each source's own series" if each else 'one series, source="*"'
    lines = text.count(b"\n")
    return f"| {n:,} | {mode} | {lines:,} | {len(text) / 1e6:.2f} MB | {cpu:.2f} s | {held:.0f} MB |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 50000])
    args = ap.parse_args()
    print("| sources | series | lines | a scrape | exposition CPU | memory the series hold |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        for each in (False, True):
            print(run(n, each), flush=True)


if __name__ == "__main__":
    main()
