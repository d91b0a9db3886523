"""`make bench-farm`: TreatyWatch against lemon24/reader on the same local feed farm, side by side.

For each size (500 and 5,000 feeds of 20 items, served by Debian's nginx on 127.0.0.1 with ETag/Last-Modified):
the fetch-only floor, `treatywatch poll --once` cold (all new) and warm (all 304), reader's
update_feeds(workers=16) cold and warm; then, on the smaller farm, the daemon's steady state (CPU per pass of a
running `treatywatch run`). Prints a Markdown table and writes it to bench/results/farm-<date>.md.

Usage: python bench/farm.py [--sizes 500 5000] [--steady 60] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmlib import (
    ITEMS_PER_FEED,
    ROOT,
    Nginx,
    Run,
    ensure_reader_venv,
    measure,
    write_feeds,
    write_result,
    write_treatywatch_config,
)

TREATYWATCH = [str(ROOT / ".venv" / "bin" / "treatywatch")]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


@dataclass
class SizeResult:
    feeds: int
    mbytes: float
    floor: Run | None = None
    # each side's start-up alone: the median wall of three processes that start as the pass does and stop before
    # its first request (ours: the pipeline imported, the configuration and watchlist compiled, a new database
    # created; reader: imported, its database opened)
    startup: dict[str, float] = field(default_factory=dict)
    ours: dict[str, Run] = field(default_factory=dict)
    reader: dict[str, Run] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def stored_items(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def run_size(n: int, tmp: Path, reader_python: Path, processes: str = "0") -> SizeResult:
    tmp.chmod(0o755)  # nginx's workers run as nobody when we are root
    www = tmp / "www"
    www.mkdir()
    size = write_feeds(www, n)
    result = SizeResult(n, size / 1e6)
    (tmp / "nginx").mkdir()
    with Nginx(tmp / "nginx", www) as nginx:
        urls = [nginx.url(f) for f in range(n)]
        (tmp / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
        result.floor = measure(
            [PYTHON, str(ROOT / "bench" / "fetch_floor.py"), str(tmp / "urls.txt")], log=tmp / "floor.log"
        )
        print(f"  floor            {result.floor.line()}", flush=True)

        cfg, state = tmp / "tw-config", tmp / "tw-state"
        write_treatywatch_config(cfg, state, urls, extra_settings=f"  poll_processes: {processes}\n")
        env = dict(os.environ, TREATYWATCH_CONFIG=str(cfg))
        result.startup["ours"] = startup(
            lambda i: [*TREATYWATCH, "--state-dir", str(tmp / f"probe-{i}"), "poll", "--once", "start-up-probe"],
            4,  # the unknown source: refused once the app is built, before anything is claimed or fetched
            env=env,
            cwd=tmp,
            log=tmp / "tw-startup.log",
        )
        for phase in ("cold", "warm"):
            run = measure([*TREATYWATCH, "poll", "--once"], env=env, cwd=tmp, log=tmp / f"tw-{phase}.log")
            result.ours[phase] = run
            print(f"  treatywatch {phase} {run.line()}", flush=True)
            if run.code != 0:
                result.notes.append(f"treatywatch {phase} pass exited {run.code}")
                print((tmp / f"tw-{phase}.log").read_text(errors="replace")[-2000:], file=sys.stderr)
        items = stored_items(state / "treatywatch.db") if (state / "treatywatch.db").exists() else 0
        if items != n * ITEMS_PER_FEED:
            result.notes.append(f"treatywatch stored {items} items, expected {n * ITEMS_PER_FEED}")

        db = tmp / "reader.sqlite"
        subprocess.run(
            [str(reader_python), str(ROOT / "bench" / "reader_run.py"), "add", str(db), str(tmp / "urls.txt")],
            check=True,
        )
        result.startup["reader"] = startup(
            lambda i: [str(reader_python), str(ROOT / "bench" / "reader_run.py"), "open", str(db)],
            0,
            log=tmp / "reader-startup.log",
        )
        print(
            f"  start-up         ours {result.startup['ours']:.2f}s  reader {result.startup['reader']:.2f}s", flush=True
        )
        for phase in ("cold", "warm"):
            log = tmp / f"reader-{phase}.log"
            run = measure([str(reader_python), str(ROOT / "bench" / "reader_run.py"), "update", str(db)], log=log)
            result.reader[phase] = run
            print(f"  reader      {phase} {run.line()}  ({log.read_text().strip().splitlines()[-1:]})", flush=True)
    return result


def steady_state(n: int, tmp: Path, seconds: float, reader_python: Path, interval: int = 10) -> str:
    """CPU per pass of a running daemon over the farm beside reader's update_feeds in a running process, both at
    once over the same seconds, so both meet the same machine (run one after the other, a shared machine's drift
    moved either side by a fifth between runs). Each lets its cold pass and two intervals after it go by: reader
    (reader_run.py steady) says when it starts measuring, and the daemon's process CPU is read over the same
    `seconds` from then. Each side is a fraction of one core; the machine has two."""
    www = tmp / "www"
    www.mkdir()
    write_feeds(www, n)
    (tmp / "nginx").mkdir()
    tmp.chmod(0o755)
    with Nginx(tmp / "nginx", www) as nginx:
        cfg, state = tmp / "config", tmp / "state"
        write_treatywatch_config(cfg, state, [nginx.url(f) for f in range(n)], every=f"{interval}s")
        urls = tmp / "urls.txt"
        urls.write_text("\n".join(nginx.url(f) for f in range(n)) + "\n", encoding="utf-8")
        db = tmp / "reader.sqlite"
        runner = str(ROOT / "bench" / "reader_run.py")
        subprocess.run([str(reader_python), runner, "add", str(db), str(urls)], check=True)
        with (tmp / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                [*TREATYWATCH, "--config", str(cfg), "run"], cwd=tmp, stdout=log, stderr=subprocess.STDOUT
            )
        theirs_proc = subprocess.Popen(
            [str(reader_python), runner, "steady", str(db), str(seconds), str(interval)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            proc = psutil.Process(daemon.pid)
            assert theirs_proc.stdout is not None
            said = theirs_proc.stdout.readline().strip()  # reader's cold pass and two turns are behind it
            if said != "measuring":
                raise SystemExit(f"reader_run.py steady said {said!r}")
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # its cold pass was over long before, on the runs seen
                with sqlite3.connect(state / "treatywatch.db") as conn:
                    done = conn.execute("SELECT count(*) FROM sources WHERE last_success IS NOT NULL").fetchone()[0]
                if done >= n:
                    break
                time.sleep(1)
            before = proc.cpu_times()
            rss_before = proc.memory_info().rss
            time.sleep(seconds)
            after = proc.cpu_times()
            rss_after = proc.memory_info().rss
            out = theirs_proc.stdout.read()
        finally:
            daemon.terminate()
            daemon.wait(30)
            theirs_proc.wait(60)
    cpu = (after.user + after.system) - (before.user + before.system)
    passes = seconds / interval
    theirs = float(out.split("per_pass")[1])
    ours = cpu / passes
    return (
        f"steady state, {n} feeds every {interval}s (all 304), each in one running process, both at once over the "
        f"same {seconds:.0f} s: the daemon "
        f"{ours:.2f} s CPU per pass ({cpu:.1f} s over {seconds:.0f} s = {passes:.0f} passes; "
        f"{100 * cpu / seconds:.0f} % of one core; RSS {rss_before / 1e6:.0f} -> {rss_after / 1e6:.0f} MB), "
        f"reader's update_feeds {theirs:.2f} s CPU per pass ({out.strip()}): ours/reader {ours / theirs:.2f}"
    )


def startup(cmd: Callable[[int], list[str]], code: int, *, log: Path, **kw: Any) -> float:
    """The median wall of three runs of `cmd(i)`, each expected to exit with `code`."""
    walls = []
    for i in range(3):
        run = measure(cmd(i), log=log, **kw)
        if run.code != code:
            raise SystemExit(f"start-up probe exited {run.code}, not {code}: {log.read_text(errors='replace')[-800:]}")
        walls.append(run.wall)
    return statistics.median(walls)


def without_startup(results: list[SizeResult]) -> str:
    """The cold pass with each side's start-up taken off: what the pass itself costs against reader's."""
    lines = []
    for r in results:
        ours, theirs = r.ours["cold"].wall - r.startup["ours"], r.reader["cold"].wall - r.startup["reader"]
        lines.append(
            f"- {r.feeds:,} feeds cold, start-up taken off each side: ours {r.ours['cold'].wall:.2f} - "
            f"{r.startup['ours']:.2f} = {ours:.2f} s, reader {r.reader['cold'].wall:.2f} - {r.startup['reader']:.2f} "
            f"= {theirs:.2f} s: ours/reader {ours / theirs:.2f}"
        )
    return "\n".join(lines)


def table(results: list[SizeResult]) -> str:
    rows = [
        "| feeds | pass | TreatyWatch wall | CPU | peak RSS (PSS) | items/s | reader wall | CPU | peak RSS | items/s "
        "| ours/reader wall | ours/reader CPU | fetch-only floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for phase in ("cold", "warm"):
            o, d = r.ours[phase], r.reader[phase]
            items = r.feeds * ITEMS_PER_FEED if phase == "cold" else 0
            rate_o = f"{items / o.wall:,.0f}" if items else "–"
            rate_d = f"{items / d.wall:,.0f}" if items else "–"
            floor = f"{r.floor.wall:.2f} s" if r.floor and phase == "cold" else ""
            rows.append(
                f"| {r.feeds:,} | {phase} | {o.wall:.2f} s | {o.cpu:.2f} s | {o.rss_mb:.0f} ({o.pss_mb:.0f}) MB "
                f"| {rate_o} "
                f"| {d.wall:.2f} s | {d.cpu:.2f} s | {d.rss_mb:.0f} MB | {rate_d} | {o.wall / d.wall:.2f} "
                f"| {o.cpu / d.cpu:.2f} | {floor} |"
            )
    return "\n".join(rows)


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, Linux "
        f"{platform.release()}, Python {platform.python_version()}, {nginx}, load average at start {load}"
    )


def serve(n: int, tmp: Path) -> None:
    """Keep a farm up for profiling: prints the config to poll, serves until interrupted."""
    tmp.chmod(0o755)
    www = tmp / "www"
    www.mkdir()
    write_feeds(www, n)
    (tmp / "nginx").mkdir()
    with Nginx(tmp / "nginx", www) as nginx:
        urls = [nginx.url(f) for f in range(n)]
        (tmp / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
        write_treatywatch_config(tmp / "config", tmp / "state", urls)
        print(f"serving {n} feeds on {nginx.url(0)}; config {tmp / 'config'}; urls {tmp / 'urls.txt'}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--steady", type=float, default=60.0, help="seconds of daemon steady state (0: skip)")
    ap.add_argument(
        "--interval",
        type=int,
        default=10,
        help="seconds between the steady state's passes, both sides (at 30 s both cost 7-12 %% more a pass than at 10 "
        "s: a longer idle machine between passes)",
    )
    ap.add_argument("--steady-only", action="store_true", help="only the steady state, on the smallest size")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--serve", type=int, default=0, help="only serve a farm of this many feeds, for profiling")
    ap.add_argument(
        "--processes", default="0", help="settings.poll_processes of the passes (0, N or auto: a worker per core)"
    )
    args = ap.parse_args()
    if args.serve:
        with tempfile.TemporaryDirectory(prefix="serve-") as tmp:
            serve(args.serve, Path(tmp))
        return
    reader_python = ensure_reader_venv()
    # as installed: pip compiled reader's bytecode, and `pip install .` (deploy/) compiles ours, but an editable
    # install leaves the source tree to be compiled at import, again at every start where PYTHONDONTWRITEBYTECODE is
    # set (containers; this machine): 121 modules, about 0.15 s of every start
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "service" / "treatywatch")], check=True)
    reader_version = subprocess.run(
        [str(reader_python), "-c", "import reader; print(reader.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    started = datetime.now(UTC)
    header = f"machine: {machine()}; reader {reader_version}"
    print(header, flush=True)
    results = []
    for n in [] if args.steady_only else sorted(args.sizes):
        print(f"{n} feeds x {ITEMS_PER_FEED} items", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"farm{n}-") as tmp:
            results.append(run_size(n, Path(tmp), reader_python, args.processes))
    steady = ""
    if args.steady > 0:
        with tempfile.TemporaryDirectory(prefix="steady-") as tmp:
            steady = steady_state(min(args.sizes), Path(tmp), args.steady, reader_python, args.interval)
        print(steady, flush=True)
    notes = [f"- {r.feeds} feeds: {note}" for r in results for note in r.notes]
    sizes = ", ".join(f"{r.feeds} feeds = {r.mbytes:.1f} MB" for r in results)
    text = (
        f"# Feed farm, {started:%Y-%m-%d %H:%M} UTC\n\n{header}\n\n"
        f"Command: `python bench/farm.py --sizes {' '.join(map(str, args.sizes))} --steady {args.steady:g} "
        f"--interval {args.interval} --processes {args.processes}`; "
        f"{sizes} of RSS; one run each.\n\n{table(results)}\n\n"
        + (f"{without_startup(results)}\n\n" if results else "")
        + (f"{steady}\n\n" if steady else "")
        + ("\n".join(notes) + "\n" if notes else "")
    )
    write_result(text, "farm", started, args.out)


if __name__ == "__main__":
    main()
