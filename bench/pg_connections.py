"""Ten daemons on one PostgreSQL: the connections they hold at peak, against max_connections.

A local farm (bench/farmlib.py: nginx on 127.0.0.1), a throwaway PostgreSQL (tests/pg.py; its max_connections is
200, the figure compared is a default server's 100), N real `treatywatch run` daemons with `database_pool` as
docs/operations.md says (9 for 10 daemons), polling every 5 s; pg_stat_activity is sampled every 0.2 s for
`--seconds`. Prints the peak of the daemons' connections and whether every item was stored once.

Usage: python bench/pg_connections.py [--daemons 10] [--pool 9] [--feeds 300] [--seconds 60]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from farmlib import ITEMS_PER_FEED, ROOT, Nginx, stop_daemons, write_feeds, write_treatywatch_config  # noqa: E402

from pg import PgServer  # noqa: E402

TREATYWATCH = str(ROOT / ".venv" / "bin" / "treatywatch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemons", type=int, default=10)
    ap.add_argument("--pool", type=int, default=9)
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    import psycopg

    with tempfile.TemporaryDirectory(prefix="pg-conn-") as raw:
        tmp = Path(raw)
        tmp.chmod(0o755)
        (tmp / "www").mkdir()
        (tmp / "nginx").mkdir()
        write_feeds(tmp / "www", args.feeds)
        server = PgServer(Path(tempfile.mkdtemp(prefix="tw-pgc-")))
        server.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            url = server.new_database()
            with Nginx(tmp / "nginx", tmp / "www") as nginx, psycopg.connect(url, autocommit=True) as watch:
                limit = int(watch.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
                reserved = int(watch.execute("SHOW superuser_reserved_connections").fetchone()[0])  # type: ignore[index]
                cfg = tmp / "config"
                write_treatywatch_config(
                    cfg, tmp / "state", [nginx.url(f) for f in range(args.feeds)], every="5s",
                    extra_settings=f"  database_pool: {args.pool}\n",
                )  # fmt: skip
                for k in range(args.daemons):
                    cmd = [TREATYWATCH, "--config", str(cfg), "--state-dir", str(tmp / f"state{k}"), "--database", url,
                           "run"]  # fmt: skip
                    log = (tmp / f"daemon{k}.log").open("wb")
                    procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
                peak, refused = 0, 0
                sql = (
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
                end = time.monotonic() + args.seconds
                while time.monotonic() < end:
                    peak = max(peak, int(watch.execute(sql).fetchone()[0]))  # type: ignore[index]
                    time.sleep(0.2)
                running = sum(1 for p in procs if p.poll() is None)
                items = int(watch.execute("SELECT count(*) FROM items").fetchone()[0])  # type: ignore[index]
                distinct = int(watch.execute("SELECT count(DISTINCT (source_id, key)) FROM items").fetchone()[0])  # type: ignore[index]
                for k in range(args.daemons):
                    text = (tmp / f"daemon{k}.log").read_text(errors="replace")
                    refused += text.count("too many clients")
        finally:
            stop_daemons(procs)
            server.stop()
    print(
        f"{args.daemons} daemons, database_pool {args.pool}: peak {peak} connections; a default server allows 100 - "
        f"{reserved} reserved = {100 - reserved} (this one {limit}); {running} daemons still running; "
        f"'too many clients' {refused} times; items {items} ({distinct} distinct, {args.feeds * ITEMS_PER_FEED} "
        f"in the farm) after {args.seconds:g} s"
    )


if __name__ == "__main__":
    main()
