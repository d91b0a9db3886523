"""Runs inside bench/.venv-reader: reader 3.x on the farm. `add DB URLS` subscribes (set-up, not timed);
`update DB` is the timed pass; `open DB` only starts (the pass's start-up, timed apart); `steady DB SECONDS
INTERVAL` is reader in a running process, as a daemon is: after a first (cold) pass and two warm ones, a warm pass
every INTERVAL seconds for SECONDS, printing "measuring" when they begin and then the process's CPU per pass.

update_feeds(scheduled=False): reader 3.x's default (scheduled=True) skips a feed until its update interval (1 h)
has passed, so a warm pass right after the cold one would send no request at all; scheduled=False makes it send a
conditional GET for every feed, as `treatywatch poll --once` does.
"""

from __future__ import annotations

import sys
import time

from reader import make_reader


def main() -> None:
    mode, db = sys.argv[1], sys.argv[2]
    reader = make_reader(db)
    if mode == "steady":
        seconds, interval = float(sys.argv[3]), float(sys.argv[4])
        reader.update_feeds(workers=16, scheduled=False)  # the cold pass, not measured
        for _ in range(2):  # nor the two turns after it, as farm.py lets the daemon's go by
            time.sleep(interval)
            reader.update_feeds(workers=16, scheduled=False)
        print("measuring", flush=True)  # farm.py measures the daemon over the same seconds
        passes, cpu = 0, 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started, before = time.monotonic(), time.process_time()
            reader.update_feeds(workers=16, scheduled=False)
            cpu += time.process_time() - before
            passes += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        print(f"passes {passes} cpu {cpu:.3f} per_pass {cpu / passes:.3f}")
    elif mode == "open":  # start-up alone, for farm.py: imported and the database opened, nothing updated
        pass
    elif mode == "add":
        with open(sys.argv[3], encoding="utf-8") as urls:
            for url in urls:
                reader.add_feed(url.strip(), exist_ok=True)
    else:
        reader.update_feeds(workers=16, scheduled=False)
        counts = reader.get_entry_counts()
        broken = sum(1 for f in reader.get_feeds() if f.last_exception)
        print(f"entries {counts.total} broken {broken}")
    reader.close()


if __name__ == "__main__":
    main()
