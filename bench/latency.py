"""Publish -> email latency: `treatywatch run` polls a small farm (nginx) every few seconds; one at a time, an item
about a tracked agreement is published on one of the feeds (the file rewritten), and the time until its email is in
a local SMTP sink (aiosmtpd) is recorded. Prints p50/p95/max over 50 items and the daemon's CPU meanwhile.

Each item is published at a random moment of the poll cycle, so a latency is the wait for the next poll (up to the
interval) plus the work: the target is p95 under the interval + 1 s.

Usage: python bench/latency.py [--items 50] [--feeds 20] [--interval 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmlib import ITEMS_PER_FEED, LANGS, ROOT, Nginx, rss_feed, rss_item, write_result, write_treatywatch_config

from treatywatch.localserve import SmtpSink

TOPIC = "Russia terminates the 1994 military cooperation agreement with France"


def wait_first_pass(db: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                done = conn.execute("SELECT count(*) FROM sources WHERE last_success IS NOT NULL").fetchone()[0]
            if done >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    raise RuntimeError("the daemon did not finish its first pass")


def arrived(sink: SmtpSink, marker: str) -> bool:
    return any(marker in str(m.get("Subject", "")) or marker in m.as_string() for m in list(sink.messages))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--interval", type=int, default=2, help="poll interval of every source, seconds")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(7)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="latency-") as tmp_name, SmtpSink() as sink:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        www, home = tmp / "www", tmp / "nginx"
        www.mkdir()
        home.mkdir()
        feeds: list[list[str]] = []
        base = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        for f in range(args.feeds):
            lang, words = LANGS[0]
            items = [
                rss_item(rng, lang, words, f, i, base - timedelta(minutes=9 * i), 0) for i in range(ITEMS_PER_FEED)
            ]
            feeds.append(items)
            (www / f"f{f}.xml").write_bytes(rss_feed(f, items, lang))
        with Nginx(home, www) as nginx:
            cfg, state = tmp / "config", tmp / "state"
            write_treatywatch_config(
                cfg,
                state,
                [nginx.url(f) for f in range(args.feeds)],
                every=f"{args.interval}s",
                extra_settings="  event_window: 1s\n  followup_delay: 0s\n  deliver_every: 1s\n",
                subscribers=f'subscribers:\n  - id: desk\n    notify: ["{sink.url()}"]\n',
            )
            with (tmp / "daemon.log").open("wb") as log:
                daemon = subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "treatywatch"), "--config", str(cfg), "run"],
                    cwd=tmp,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(os.environ, TREATYWATCH_LOG_LEVEL="WARNING"),
                )
            try:
                wait_first_pass(state / "treatywatch.db", args.feeds)
                proc = psutil.Process(daemon.pid)
                cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
                latencies: list[float] = []
                missed = 0
                for k in range(args.items):
                    time.sleep(rng.uniform(0, args.interval))  # a random moment of the poll cycle
                    f = k % args.feeds
                    marker = f"(ref {k:03d})"
                    when = datetime.now(UTC)
                    item = rss_item(rng, "en", LANGS[0][1], f, 1000 + k, when, 0, title=f"{TOPIC} {marker}")
                    feeds[f] = [item, *feeds[f][: ITEMS_PER_FEED - 1]]
                    part = www / f".f{f}.xml.new"
                    part.write_bytes(rss_feed(f, feeds[f], "en"))
                    published = time.monotonic()
                    os.replace(part, www / f"f{f}.xml")
                    deadline = published + args.interval + 30
                    while not arrived(sink, marker) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    if arrived(sink, marker):
                        latencies.append(time.monotonic() - published)
                    else:
                        missed += 1
                    time.sleep(1.1)  # the next publication falls in another second (nginx's ETag resolution)
                cpu = sum(proc.cpu_times()[:2]) - cpu0
                elapsed = time.monotonic() - t0
            finally:
                daemon.terminate()
                daemon.wait(30)
    if not latencies:
        raise SystemExit(f"no email arrived: see the daemon log ({missed} missed)")
    lat = sorted(latencies)
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    verdict = "met" if p95 < args.interval + 1 else "not met"
    text = (
        f"# Publish -> email latency, {started:%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `python bench/latency.py --items {args.items} --feeds {args.feeds} --interval {args.interval}`\n\n"
        f"| items | poll interval | p50 | p95 | max | missed | daemon CPU |\n|---|---|---|---|---|---|---|\n"
        f"| {len(lat)} | {args.interval} s | {p50:.2f} s | {p95:.2f} s | {lat[-1]:.2f} s | {missed} "
        f"| {cpu:.1f} s over {elapsed:.0f} s ({100 * cpu / elapsed:.0f} % of a core) |\n\n"
        f"Target p95 < interval + 1 s = {args.interval + 1} s: {verdict} "
        f"(p95 beyond the interval: {p95 - args.interval:+.2f} s).\n"
    )
    write_result(text, "latency", started, args.out)


if __name__ == "__main__":
    main()
