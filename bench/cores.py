"""A cold pass over a local feed farm with the daemon's parsing and matching in-process (poll_processes 0) and in
worker processes (poll_processes N): wall time, CPU of every process, peak RSS summed over the process tree.

The farm is bench/farmlib.py's (Debian's nginx serving N generated RSS feeds of 20 items on 127.0.0.1, the example
watchlist). Each run starts one real `treatywatch run` on an empty SQLite database whose schedule has every source
due a few seconds after the start (`due_at`), so its start-up (imports, configuration, the workers' watchlists) and
the pass are measured apart: the user+sys CPU of the daemon and of its children (its workers; one it replaced counts
through its reaped children) at the sources' turn and when the last item is stored, and the peak of the summed RSS
of the daemon and its children (sampled every 50 ms). Each run's items, matches and alerts are counted: the runs
must agree. Prints a Markdown table and writes it to bench/results/cores-<date>.md; asserts nothing about time.

Usage: python bench/cores.py [--feeds 1000] [--processes 0 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]
from farmlib import ITEMS_PER_FEED, ROOT, Nginx, farm_tree, stop_daemons, write_treatywatch_config  # noqa: E402

from treatywatch.store.base import ts  # noqa: E402

TREATYWATCH = str(ROOT / ".venv" / "bin" / "treatywatch")


@dataclass(frozen=True)
class Pass:
    processes: int
    startup_daemon: float  # CPU seconds until the sources fell due (imports, configuration, the workers' own)
    startup_workers: float
    wall: float  # seconds from the sources' turn to the last item stored
    cpu_daemon: float  # CPU seconds of the pass
    cpu_workers: float
    peak_rss_mb: float
    items: int
    matches: int
    alerts: int

    def row(self, feeds: int) -> str:
        cpu = self.cpu_daemon + self.cpu_workers
        return (
            f"| {self.processes} | {self.startup_daemon:.1f} / {self.startup_workers:.1f} | {self.wall:.1f} "
            f"| {feeds / self.wall:.0f} | {self.cpu_daemon:.1f} | {self.cpu_workers:.1f} | {cpu:.1f} "
            f"| {cpu / self.wall:.2f} | {self.peak_rss_mb:.0f} | {self.items} | {self.matches} | {self.alerts} |"
        )


def cpu(proc: psutil.Process) -> float:
    """User+sys CPU of a process, with that of the children it reaped (workers replaced or ended)."""
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class Sampler:
    """The peak of the summed RSS of a process and its children, every 50 ms."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.peak = proc, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [self.proc, *self.proc.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            self.peak = max(self.peak, total)
            self._done.wait(0.05)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def due_at(cfg: Path, state: Path, when: datetime) -> None:
    """The store's schedule written before the daemon starts, every source's first turn at `when`: the pass is paced
    by the daemon's work (not by the start-up spread of new sources, 50 a second: schedule.first_due), and it starts
    once the daemon and its workers are up, so start-up and the pass are measured apart."""
    from treatywatch.config import load_config
    from treatywatch.schedule import plan
    from treatywatch.store import open_store

    config = load_config(cfg)
    store = open_store("treatywatch.db", state)
    try:
        store.plan_sources(plan(config, when))
    finally:
        store.close()
    with sqlite3.connect(state / "treatywatch.db") as conn:
        conn.execute("UPDATE sources SET next_due = ?", (ts(when),))


def tree_cpu(ps: psutil.Process) -> tuple[float, float]:
    """(the daemon's CPU, its children's): the workers, the resource tracker."""
    children = 0.0
    for child in ps.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children += cpu(child)
    return cpu(ps), children


