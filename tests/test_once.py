"""`treatywatch poll --once` polls its sources several at a time (once.py), run as an operator runs it: the real
command line in a subprocess, the demo's six sources on a local server.

Both claims are tested with forced interleavings at the server: the six listings are answered only once all six
have been asked for (a pass polling one source after another never gets there); and the first report of an event
answered last still opens its alert, as in a pass where nothing is held (the sources store their items in their
order, whatever order their responses come in).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from conftest import local_sources, tw, write_config
from treatywatch.localserve import Body, FixtureServer

# the demo's listings, by path: each source's first request
LISTINGS = {
    "/news/euronews_world.xml": "euronews-world",
    "/news/ria_politics_ru.xml": "ria-politics",
    "/news/council_press_atom.xml": "council-press-fr",
    "/pravo/api/Documents": "pravo-government",
    "/pravo/rss_government.xml": "pravo-government-rss",
    "/html/government_docs.html": "government-docs",
}
SETTINGS = "settings:\n  web_port: 0\n  per_host_delay: 0\n  per_host_concurrency: 16\n  http_timeout: 60s\n"
ALERTS = (
    "SELECT a.watch_id, a.title, a.report_count, group_concat(i.source_id || ':' || i.key, ' ') FROM alerts a "
    "JOIN alert_reports r ON r.alert_id = a.id JOIN items i ON i.id = r.item_id GROUP BY a.id ORDER BY a.id"
)


def configure(config_dir: Path, base: str) -> Path:
    write_config(config_dir, local_sources(base), "sources.yaml")
    write_config(config_dir, SETTINGS, "settings.yaml")
    return config_dir


def first_requests(http: FixtureServer, hold: object) -> None:
    """Each listing's first request goes through `hold(path)` before it is answered; later requests (a portal's
    pages and dictionaries, a listing asked again) are answered at once."""
    plain, seen, lock = http.respond, set[str](), threading.Lock()

    def respond(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Body]:
        path = urlsplit(handler.path).path
        with lock:
            first = path in LISTINGS and path not in seen
            seen.add(path)
        if first:
            hold(path)  # type: ignore[operator]
        return plain(handler)

    http.respond = respond  # type: ignore[method-assign]


def test_a_pass_polls_its_sources_at_the_same_time(config_dir: Path, tmp_path: Path, http: FixtureServer):
    everyone = threading.Barrier(len(LISTINGS), timeout=30)  # broken (and the sources failing) unless all six wait
    first_requests(http, lambda path: everyone.wait())
    done = tw("poll", "--once", config=configure(config_dir, http.base), state=tmp_path / "state")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not everyone.broken
    for source in LISTINGS.values():
        (line,) = [line for line in done.stdout.splitlines() if line.startswith(f"{source}: ")]
        assert re.match(rf"{source}: \d+ items, [1-9]\d* new", line), line
    # the outcomes are printed in the sources' order, whatever order they finished in
    order = [line.split(":")[0] for line in done.stdout.splitlines() if line.split(":")[0] in LISTINGS.values()]
    assert order == [s.id for s in configured(config_dir) if s.id in LISTINGS.values()]


def configured(config_dir: Path) -> list:
    from treatywatch.config import load_config

    return [s for s in load_config(config_dir, {}).sources if s.enabled]


def stored(db: Path) -> list[tuple[object, ...]]:
    """The alerts, with their reports, and the items in the order they were stored."""
    with sqlite3.connect(db) as conn:
        return conn.execute(ALERTS).fetchall() + conn.execute("SELECT id, source_id, key FROM items").fetchall()


def summary(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split(":")[0] in LISTINGS.values()]


def test_the_first_source_opens_the_alert_even_when_its_answer_comes_last(
    config_dir: Path, tmp_path: Path, http: FixtureServer
):
    configure(config_dir, http.base)
    plain = tw("poll", "--once", config=config_dir, state=tmp_path / "plain")
    assert plain.returncode == 0, plain.stdout + plain.stderr

    # again on a fresh state, the first source's listing answered only after every other source's was
    others = [path for path, source in LISTINGS.items() if source != "euronews-world"]
    answered: set[str] = set()
    moved = threading.Condition()

    def hold(path: str) -> None:
        with moved:
            if LISTINGS[path] == "euronews-world":
                assert moved.wait_for(lambda: answered >= set(others), timeout=30), answered
                time.sleep(0.5)  # the others' items reach the store first, unless their turn waits for this one
            answered.add(path)
            moved.notify_all()

    first_requests(http, hold)
    held = tw("poll", "--once", config=config_dir, state=tmp_path / "held")
    assert held.returncode == 0, held.stdout + held.stderr
    alerts = stored(tmp_path / "plain" / "treatywatch.db")
    # an event several sources reported: one alert with several reports
    assert len(alerts) > 20 and any(row[2] > 1 for row in alerts if len(row) == 4), alerts
    assert stored(tmp_path / "held" / "treatywatch.db") == alerts
    # and what each source reported: its items, alerts opened and follow-ups (the messages themselves are sent by
    # the outbox's workers, in the order they finish)
    assert summary(held.stdout) == summary(plain.stdout)


def rss(n: int) -> bytes:
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>"
        f"<item><title>Report {n} on the weather</title><link>http://example.org/{n}</link><guid>g{n}</guid></item>"
        "</channel></rss>"
    ).encode()


def many_feeds(http: FixtureServer, count: int, hold: threading.Event) -> tuple[str, list[str]]:
    """`count` feeds on the local server; the first one's answer waits for `hold`. Returns the sources' YAML and
    the paths asked for, in the order they were asked."""
    asked: list[str] = []

    def feed(handler: BaseHTTPRequestHandler, n: int) -> tuple[int, dict[str, str], Body]:
        asked.append(f"/feed{n}.xml")
        if n == 0:
            assert hold.wait(30)
        return 200, {"Content-Type": "application/rss+xml"}, rss(n)

    for n in range(count):
        http.routes[f"/feed{n}.xml"] = lambda h, n=n: feed(h, n)
    sources = "".join(
        f"  - {{id: feed-{n:03d}, type: feed, url: '{http.base}/feed{n}.xml', every: 1h}}\n" for n in range(count)
    )
    return sources, asked


def pass_in_background(app, count: int) -> tuple[list[str], list, threading.Thread]:  # type: ignore[no-untyped-def]
    """A pass over feed-000, feed-001, ... in a thread of its own, while the test holds some of their answers."""
    from treatywatch.once import run_pass

    ids = [f"feed-{n:03d}" for n in range(count)]
    outcomes: list = []
    passing = threading.Thread(target=lambda: outcomes.extend(run_pass(app, ids, app.clock())))
    passing.start()
    return ids, outcomes, passing


def test_a_pass_fetches_ahead_of_what_it_stores_but_no_further_than_its_window(app_with, http: FixtureServer):
    """The pool goes on fetching while the first source is still out (its answer held here), but only as far as
    STAGED_AHEAD sources: a pass over 50,000 sources never holds more than these read and not stored. Then every
    source is stored, in order."""
    from treatywatch.once import STAGED_AHEAD

    count = STAGED_AHEAD + 25
    hold = threading.Event()
    sources, asked = many_feeds(http, count, hold)
    app = app_with(sources)
    ids, outcomes, passing = pass_in_background(app, count)
    try:
        deadline = time.monotonic() + 20
        while len(asked) < STAGED_AHEAD and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # enough for any poll beyond the window to have been asked for
        # the first source, held, and the others of the window: fetched and read while it is out
        assert sorted(asked) == sorted(f"/feed{n}.xml" for n in range(STAGED_AHEAD))
        assert app.store.db.execute("SELECT count(*) FROM items").fetchone()[0] == 0  # nothing stored out of turn
    finally:
        hold.set()
        passing.join(60)
    assert [o.source_id for o in outcomes] == ids
    assert all(o.result is not None and o.result.new == 1 for o in outcomes), outcomes
    stored = [r[0] for r in app.store.db.execute("SELECT source_id FROM items ORDER BY id")]
    assert stored == ids  # stored in the sources' order, whatever order they were read in


def test_a_pass_left_early_hands_back_the_claims_of_what_it_read_but_did_not_store(app_with, http: FixtureServer):
    """The caller stops reading the outcomes (an error, Ctrl-C): the sources already fetched ahead are not stored,
    and their claims go back, so the next pass or a daemon polls them at once, in full."""
    from treatywatch.once import run_pass

    hold = threading.Event()
    hold.set()
    sources, _ = many_feeds(http, 12, hold)
    app = app_with(sources)
    ids = [f"feed-{n:03d}" for n in range(12)]
    outcomes = run_pass(app, ids, app.clock())
    first = next(outcomes)
    deadline = time.monotonic() + 20  # the pool reads ahead meanwhile
    while len(http.requests) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    outcomes.close()
    assert first.result is not None and first.result.new == 1
    assert [r[0] for r in app.store.db.execute("SELECT DISTINCT source_id FROM items")] == ["feed-000"]
    # the other sources: free to claim again now, and nothing of theirs (validators included) was kept
    later = app.clock()
    for sid in ids[1:]:
        assert app.store.claim_source(sid, later, 60.0, later), sid
        assert app.store.source_state(sid).etag is None


def test_a_source_whose_claim_ran_out_while_it_waited_its_turn_is_left_to_the_process_that_took_it(
    app_with, config_dir: Path, http: FixtureServer
):
    """The pass claims a source as it hands it to its pool; the source then waits for the polls before it. Those
    are held here past the lease (timeouts, in life), and meanwhile another process claims the waiting source:
    the pass does not fetch it a second time, it says the source was skipped."""
    from treatywatch.app import POLL_WORKERS
    from treatywatch.store.sqlite import Store

    hold = threading.Event()
    count = POLL_WORKERS + 1  # one more than the pool's threads: the last waits for a thread to be free
    sources, asked = many_feeds(http, count, hold)
    busy = threading.Barrier(POLL_WORKERS + 1, timeout=30)
    plain = http.routes["/feed0.xml"]
    for n in range(POLL_WORKERS):  # every thread of the pool held by a poll that outlasts the lease

        def held(handler: BaseHTTPRequestHandler, n: int = n) -> tuple[int, dict[str, str], Body]:
            busy.wait()
            assert hold.wait(30)
            return plain(handler) if n == 0 else (200, {"Content-Type": "application/rss+xml"}, rss(n))

        http.routes[f"/feed{n}.xml"] = held
    write_config(config_dir, "settings:\n  per_host_concurrency: 16\n", "settings.yaml")
    app = app_with(sources)
    ids, outcomes, passing = pass_in_background(app, count)
    try:
        busy.wait()  # the pool's threads are all out; the last source is claimed, and waits
        app.clock.advance(seconds=app.config.settings.lease + 1)  # its claim runs out
        other = Store(app.config.settings.state_dir / "treatywatch.db")
        assert other.claim_source(ids[-1], app.clock(), 60.0)  # another process takes it
    finally:
        hold.set()
        passing.join(60)
    assert [o.source_id for o in outcomes] == ids
    assert outcomes[-1].result is None  # skipped: the other process has it
    assert all(o.result is not None and o.result.new == 1 for o in outcomes[:-1])
    assert f"/feed{count - 1}.xml" not in asked  # fetched once this interval: by the other process, not twice
