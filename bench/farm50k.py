"""50,000 sources on one machine: daemons running for N minutes over a local farm at 15-minute intervals.

The farm is bench/farmlib.py's (Debian's nginx serving generated RSS files on 127.0.0.1), `--items` items a feed;
while the daemons run, a publisher adds `--new-per-minute` items a minute across the feeds, each one a report the
example watchlist alerts on, sent by e-mail to a local SMTP sink (aiosmtpd). Every daemon is a real
`treatywatch run` on an empty database (SQLite: one daemon; PostgreSQL: a throwaway server, `--daemons` of them),
so the run covers the first polls of the sources, spread over their interval by the dispatcher.

Prints, and writes to bench/results/farm50k-<engine>-<date>.md:
- schedule lag p50/p95 (the daemons' treatywatch_schedule_lag_seconds histogram: how long after its turn each
  poll started), polls and items stored a second;
- CPU of the daemons (and of PostgreSQL) over the run, and per pass (the CPU an interval's worth of polls costs:
  CPU over the run scaled to the interval), peak RSS of each daemon;
- publish -> e-mail latency of the published items whose feed came up in the run (an item waits for its feed's
  next turn: up to one interval);
- /metrics scraped as Prometheus does (`--scrape-every`, 15 s): each scrape's wall and size.

Usage: python bench/farm50k.py [--feeds 50000] [--minutes 10] [--engine sqlite|postgresql] [--daemons 2]
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from farmlib import (  # noqa: E402
    EN,
    ROOT,
    TOPICAL,
    Nginx,
    free_port,
    rss_item,
    stop_daemons,
    write_feeds,
    write_treatywatch_config,
)

from treatywatch.localserve import SmtpSink  # noqa: E402

TREATYWATCH = str(ROOT / ".venv" / "bin" / "treatywatch")


class Stamped(list[Any]):
    """The sink's message list, remembering when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def append(self, item: Any) -> None:
        self.at.append(time.time())
        super().append(item)


@dataclass
class Publisher:
    """Adds a new item to a random feed every few seconds, topical (it alerts), its title marked (report N)."""

    www: Path
    feeds: int
    per_minute: float
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    published: dict[str, float] = field(default_factory=dict)  # its title's marker -> when it went up
    stop: threading.Event = field(default_factory=threading.Event)
    _added: dict[int, list[str]] = field(default_factory=dict)

    def run(self) -> None:
        n = 0
        while not self.stop.wait(60.0 / self.per_minute):
            feed = self.rng.randrange(self.feeds)
            n += 1
            now = datetime.now(UTC)
            item = rss_item(self.rng, "en", EN, feed, 1000 + n, now, 0, title=f"{TOPICAL['en']} (report {n})")
            path = self.www / f"f{feed}.xml"
            text = path.read_text(encoding="utf-8")
            head, sep, rest = text.partition("<item>")
            path.with_suffix(".tmp").write_text(head + item + sep + rest, encoding="utf-8")
            path.with_suffix(".tmp").replace(path)  # atomic: nginx never serves half a file
            self.published[f"(report {n})"] = time.time()


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        for q in tree(p):
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
    return total


def rss_of(proc: psutil.Process) -> float:
    total = 0.0
    for q in tree(proc):
        try:
            total += q.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """A quantile from a cumulative Prometheus histogram [(le, count)], interpolated within its bucket."""
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return math.nan
    want, lo, below = q * total, 0.0, 0.0
    for le, count in buckets:
        if count >= want:
            if math.isinf(le):
                return lo
            return lo + (le - lo) * ((want - below) / (count - below) if count > below else 0.0)
        lo, below = le, count
    return lo


def lag_histogram(ports: list[int]) -> list[tuple[float, float]]:
    """The daemons' schedule-lag buckets, summed."""
    sums: dict[float, float] = {}
    pattern = re.compile(r'^treatywatch_schedule_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120) as resp:
            text = resp.read().decode()
        for le, count in pattern.findall(text):
            sums[float(le)] = sums.get(float(le), 0.0) + float(count)
    return sorted(sums.items())


@dataclass
class Scraper:
    """Prometheus, as a desk runs it: every daemon's /metrics every `every` seconds; each scrape's wall and size."""

    ports: list[int]
    every: float
    walls: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(self.every):
            for port in self.ports:
                started = time.monotonic()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120) as resp:
                        self.sizes.append(len(resp.read()))
                except OSError:
                    continue  # not serving yet: the next turn
                self.walls.append(time.monotonic() - started)

    def line(self) -> str:
        if not self.walls:
            return "none answered"
        walls = sorted(self.walls)
        return (
            f"{len(walls)} every {self.every:g} s: wall p50 {walls[len(walls) // 2]:.2f} s, max {walls[-1]:.2f} s, "
            f"last {self.sizes[-1] / 1e3:,.0f} kB"
        )