def one_pass(run: int, processes: int, cfg: Path, tmp: Path, expected: int, warmup: float) -> Pass:
    state = tmp / f"state-{run}-{processes}"
    db = state / "treatywatch.db"
    (cfg / "settings.yaml").write_text(
        (cfg / "settings.yaml").read_text(encoding="utf-8").split("  poll_processes:")[0]
        + f"  poll_processes: {processes}\n",
        encoding="utf-8",
    )
    due_at(cfg, state, datetime.now(UTC) + timedelta(days=1))  # planned (seconds for thousands of sources) ...
    cmd = [TREATYWATCH, "--config", str(cfg), "--state-dir", str(state), "--log-level", "WARNING", "run"]
    with (tmp / f"daemon-{run}-{processes}.log").open("wb") as log:
        launched = time.perf_counter()
        with sqlite3.connect(db) as conn:  # ... and due `warmup` seconds from the launch
            conn.execute("UPDATE sources SET next_due = ?", (ts(datetime.now(UTC) + timedelta(seconds=warmup)),))
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    sampler = Sampler(ps)
    try:
        time.sleep(max(0.0, warmup - 0.5 - (time.perf_counter() - launched)))
        if count(db, "SELECT count(*) FROM items"):
            raise RuntimeError("items stored before the sources' turn")
        start = time.perf_counter()
        before = tree_cpu(ps)
        while count(db, "SELECT count(*) FROM items") < expected:
            if time.perf_counter() - start > 3600 or proc.poll() is not None:
                raise RuntimeError(f"poll_processes {processes}: the pass did not complete; see {tmp}")
            time.sleep(0.1)
        wall = time.perf_counter() - start
        after = tree_cpu(ps)
    finally:
        peak = sampler.stop()
        stop_daemons([proc])
    return Pass(
        processes,
        before[0],
        before[1],
        wall,
        after[0] - before[0],
        after[1] - before[1],
        peak / 1e6,
        count(db, "SELECT count(*) FROM items"),
        count(db, "SELECT count(*) FROM matches"),
        count(db, "SELECT count(*) FROM alerts"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--processes", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--warmup", type=float, default=12.0, help="seconds from the daemon's start to the sources' turn")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    results: list[Pass] = []
    started = datetime.now(UTC)
    load = psutil.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cores-") as raw:
        tmp = Path(raw)
        www, mbytes = farm_tree(tmp, args.feeds)
        expected = args.feeds * ITEMS_PER_FEED
        with Nginx(tmp / "nginx", www) as nginx:
            cfg = tmp / "config"
            urls = [nginx.url(f) for f in range(args.feeds)]
            write_treatywatch_config(cfg, tmp / "state", urls, every="1h", extra_settings="  lease: 300s\n")
            for run, n in enumerate(args.processes):
                results.append(one_pass(run, n, cfg, tmp, expected, args.warmup))
                print(results[-1], flush=True)
    head = (
        f"# Cold pass, {args.feeds} feeds x {ITEMS_PER_FEED} items ({mbytes:.0f} MB), poll_processes "
        f"{' vs '.join(str(n) for n in args.processes)}, {started:%Y-%m-%d %H:%M} UTC\n\n"
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average before {load[0]:.1f}; one `treatywatch run` on an empty SQLite "
        f"database, every source due {args.warmup:g} s after its start (its start-up and its workers' done by then); "
        "wall and CPU of the pass: that turn to the last item stored; peak RSS: the daemon and its children, summed, "
        "over the whole run.\n\n"
        "| poll_processes | start-up CPU s daemon / workers | pass wall s | feeds/s | pass CPU daemon s "
        "| pass CPU workers s | pass CPU all s | cores busy | peak RSS MB (sum) | items | matches | alerts |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    table = head + "\n".join(r.row(args.feeds) for r in results) + "\n"
    same = {(r.items, r.matches, r.alerts) for r in results}
    table += "\n" + ("Every run stored, matched and alerted the same." if len(same) == 1 else f"RUNS DIFFER: {same}")
    print(table)
    out = args.out or HERE / "results" / f"cores-{started:%Y-%m-%d-%H%M}-{args.feeds}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
