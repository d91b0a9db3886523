"""End-to-end ingest throughput and memory: a 5,000-item feed on a local HTTP server through fetch, parse,
store, match and queue, then the outbox to the terminal channel. Prints figures; asserts nothing."""

from __future__ import annotations

import random
import resource
import tempfile
import time
from pathlib import Path

from treatywatch.app import build_app
from treatywatch.config import load_config
from treatywatch.localserve import FixtureServer
from treatywatch.matching import Watchlist

ROOT = Path(__file__).resolve().parent.parent
TOPICAL = [
    "Russia terminates military agreement with France",
    "EU debates frozen Russian assets at Euroclear",
    "Правительство прекратило действие соглашения с Канадой",
]


def big_feed(n: int, rng: random.Random) -> bytes:
    words = "market weather council budget school storm city police minister talks trade energy".split()
    items = []
    for i in range(n):
        title = TOPICAL[i % 3] + f" ({i})" if i % 100 == 0 else " ".join(rng.choice(words) for _ in range(10))
        summary = " ".join(rng.choice(words) for _ in range(30))
        items.append(
            f"<item><title>{title}</title><link>https://example.org/{i}</link><guid>g{i}</guid>"
            f"<description>{summary}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def main() -> None:
    operator = load_config(ROOT / "config", {})
    body = big_feed(5000, random.Random(3))
    with tempfile.TemporaryDirectory() as tmp, FixtureServer() as http:
        http.routes["/big.xml"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, body)
        from treatywatch.config.models import ConfigFile, Settings

        sources = ConfigFile.model_validate(
            {"sources": [{"id": "big", "type": "feed", "url": f"{http.base}/big.xml"}]}
        ).sources
        config = operator.model_copy(
            update={"sources": sources, "subscribers": [], "settings": Settings(state_dir=Path(tmp), web_port=0)}
        )
        app = build_app(config, Watchlist(config), echo=lambda _: None)
        start = time.perf_counter()
        result = app.runner.poll("big")
        ingest = time.perf_counter() - start
        start = time.perf_counter()
        stats = app.outbox.run_once()
        deliver = time.perf_counter() - start
        start = time.perf_counter()
        again = app.runner.poll("big")
        repoll = time.perf_counter() - start
        app.close()
    print(
        f"feed of {len(body) / 1e6:.1f} MB, {len(result.items)} items: first poll {ingest:.2f}s "
        f"({len(result.items) / ingest:,.0f} items/s through fetch, parse, store, match, queue), "
        f"{result.alerts} alerts"
    )
    print(f"outbox: {stats.sent} deliveries in {deliver:.2f}s; unchanged re-poll: {again.new} new in {repoll:.2f}s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