@dataclass
class Sampler:
    procs: list[psutil.Process]
    peak: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        self.peak = [0.0] * len(self.procs)
        while not self.stop.wait(2.0):
            for i, p in enumerate(self.procs):
                self.peak[i] = max(self.peak[i], rss_of(p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=2, help="items a feed holds at the start")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every", default="15m")
    ap.add_argument("--new-per-minute", type=float, default=6.0)
    ap.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--daemons", type=int, default=None, help="default: 1 on SQLite, 2 on PostgreSQL")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--scrape-every", type=float, default=15.0, help="scrape every daemon's /metrics this often (0: never)"
    )
    ap.add_argument("--dump", type=Path, default=None, help="write the e-mails received and the links published here")
    args = ap.parse_args()
    daemons = args.daemons or (1 if args.engine == "sqlite" else 2)
    with tempfile.TemporaryDirectory(prefix="farm50k-") as raw:
        tmp = Path(raw)
        tmp.chmod(0o755)
        www, home = tmp / "www", tmp / "nginx"
        www.mkdir()
        home.mkdir()
        t0 = time.perf_counter()
        mbytes = write_feeds(www, args.feeds, topical_every=0, items_per_feed=args.items) / 1e6
        print(f"farm: {args.feeds} feeds x {args.items} items, {mbytes:.0f} MB in {time.perf_counter() - t0:.0f}s")
        server = None
        if args.engine == "postgresql":
            from pg import PgServer

            server = PgServer(Path(tempfile.mkdtemp(prefix="tw-pg50k-")))
            server.start()
        sink = SmtpSink()
        sink.messages = Stamped()
        try:
            with Nginx(home, www) as nginx, sink:
                database = server.new_database() if server else f"sqlite:///{tmp / 'tw.db'}"
                result = run(args, daemons, tmp, www, nginx, sink, database, server)
        finally:
            if server is not None:
                server.stop()
    text = report(args, daemons, mbytes, result)
    print(text)
    out = args.out or HERE / "results" / f"farm50k-{args.engine}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
    out.write_text(text, encoding="utf-8")


@dataclass
class Result:
    wall: float
    polls: float
    lag_p50: float
    lag_p95: float
    cpu_daemons: float
    cpu_db: float
    peak_rss: list[float]
    items: int
    latencies: list[float]
    published: int
    scrapes: str = ""


