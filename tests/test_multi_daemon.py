"""Several real daemons (`treatywatch run` subprocesses) on one real PostgreSQL over a local feed farm.

30 feeds, each with filler items and one report of one of 10 events (every event reported by 3 feeds, so daemons
see one event at the same moment). One daemon is SIGKILLed while it holds a lease on a source it is fetching
(every feed answers slowly): the others take its sources over once the lease expires.

Expected: every item stored once, one alert per event, every alert delivered. The documented bound on
duplicates (docs/operations.md): a daemon killed between a channel accepting a message and the database recording
it leaves that delivery to be sent again: at most one message per killed daemon (its outbox sends one at a time).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import psycopg
import pytest

from conftest import WebhookSink, write_config
from treatywatch.config.models import Settings
from treatywatch.localserve import FixtureServer

FEEDS = 30
FILLER = 5
COUNTRIES = ("Norway", "Denmark", "France", "Portugal", "Germany", "Bulgaria", "Poland", "Romania", "Netherlands",
             "Belgium")  # fmt: skip
WORDINGS = (
    "Russia terminates military cooperation agreement with {c}",
    "{c}: Moscow denounces the military cooperation agreement",
    "Russia suspends its military cooperation agreement with {c}",
)
SLOW = 1.5  # seconds each feed takes to answer: daemons are caught mid-poll
LEASE = 3.0
EVERY = 4


def rss(feed: int) -> bytes:
    titles = [(f"f{feed}-n{j}", f"Weather and markets, bulletin {feed}.{j}") for j in range(FILLER)]
    country = COUNTRIES[feed % len(COUNTRIES)]
    titles.append((f"f{feed}-event", WORDINGS[feed // len(COUNTRIES)].format(c=country)))
    items = "".join(
        f"<item><title>{escape(t)}</title><link>http://news.example/{g}</link><guid>{g}</guid>"
        f"<description>{escape(t)}.</description></item>"
        for g, t in titles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>feed</title>'
        f"<link>http://news.example/</link><description>farm</description>{items}</channel></rss>"
    ).encode()


def slow_feed(body: bytes) -> Callable[[object], tuple[int, dict[str, str], bytes]]:
    def route(_handler: object) -> tuple[int, dict[str, str], bytes]:
        time.sleep(SLOW)
        return 200, {"Content-Type": "application/rss+xml"}, body

    return route


def farm_config(config_dir: Path, base: str, database: str, hook: str) -> Path:
    settings = (
        f"settings:\n  database: '{database}'\n  lease: {LEASE}\n  web_port: 0\n  per_host_delay: 0\n"
        "  per_host_concurrency: 30\n  deliver_every: 1\n  followup_delay: 3600\n  shutdown_timeout: 5\n"
    )
    if "baseline" in Settings.model_fields:
        settings += "  baseline: false\n"  # the farm's first poll is what must alert
    sources = "sources:\n" + "".join(
        f"  - {{id: farm-{i:02d}, type: feed, url: '{base}/farm/{i}.xml', every: {EVERY}s}}\n" for i in range(FEEDS)
    )
    stand_ins = "".join(
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
        for sid in ("pravo-government", "pravo-government-rss", "government-docs")
    )
    subscribers = f"subscribers:\n  - id: desk\n    notify: ['{hook}']\n    watches: [agreement-terminated]\n"
    write_config(config_dir, settings + sources + stand_ins + subscribers, "farm.yaml")
    return config_dir


def start_daemon(config: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "treatywatch", "--config", str(config), "--state-dir", str(state), "run"]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def start_one_shot(config: Path, state: Path) -> subprocess.Popen[str]:
    """`treatywatch poll --once` in a process of its own, its output kept for the test."""
    cmd = [sys.executable, "-m", "treatywatch", "--config", str(config), "--state-dir", str(state), "poll", "--once"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_daemons(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every daemon still running, then wait for each (killed after 20 s)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def scalar(url: str, sql: str, params: tuple[object, ...] = ()) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def wait_for(check: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in logs)
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("daemons", [2, 3])
def test_daemons_share_the_farm_and_survive_a_kill(daemons: int, pg_url: str, config_dir: Path, tmp_path: Path):
    with FixtureServer() as http, WebhookSink() as hook:
        for i in range(FEEDS):
            http.routes[f"/farm/{i}.xml"] = slow_feed(rss(i))
        config = farm_config(config_dir, http.base, pg_url, hook.url)
        logs = [tmp_path / f"daemon{n}.log" for n in range(daemons)]
        procs = [start_daemon(config, tmp_path / f"state{n}", logs[n]) for n in range(daemons)]
        started = time.monotonic()
        try:
            victim = procs[0]
            # SIGKILL the first daemon while it holds a lease on a source whose poll it has not committed
            holding = (
                "SELECT count(*) FROM sources s WHERE s.claimed_by LIKE %s AND s.claim_expires > clock_timestamp()"
                " AND NOT EXISTS (SELECT 1 FROM items i WHERE i.source_id = s.id)"
            )
            claims = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sources' AND column_name = %s"
            wait_for(
                lambda: (
                    scalar(pg_url, claims, ("claim_expires",)) == 1
                    and scalar(pg_url, holding, (f"%:{victim.pid}:%",)) > 0
                ),
                60,
                "the first daemon to claim a source",
                logs,
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            expected_items = FEEDS * (FILLER + 1)
            wait_for(
                lambda: (
                    scalar(pg_url, "SELECT count(*) FROM items") == expected_items
                    and len(hook.bodies) >= len(COUNTRIES)
                    and scalar(pg_url, "SELECT count(*) FROM deliveries WHERE kind = 'alert' AND status <> 'sent'") == 0
                ),
                60,
                "every item and every alert",
                logs,
            )
            time.sleep(EVERY)  # a late duplicate (a second poll, a second send) would arrive now
            assert scalar(pg_url, "SELECT count(*) FROM items") == expected_items
            assert scalar(pg_url, "SELECT count(DISTINCT (source_id, key)) FROM items") == expected_items
            assert scalar(pg_url, "SELECT count(*) FROM alerts") == len(COUNTRIES)  # one event, one alert
            assert scalar(pg_url, "SELECT count(*) FROM alert_reports") == FEEDS  # every report joined its alert
            assert scalar(pg_url, "SELECT count(*) FROM deliveries WHERE kind = 'alert'") == len(COUNTRIES)
            # one daemon polls a source per interval, whichever it is (without leases each daemon would poll each
            # source every interval); +3: the first poll at start, one takeover after the kill, one retry
            polls = Counter(path for path, _ in http.requests)
            turns = (time.monotonic() - started) / EVERY
            assert max(polls.values()) <= turns + 3, (polls.most_common(3), turns)
            titles = [b["title"] for b in hook.bodies]
            assert len(set(titles)) == len(COUNTRIES)
            assert len(titles) - len(set(titles)) <= 1  # the bound: one message in flight in the killed daemon
            for survivor in procs[1:]:
                assert survivor.poll() is None, "a surviving daemon exited"
        finally:
            stop_daemons(procs)
        for p in procs[1:]:
            assert p.returncode == 0, (tmp_path / "daemon1.log").read_text(errors="replace")[-3000:]


BURST_EVENTS = 60
BURST_EVERY = 4
SYLLABLES = ("ka", "lo", "mi", "nu", "pe", "ri", "so", "tu", "va", "ze", "bo", "di")


def event_words(event: int) -> str:
    """Four made-up words of its own per event, so no two events look alike to the grouping."""
    words = []
    for k in range(4):
        n = event * 4 + k
        words.append("".join(SYLLABLES[(n // 12**p) % 12] for p in range(3)) + SYLLABLES[k])
    return " ".join(words)


def burst_feed(feed: int, publishing: threading.Event) -> Callable[[object], tuple[int, dict[str, str], bytes]]:
    """Two feeds per event (feed // 2); filler until `publishing`, then the event's report as well."""
    event = feed // 2

    def route(_handler: object) -> tuple[int, dict[str, str], bytes]:
        titles = [(f"f{feed}-n0", f"Weather and markets, bulletin {feed}")]
        if publishing.is_set():
            titles.append((f"f{feed}-event", f"Decree published: {event_words(event)}"))
        items = "".join(
            f"<item><title>{escape(t)}</title><link>http://news.example/{g}</link><guid>{g}</guid></item>"
            for g, t in titles
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>{items}</channel></rss>'
        return 200, {"Content-Type": "application/rss+xml"}, body.encode()

    return route


@pytest.mark.timeout(300)
def test_burst_through_a_slow_relay_and_a_database_restart_reaches_the_desk_once(
    pg_server, pg_url: str, config_dir: Path, tmp_path: Path
):
    """Three daemons, 120 feeds: 60 events published at once, each by two feeds (their reports reach the
    database in the same second, often through two daemons: the interleaving that lost follow-ups). The desk's
    relay takes 1 s a message (lease 10 s: claiming every due message at once outlived it and sent some twice),
    and PostgreSQL restarts mid-burst. Every report must reach the desk exactly once, in its alert's message or
    a follow-up, and polling must keep its schedule while the relay is busy (sending ran in the poll workers)."""
    publishing = threading.Event()
    polls: list[tuple[float, str]] = []
    feeds = 2 * BURST_EVENTS
    with FixtureServer() as http, WebhookSink(delay=1.0) as hook:
        for i in range(feeds):
            route = burst_feed(i, publishing)
            http.routes[f"/burst/{i}.xml"] = lambda h, route=route, i=i: (
                polls.append((time.monotonic(), i)),
                route(h),
            )[1]
        settings = (
            f"settings:\n  database: '{pg_url}'\n  lease: 10\n  web_port: 0\n  per_host_delay: 0\n"
            "  per_host_concurrency: 60\n  deliver_every: 1\n  followup_delay: 2\n  shutdown_timeout: 5\n"
            "  baseline: false\n  delivery_backoff_base: 1\n  delivery_backoff_max: 4\n"
        )
        sources = "sources:\n" + "".join(
            f"  - {{id: burst-{i:03d}, type: feed, url: '{http.base}/burst/{i}.xml', every: {BURST_EVERY}s}}\n"
            for i in range(feeds)
        )
        stand_ins = "".join(
            f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
            for sid in ("pravo-government", "pravo-government-rss", "government-docs")
        )
        watch = (
            "watches:\n  - id: decrees\n    title: A decree\n    query: 'decree AND published'\n    severity: high\n"
        )
        desk = f"subscribers:\n  - id: desk\n    notify: ['{hook.url}']\n    watches: [decrees]\n"
        write_config(config_dir, settings + sources + stand_ins + watch + desk, "burst.yaml")
        logs = [tmp_path / f"daemon{n}.log" for n in range(3)]
        procs = [start_daemon(config_dir, tmp_path / f"state{n}", logs[n]) for n in range(3)]
        try:
            wait_for(
                lambda: (
                    scalar(pg_url, "SELECT (to_regclass('sources') IS NOT NULL)::int") == 1
                    and scalar(pg_url, "SELECT count(*) FROM sources WHERE last_success IS NOT NULL") == feeds
                ),
                60,
                "every feed's first poll",
                logs,
            )
            publishing.set()
            burst_start = time.monotonic()
            wait_for(lambda: len(hook.bodies) >= 45, 90, "the burst's first 45 messages", logs)
            burst_end = time.monotonic()
            pg_server.restart(down=3.0)
            wait_for(
                lambda: (
                    scalar(pg_url, "SELECT count(*) FROM alert_reports") == feeds
                    and scalar(pg_url, "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed')") == 0
                ),
                180,
                "every report to join its alert and every delivery to settle",
                logs,
            )
            time.sleep(3)  # a late duplicate would arrive now
            assert scalar(pg_url, "SELECT count(*) FROM alerts") == BURST_EVENTS
            carried = Counter(
                link for b in hook.bodies for link in re.findall(r"http://news\.example/(f\d+-event)", b["message"])
            )
            expected = {f"f{i}-event" for i in range(feeds)}
            assert set(carried) == expected, sorted(expected - set(carried))[:10]  # every report reached the desk
            assert max(carried.values()) == 1, carried.most_common(3)  # and none twice
            assert len(hook.bodies) == scalar(pg_url, "SELECT count(*) FROM deliveries WHERE status = 'sent'")
            assert scalar(pg_url, "SELECT count(*) FROM deliveries WHERE status = 'dead'") == 0
            # the schedule while the relay was busy: each feed polled once per interval by one of the daemons, so
            # at least floor(window / interval) times in the window
            window = burst_end - burst_start
            done = sum(1 for t, _ in polls if burst_start <= t <= burst_end)
            planned = feeds * int(window // BURST_EVERY)
            assert done >= 0.95 * planned, (done, planned, window)
            for p in procs:
                assert p.poll() is None, "a daemon exited"
        finally:
            stop_daemons(procs)
        for n, p in enumerate(procs):
            assert p.returncode == 0, logs[n].read_text(errors="replace")[-3000:]
            text = logs[n].read_text(errors="replace")
            assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]


@pytest.mark.timeout(120)
def test_two_one_shot_polls_on_one_database_fetch_each_source_once(pg_url: str, config_dir: Path, tmp_path: Path):
    """`poll --once` takes leases as the daemon does: two of them at once (or one beside daemons) never fetch a
    source twice in its interval. Before, each fetched every source (items were still stored once)."""
    feeds = 8
    with FixtureServer() as http, WebhookSink() as hook:
        for i in range(feeds):
            http.routes[f"/farm/{i}.xml"] = slow_feed(rss(i))
        farm_config(config_dir, http.base, pg_url, hook.url)
        text = (config_dir / "farm.yaml").read_text()
        sources = "".join(f"  - {{id: farm-{i:02d}, type: feed, url: '{http.base}/farm/{i}.xml', every: 60s}}\n"
                          for i in range(feeds))  # fmt: skip
        # a lease longer than any poll here (the farm's 3 s is for taking over from a killed daemon): a poll slowed
        # by a busy machine past its lease is fetched again by design ("keep lease above your slowest poll")
        text = text.replace(f"lease: {LEASE}", "lease: 30")
        head, _, rest = text.partition("sources:\n")
        rest = rest[rest.index("  - {id: pravo-government,") :]
        write_config(config_dir, head + "sources:\n" + sources + rest, "farm.yaml")
        procs = [start_one_shot(config_dir, tmp_path / f"s{n}") for n in range(2)]
        outs = [p.communicate(timeout=100)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        fetched = Counter(path for path, _ in http.requests)
        assert set(fetched) == {f"/farm/{i}.xml" for i in range(feeds)} and max(fetched.values()) == 1, (fetched, outs)
        assert sum(o.count("skipped, another process is polling it") for o in outs) >= 1, outs
        assert scalar(pg_url, "SELECT count(*) FROM items") == feeds * (FILLER + 1)


# -- the dispatcher's claim: three daemons and two one-shot passes, each source fetched once per interval ----------
SHARED_EVERY = 15  # seconds: long enough that every process has started and claimed before the second turn


def counting_feed(feed: int, fetched: dict[int, list[float]], lock: threading.Lock):
    """The feed, each fetch's time (monotonic, at the server) kept by feed."""
    body = rss(feed)

    def route(_handler: object) -> tuple[int, dict[str, str], bytes]:
        with lock:
            fetched.setdefault(feed, []).append(time.monotonic())
        time.sleep(0.2)  # polls overlap across processes
        return 200, {"Content-Type": "application/rss+xml"}, body

    return route


@pytest.mark.timeout(180)
@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_three_daemons_and_two_one_shot_passes_fetch_each_source_once_per_interval(
    engine: str, request: pytest.FixtureRequest, config_dir: Path, tmp_path: Path
):
    """Every process claims from the store's schedule: whoever fetched it, a source is never fetched twice within
    its interval (fetch times taken at the server), and every item, alert and message is there once. SQLite: the
    five processes share one database file (each daemon its own state directory).

    What is asserted is the gap between a source's fetches, not a count at the moment the slowest source reaches
    its second turn: first turns are spread over the interval, so on a loaded machine a source polled early had
    rightly reached its third turn by then (a parallel run counted 3 for one source)."""
    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'shared.db'}"
    fetched: dict[int, list[float]] = {}
    lock = threading.Lock()
    with FixtureServer() as http, WebhookSink() as hook:
        for i in range(FEEDS):
            http.routes[f"/farm/{i}.xml"] = counting_feed(i, fetched, lock)
        farm_config(config_dir, http.base, database, hook.url)
        text = (config_dir / "farm.yaml").read_text().replace(f"every: {EVERY}s", f"every: {SHARED_EVERY}s")
        write_config(config_dir, text.replace(f"lease: {LEASE}", "lease: 30"), "farm.yaml")
        logs = [tmp_path / f"daemon{n}.log" for n in range(3)]
        procs = [start_daemon(config_dir, tmp_path / f"state{n}", logs[n]) for n in range(3)]
        once = [start_one_shot(config_dir, tmp_path / f"once{n}") for n in range(2)]
        try:
            outs = [p.communicate(timeout=120)[0] for p in once]
            assert all(p.returncode == 0 for p in once), outs
            second_turn = lambda: len(fetched) == FEEDS and min(map(len, fetched.values())) >= 2  # noqa: E731
            wait_for(second_turn, 90, "every source's second turn", logs)
            with lock:
                gaps = {feed: [b - a for a, b in itertools.pairwise(t)] for feed, t in fetched.items()}
            # the next turn is `every` from the poll's start (runner.poll reads the clock before fetching); the
            # request itself may wait a moment for the host's gate (per_host_concurrency across the five processes,
            # a second under load): a gap is the interval less that wait. A second claim of one turn, the fault
            # this looks for, fetches within the first poll's seconds
            short = {feed: g for feed, g in gaps.items() if min(g) < SHARED_EVERY * 0.75}
            assert not short, short
            counts = _counts(database)
            wait_for(lambda: len(hook.bodies) >= len(COUNTRIES), 30, "every alert's message", logs)
            time.sleep(2)  # a late duplicate message would arrive now
            assert counts["items"] == FEEDS * (FILLER + 1) and counts["distinct"] == counts["items"]
            assert counts["alerts"] == len(COUNTRIES) and counts["reports"] == FEEDS
            titles = [b["title"] for b in hook.bodies]
            assert len(titles) == len(set(titles)) == len(COUNTRIES)
        finally:
            stop_daemons(procs)
        for n, p in enumerate(procs):
            assert p.returncode == 0, logs[n].read_text(errors="replace")[-3000:]
            assert "Traceback" not in logs[n].read_text(errors="replace")


def _counts(database: str) -> dict[str, int]:
    sql = {
        "items": "SELECT count(*) FROM items",
        "distinct": "SELECT count(*) FROM (SELECT DISTINCT source_id, key FROM items) AS k",
        "alerts": "SELECT count(*) FROM alerts",
        "reports": "SELECT count(*) FROM alert_reports",
    }
    if database.startswith("postgresql"):
        return {k: scalar(database, q) for k, q in sql.items()}
    import sqlite3

    conn = sqlite3.connect(database.removeprefix("sqlite:///"))
    try:
        return {k: int(conn.execute(q).fetchone()[0]) for k, q in sql.items()}
    finally:
        conn.close()


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_two_claimers_at_the_same_instant_never_share_a_source(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
):
    """Two dispatchers claim at once (a barrier releases them together; on PostgreSQL the first also holds its
    transaction open until the second has claimed): the batches are disjoint and together all that was due."""
    from datetime import UTC, datetime, timedelta

    from treatywatch.store import open_store
    from treatywatch.store.claims import Planned

    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'c.db'}"
    now = datetime.now(UTC)
    a, b = open_store(database, tmp_path), open_store(database, tmp_path)
    try:
        a.plan_sources({f"s{i:02d}": Planned(60.0, now - timedelta(seconds=i)) for i in range(40)})
        barrier = threading.Barrier(2, timeout=20)
        got: dict[str, list[str]] = {}
        if engine == "postgresql":  # a's claim stays uncommitted until b has claimed: b must skip a's rows, not wait
            from treatywatch.store.postgres import pg_sql

            inner = threading.Barrier(2, timeout=20)

            def slow_commit(sql: str, params: list[object]) -> list[object]:
                with a.pool.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
                    rows = conn.execute(pg_sql(sql), tuple(params)).fetchall()
                    barrier.wait()  # a has claimed (rows locked, not committed); b claims now
                    inner.wait()
                return rows

            a._statement = slow_commit  # type: ignore[method-assign]

        def claim(name: str, store: object) -> None:
            if engine == "sqlite" or name == "b":
                barrier.wait()
            got[name] = [c.id for c in store.claim_due(now, 25, 60.0)]  # type: ignore[attr-defined]
            if engine == "postgresql" and name == "b":
                inner.wait()

        threads = [threading.Thread(target=claim, args=(n, s)) for n, s in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        a.__dict__.pop("_statement", None)
        assert set(got) == {"a", "b"}, got
        assert not set(got["a"]) & set(got["b"])  # no source claimed twice
        assert sorted([len(got["a"]), len(got["b"])]) == [15, 25]  # and all 40 due ones claimed
        if engine == "postgresql":  # a claimed first, the longest due first
            assert got["a"] == [f"s{i:02d}" for i in range(39, 14, -1)]
    finally:
        a.__dict__.pop("_statement", None)
        a.close(), b.close()


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_the_host_gate_spaces_polls_across_daemons(engine: str, request: pytest.FixtureRequest, tmp_path: Path):
    """per_host_delay holds across daemons: two stores reserving one host's turns at once get turns a gap apart,
    never the same one; another host is not held up."""
    from datetime import UTC, datetime

    from treatywatch.store import open_store

    database = request.getfixturevalue("pg_url") if engine == "postgresql" else f"sqlite:///{tmp_path / 'g.db'}"
    stores = [open_store(database, tmp_path), open_store(database, tmp_path)]
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def reserve(store: object) -> None:
        barrier.wait()
        for _ in range(5):
            wait = store.reserve_host("portal.example", 0.5, datetime.now(UTC))  # type: ignore[attr-defined]
            with lock:
                waits.append(wait)

    try:
        threads = [threading.Thread(target=reserve, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(waits) == 10
        ordered = sorted(waits)
        assert ordered[0] < 0.5 and ordered[-1] > 4.0  # ten turns half a second apart: the last 4.5 s on
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        assert min(gaps) > 0.3, ordered  # no two polls share a turn (reserving takes a little time itself)
        assert stores[0].reserve_host("other.example", 0.5, datetime.now(UTC)) == 0.0
    finally:
        for s in stores:
            s.close()


def test_first_turns_of_many_new_sources_are_spread_over_their_interval():
    """A start with 50,000 sources new to the store is no thundering herd: their first turns spread evenly over the
    interval, each source's place fixed by its id; a handful start at once."""
    from datetime import UTC, datetime, timedelta

    from treatywatch.schedule import first_due

    now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    turns = [(first_due(f"src-{i}", 900.0, now, 50_000) - now).total_seconds() for i in range(50_000)]
    assert min(turns) >= 0 and max(turns) < 900
    per_minute = Counter(int(t // 60) for t in turns)
    assert len(per_minute) == 15 and max(per_minute.values()) < 1.1 * 50_000 / 15  # about 3,333 a minute each
    assert first_due("src-7", 900.0, now, 50_000) == first_due("src-7", 900.0, now, 50_000)  # the same every start
    assert {first_due(f"s{i}", 900.0, now, 30) for i in range(30)} == {now}  # 30 new sources: all due now
    assert first_due("s", 3600.0, now, 1_000) - now < timedelta(seconds=20)  # 1,000: within 1,000 / 50 s
