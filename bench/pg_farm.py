"""A cold pass over a local feed farm with 1, 2 and 4 daemons on PostgreSQL, beside one daemon on SQLite.

The farm is bench/farmlib.py's (Debian's nginx serving N generated RSS feeds of 20 items on 127.0.0.1); PostgreSQL
is a throwaway server started like the tests' (tests/pg.py: initdb into a temp dir, a free port). Each run starts
K real `treatywatch run` daemons on an empty database and measures the wall time until every item is stored, the
CPU the daemons and the PostgreSQL server used (less the bench's own counting), and checks the outcome (items
stored once, the same alerts as SQLite). Prints a Markdown table and writes it to bench/results/pg-farm-<date>.md.

Usage: python bench/pg_farm.py [--feeds 5000] [--daemons 1 2 4] [--out FILE]
"""

from __future__ import annotations

import argparse
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from farmlib import ITEMS_PER_FEED, ROOT, Nginx, write_feeds, write_treatywatch_config  # noqa: E402

from pg import PgServer  # noqa: E402

TREATYWATCH = str(ROOT / ".venv" / "bin" / "treatywatch")


@dataclass(frozen=True)
class Pass:
    engine: str
    daemons: int
    wall: float
    cpu_daemons: float
    cpu_db: float
    items: int
    alerts: int

    @property
    def cpu_per_item(self) -> float:
        """Milliseconds of CPU per stored item, the daemons' and the database server's together."""
        return 1000 * (self.cpu_daemons + self.cpu_db) / self.items if self.items else 0.0

    def row(self, feeds: int, sqlite: Pass | None = None) -> str:
        rate = self.items / self.wall if self.wall else 0.0
        ratio = f"{self.cpu_per_item / sqlite.cpu_per_item:.2f}x" if sqlite and sqlite.cpu_per_item else "-"
        return (
            f"| {self.engine} | {self.daemons} | {self.wall:.1f} | {feeds / self.wall:.0f} | {rate:.0f} "
            f"| {self.cpu_daemons:.1f} | {self.cpu_db:.1f} | {self.cpu_per_item:.3f} | {ratio} | {self.items} "
            f"| {self.alerts} |"
        )


def tree_cpu(proc: psutil.Process) -> float:
    """User+sys CPU of a process and its children, live and reaped."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return total


def one_pass(
    engine: str, database: str, daemons: int, cfg: Path, tmp: Path, expected: int, count: Callable[[str], int]
) -> Pass:
    procs = []
    for k in range(daemons):
        cmd = [TREATYWATCH, "--config", str(cfg), "--state-dir", str(tmp / f"state-{engine}-{daemons}-{k}")]
        cmd += ["--database", database, "--log-level", "WARNING", "run"]
        log = (tmp / f"{engine}-{daemons}-{k}.log").open("wb")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    start = time.perf_counter()
    deadline = start + 3600
    try:
        while count("SELECT count(*) FROM items") < expected:
            if time.perf_counter() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{engine} x{daemons}: the pass did not complete; see {tmp}")
            time.sleep(0.25)
        wall = time.perf_counter() - start
        cpu = sum(tree_cpu(psutil.Process(p.pid)) for p in procs)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    items, alerts = count("SELECT count(*) FROM items"), count("SELECT count(*) FROM alerts")
    return Pass(engine, daemons, wall, cpu, 0.0, items, alerts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=5000)
    ap.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import psycopg

    results: list[Pass] = []
    with tempfile.TemporaryDirectory(prefix="pg-farm-") as raw:
        tmp = Path(raw)
        tmp.chmod(0o755)
        www = tmp / "www"
        www.mkdir()
        (tmp / "nginx").mkdir()
        mbytes = write_feeds(www, args.feeds) / 1e6
        expected = args.feeds * ITEMS_PER_FEED
        pg_root = Path(tempfile.mkdtemp(prefix="tw-pg-"))
        server = PgServer(pg_root)
        with Nginx(tmp / "nginx", www) as nginx:
            cfg = tmp / "config"
            write_treatywatch_config(
                cfg, tmp / "state", [nginx.url(f) for f in range(args.feeds)], every="1h",
                extra_settings="  lease: 300s\n",
            )  # fmt: skip
            sqlite_db = tmp / "sqlite" / "treatywatch.db"

            def sqlite_count(sql: str) -> int:
                try:
                    with sqlite3.connect(sqlite_db) as conn:
                        return int(conn.execute(sql).fetchone()[0])
                except sqlite3.Error:
                    return 0

            results.append(one_pass("sqlite", f"sqlite:///{sqlite_db}", 1, cfg, tmp, expected, sqlite_count))
            print(results[-1], flush=True)
            server.start()
            try:
                for k in args.daemons:
                    url = server.new_database()
                    assert server.proc is not None
                    pg = psutil.Process(server.proc.pid)
                    with psycopg.connect(url, autocommit=True) as watch:
                        # the bench's own counting (a scan of items four times a second) is not the daemons' work:
                        # one connection, whose backend's CPU is taken out of the server's (a connection a count,
                        # as before, cost the server a backend's start-up each time besides)
                        watcher = psutil.Process(watch.info.backend_pid)

                        def pg_count(sql: str, watch: psycopg.Connection[tuple[int]] = watch) -> int:
                            try:
                                row = watch.execute(sql).fetchone()
                                return int(row[0]) if row else 0
                            except psycopg.Error:
                                return 0  # not migrated yet

                        before, counting = tree_cpu(pg), tree_cpu(watcher)
                        done = one_pass("postgresql", url, k, cfg, tmp, expected, pg_count)
                        db_cpu = tree_cpu(pg) - before - (tree_cpu(watcher) - counting)
                    results.append(Pass(done.engine, k, done.wall, done.cpu_daemons, db_cpu, done.items, done.alerts))
                    print(results[-1], flush=True)
            finally:
                server.stop()
    cores = psutil.cpu_count()
    head = (
        f"# Cold pass, {args.feeds} feeds x {ITEMS_PER_FEED} items ({mbytes:.0f} MB), {datetime.now(UTC):%Y-%m-%d}\n\n"
        f"{platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}; "
        "every daemon a `treatywatch run` on an empty database; wall = start of the daemons to the last item "
        "stored; CPU PostgreSQL = the server's processes, less the backend of the bench's own counting connection.\n\n"
        "| engine | daemons | wall s | feeds/s | items/s | CPU daemons s | CPU PostgreSQL s | CPU ms/item "
        "| CPU/item vs SQLite | items | alerts |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    table = head + "\n".join(r.row(args.feeds, results[0]) for r in results) + "\n"
    print(table)
    out = args.out or HERE / "results" / f"pg-farm-{datetime.now(UTC):%Y%m%d}-{args.feeds}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