def run(
    args: argparse.Namespace, daemons: int, tmp: Path, www: Path, nginx: Nginx, sink: SmtpSink, database: str,
    server: Any,
) -> Result:  # fmt: skip
    ports = [free_port() for _ in range(daemons)]
    procs = []
    for k in range(daemons):
        cfg = tmp / f"config{k}"
        write_treatywatch_config(
            cfg, tmp / f"state{k}", [nginx.url(f) for f in range(args.feeds)], every=args.every,
            extra_settings="  event_window: 1s\n  followup_delay: 0s\n  deliver_every: 5s\n  lease: 120s\n",
            subscribers=f"subscribers:\n  - id: desk\n    notify: ['{sink.url()}']\n",
        )  # fmt: skip
        text = (cfg / "settings.yaml").read_text().replace("web_port: 0", f"web_port: {ports[k]}")
        (cfg / "settings.yaml").write_text(text)
        log = (tmp / f"daemon{k}.log").open("wb")
        cmd = [TREATYWATCH, "--config", str(cfg), "--database", database, "run"]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    handles = [psutil.Process(p.pid) for p in procs]
    db_proc = psutil.Process(server.proc.pid) if server is not None else None
    db_before = cpu_of([db_proc]) if db_proc else 0.0
    count = counter(database)
    start = time.time()
    publisher = Publisher(www, args.feeds, args.new_per_minute)
    sampler = Sampler(handles)
    scraper = Scraper(ports, args.scrape_every)
    threads = [
        threading.Thread(target=publisher.run, daemon=True),
        threading.Thread(target=sampler.run, daemon=True),
        *([threading.Thread(target=scraper.run, daemon=True)] if args.scrape_every > 0 else []),
    ]
    for t in threads:
        t.start()
    try:
        deadline = start + 60 * args.minutes
        while time.time() < deadline:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a daemon exited; see {tmp}/daemon*.log")
            left = deadline - time.time()
            print(f"  {int(time.time() - start)}s: {count('SELECT count(*) FROM items')} items,"
                  f" {len(sink.messages)} e-mails, RSS {[round(rss_of(h)) for h in handles]} MB", flush=True)
            time.sleep(min(30.0, max(0.1, left)))
        wall = time.time() - start
        publisher.stop.set()
        sampler.stop.set()
        scraper.stop.set()
        cpu = cpu_of(handles)
        cpu_db = cpu_of([db_proc]) - db_before if db_proc else 0.0
        buckets = lag_histogram(ports)
        items = count("SELECT count(*) FROM items")
    finally:
        stop_daemons(procs)
    latencies = []
    bodies = [(at, str(m.get_body(("plain", "html")).get_content())) for at, m in zip(sink.messages.at, sink.messages,
                                                                                         strict=True)]  # fmt: skip
    if args.dump:
        mails = "\n=====\n".join(b for _, b in bodies)
        args.dump.write_text(mails + "\n\nPUBLISHED\n" + "\n".join(publisher.published), encoding="utf-8")
    for marker, when in publisher.published.items():
        got = [at for at, body in bodies if marker in body]
        if got:
            latencies.append(min(got) - when)
    return Result(wall, buckets[-1][1] if buckets else 0.0, quantile(buckets, 0.5), quantile(buckets, 0.95), cpu,
                  cpu_db, sampler.peak, items, sorted(latencies), len(publisher.published),
                  scraper.line() if args.scrape_every > 0 else "off")  # fmt: skip


def counter(database: str) -> Callable[[str], int]:
    if database.startswith("sqlite:///"):
        path = database.removeprefix("sqlite:///")

        def count(sql: str) -> int:
            try:
                with sqlite3.connect(path, timeout=30) as conn:
                    return int(conn.execute(sql).fetchone()[0])
            except sqlite3.Error:
                return 0

        return count
    import psycopg

    def pg_count(sql: str) -> int:
        try:
            with psycopg.connect(database) as conn:
                row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0
        except psycopg.Error:
            return 0

    return pg_count


def report(args: argparse.Namespace, daemons: int, mbytes: float, r: Result) -> str:
    every = float(args.every[:-1]) * {"s": 1, "m": 60, "h": 3600}[args.every[-1]]
    per_pass = (r.cpu_daemons + r.cpu_db) * every / r.wall
    lat = r.latencies

    def pct(q: float) -> str:
        return f"{lat[min(len(lat) - 1, int(q * len(lat)))]:.0f}" if lat else "-"

    return (
        f"# {args.feeds} sources, {args.engine}, {daemons} daemon(s), {r.wall / 60:.1f} min at {args.every}"
        f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"{platform.machine()}, {psutil.cpu_count()} cores (shared with other work), Python "
        f"{platform.python_version()}; farm {args.feeds} feeds x {args.items} items ({mbytes:.0f} MB), "
        f"{args.new_per_minute:g} new alerting items a minute; every daemon a `treatywatch run` on an empty "
        "database, first polls spread over the interval by the dispatcher.\n\n"
        "| figure | value |\n|---|---|\n"
        f"| polls | {r.polls:.0f} ({r.polls / r.wall:.1f}/s) |\n"
        f"| schedule lag p50 / p95 | {r.lag_p50:.2f} s / {r.lag_p95:.2f} s |\n"
        f"| items stored | {r.items} ({r.items / r.wall:.1f}/s) |\n"
        f"| CPU daemons / PostgreSQL over the run | {r.cpu_daemons:.0f} s / {r.cpu_db:.0f} s |\n"
        f"| CPU per pass (one interval's polls, scaled from the run) | {per_pass:.0f} s |\n"
        f"| peak RSS per daemon | {', '.join(f'{m:.0f} MB' for m in r.peak_rss)} |\n"
        f"| /metrics scrapes (as Prometheus) | {r.scrapes} |\n"
        f"| publish -> e-mail p50 / p95 / max | {pct(0.5)} s / {pct(0.95)} s / "
        f"{lat[-1] if lat else float('nan'):.0f} s ({len(lat)} of {r.published} published items reached the desk "
        "within the run; the others' feeds had not come up again) |\n"
    )


if __name__ == "__main__":
    main()
