"""settings.poll_processes: real daemons (`treatywatch run` subprocesses) parsing, reading languages and matching in
worker processes. With two workers the daemon stores the same items, opens the same alerts and sends the same
messages as with none; a source whose response cannot be parsed in a worker is that source's error while the others'
items arrive; a worker killed with SIGKILL is replaced and polling goes on; a reload reaches the workers' watchlists.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from conftest import EXAMPLE_CONFIG, WebhookSink, local_sources, write_config
from test_baseline import LiveFeed
from test_shutdown import RunningDaemon
from treatywatch.localserve import Body, FixtureServer

pytestmark = pytest.mark.timeout(240)
EVERY = "2s"
# alerts not yet sent (follow-ups wait for settings.followup_delay, beyond a test's run)
UNSENT = "SELECT id FROM deliveries WHERE kind = 'alert' AND status != 'sent'"
# the demo's sources in the order their first polls commit (see in_turn), by the path of their listing
TURNS = (
    ("/news/euronews_world.xml", "euronews-world"),
    ("/news/ria_politics_ru.xml", "ria-politics"),
    ("/news/council_press_atom.xml", "council-press-fr"),
    ("/pravo/api/Documents", "pravo-government"),
    ("/pravo/rss_government.xml", "pravo-government-rss"),
    ("/html/government_docs.html", "government-docs"),
)
MATCHED = "SELECT i.title FROM matches m JOIN items i ON i.id = m.item_id WHERE "
ALERTS = (
    "SELECT a.watch_id, a.watches, a.severity, a.title, a.agreements, a.report_count, group_concat(i.key, char(10)) "
    "FROM alerts a JOIN alert_reports r ON r.alert_id = a.id JOIN items i ON i.id = r.item_id GROUP BY a.id"
)


def settings(processes: int) -> str:
    return (
        "settings:\n  web_port: 0\n  per_host_delay: 0\n  per_host_concurrency: 16\n  deliver_every: 0.5\n"
        "  config_watch_every: 0.5\n  shutdown_timeout: 5\n  source_backoff_base: 1s\n  http_timeout: 60s\n"
        "  delivery_backoff_base: 1s\n  delivery_backoff_max: 2s\n"
        f"  poll_processes: {processes}\n"
    )


def demo_config(config_dir: Path, base: str, hook: str, processes: int, extra_sources: str = "") -> Path:
    """The demo's sources (feeds in three languages, the pravo portal, an HTML list) on the local server, polled
    every few seconds, each alert posted to a webhook."""
    sources = local_sources(base).replace("    baseline: false\n", f"    baseline: false\n    every: {EVERY}\n")
    write_config(config_dir, sources + extra_sources, "sources.yaml")
    write_config(config_dir, settings(processes), "settings.yaml")
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{hook}']\n", "subscribers.yaml")
    return config_dir


def rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db) as conn:
            return sorted(conn.execute(sql, params).fetchall())
    except sqlite3.Error:  # not created yet
        return []


def wait(check: Callable[[], bool], timeout: float, what: str, daemon: RunningDaemon) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline or daemon.proc.poll() is not None:
            raise AssertionError(f"{what}: not within {timeout}s\n{daemon.text()[-6000:]}")
        time.sleep(0.1)


def workers(daemon: RunningDaemon) -> list[int]:
    """The daemon's poll worker processes (multiprocessing's resource tracker is a child too, and is not one)."""
    out = []
    for child in psutil.Process(daemon.proc.pid).children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child.pid)
        except psutil.Error:
            continue
    return out


def polled(db: Path, n: int) -> Callable[[], bool]:
    """At least n sources have had a poll (successful or not)."""
    return lambda: len(rows(db, "SELECT id FROM sources WHERE last_attempt IS NOT NULL")) >= n


def in_turn(http: FixtureServer, db: Path) -> Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], Body]]:
    """The server's answers with each source's first listing held until the source before it (TURNS) has committed
    its first poll: which report opens an alert and which joins it depends on the order of commits, the same in
    every run this way, whatever the daemon's threads and workers do."""
    plain = http.respond
    before = {path: TURNS[k - 1][1] for k, (path, _) in enumerate(TURNS) if k}
    committed = "SELECT id FROM sources WHERE id = ? AND last_success IS NOT NULL"

    def respond(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], Body]:
        previous = before.get(urlsplit(handler.path).path)
        deadline = time.monotonic() + 30
        while previous and not rows(db, committed, (previous,)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return plain(handler)

    return respond


def outcome(config_dir: Path, tmp: Path, http: FixtureServer, processes: int) -> dict[str, object]:
    """One daemon over the demo's sources until each is polled twice and every alert is delivered: what it stored
    and sent. The webhook refuses messages until the polls are done: a message is rendered when it is sent, with the
    reports its alert has then, so one sent between two sources' commits would carry one report in one run and two
    in the other (the commits' order is fixed, their distance in time is not)."""
    with WebhookSink(fail_with=503) as hook:
        demo_config(config_dir, http.base, hook.url, processes)
        state = tmp / f"state-{processes}"
        db = state / "treatywatch.db"
        http.respond = in_turn(http, db)  # type: ignore[method-assign]
        daemon = RunningDaemon(config_dir, state, tmp / f"daemon-{processes}.log")
        try:
            if processes:
                wait(lambda: len(workers(daemon)) == processes, 30, "the worker processes", daemon)
            wait(polled(db, 6), 60, "a first poll of every source", daemon)
            started = time.monotonic()
            # a second turn of each: polls that find what is stored change nothing
            wait(lambda: time.monotonic() - started > 4, 10, "a second turn", daemon)
            hook.fail_with = None
            wait(lambda: not rows(db, UNSENT), 30, "deliveries", daemon)
            code, _ = daemon.stop(signal.SIGTERM, 30)
            assert code == 0
            log = daemon.text()
        finally:
            daemon.close()
            del http.respond  # the class's again
        assert "Traceback" not in log and " ERROR " not in log, log[-4000:]
        return {
            "items": rows(db, "SELECT source_id, key, title, summary, language, content_hash, revision FROM items"),
            "matches": rows(
                db,
                "SELECT i.source_id, i.key, m.watch_id, m.severity, m.explanation FROM matches m "
                "JOIN items i ON i.id = m.item_id",
            ),
            "alerts": sorted((*alert[:-1], sorted(str(alert[-1]).split("\n"))) for alert in rows(db, ALERTS)),
            "messages": sorted(json.dumps(b, sort_keys=True, ensure_ascii=False) for b in hook.bodies),
        }


def test_two_worker_processes_store_match_and_send_what_one_process_does(
    config_dir: Path, tmp_path: Path, http: FixtureServer
):
    alone = outcome(config_dir, tmp_path, http, 0)
    pooled = outcome(config_dir, tmp_path, http, 2)
    assert len(alone["items"]) > 20 and alone["matches"] and alone["alerts"] and alone["messages"]  # type: ignore[arg-type]
    for what in ("items", "matches", "alerts", "messages"):
        assert pooled[what] == alone[what], what


def test_a_response_no_worker_can_parse_is_its_sources_error_and_the_others_arrive(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink
):
    http.routes["/broken.xml"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, b"<html><body>no feed here")
    broken = f"  - {{id: broken, type: feed, url: '{http.base}/broken.xml', every: {EVERY}}}\n"
    demo_config(config_dir, http.base, webhook.url, 2, broken)
    db = tmp_path / "state" / "treatywatch.db"
    daemon = RunningDaemon(config_dir, tmp_path / "state", tmp_path / "d.log")
    try:
        wait(polled(db, 7), 60, "a first poll of every source", daemon)
        wait(lambda: bool(webhook.bodies), 30, "the others' alerts", daemon)
        wait(lambda: rows(db, "SELECT consecutive_failures FROM sources WHERE id = 'broken'")[0][0] >= 2, 30,
             "the broken source retried", daemon)  # fmt: skip
        ((error,),) = rows(db, "SELECT last_error FROM sources WHERE id = 'broken'")
        assert "not a feed" in str(error)
        assert rows(db, "SELECT count(*) FROM items WHERE source_id = 'broken'") == [(0,)]
        others = rows(db, "SELECT source_id, count(*) FROM items GROUP BY source_id")
        assert len(others) == 6 and all(n > 0 for _, n in others)
        assert len(workers(daemon)) == 2  # a parse error is an answer, not a dead worker
        assert daemon.stop(signal.SIGTERM, 30)[0] == 0
        assert "source broken failed" in daemon.text() and "Traceback" not in daemon.text()
    finally:
        daemon.close()


def live_daemon(
    config_dir: Path, tmp: Path, http: FixtureServer, webhook: WebhookSink
) -> tuple[LiveFeed, Path, RunningDaemon]:
    """A daemon with two workers over the demo's sources and a feed the test publishes to: the feed, the database,
    the daemon."""
    live = LiveFeed(http)
    extra = f"  - {{id: live, type: feed, url: '{http.base}/live.xml', every: 1s, baseline: false}}\n"
    demo_config(config_dir, http.base, webhook.url, 2, extra)
    return live, tmp / "state" / "treatywatch.db", RunningDaemon(config_dir, tmp / "state", tmp / "d.log")


def test_a_killed_worker_is_replaced_and_polling_goes_on(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink
):
    live, db, daemon = live_daemon(config_dir, tmp_path, http, webhook)
    try:
        wait(lambda: len(workers(daemon)) == 2, 30, "the worker processes", daemon)
        wait(polled(db, 7), 60, "a first poll of every source", daemon)
        wait(lambda: not rows(db, UNSENT), 30, "deliveries", daemon)
        alerted = len(webhook.bodies)
        for round_ in range(2):
            before = workers(daemon)
            psutil.Process(before[0]).send_signal(signal.SIGKILL)
            wait(lambda before=before: len(workers(daemon)) == 2 and workers(daemon) != before, 30,  # type: ignore[misc]
                 "a new worker", daemon)  # fmt: skip
            # a new event each round, read and matched by the workers left and new
            title = f"Russia terminates its military cooperation agreement with {('Norway', 'Denmark')[round_]}"
            live.publish(title, datetime.now(UTC))
            wait(lambda title=title: bool(rows(db, MATCHED + "i.title = ?", (title,))), 30,  # type: ignore[misc]
                 "the new item matched", daemon)  # fmt: skip
        wait(lambda: len(webhook.bodies) >= 2 + alerted, 30, "the new events' alerts", daemon)
        assert daemon.stop(signal.SIGTERM, 30)[0] == 0
        assert f"poll worker process {before[0]} is replaced" in daemon.text()
    finally:
        daemon.close()


def test_a_reload_reaches_the_workers_watchlists(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink
):
    live, db, daemon = live_daemon(config_dir, tmp_path, http, webhook)
    try:
        wait(polled(db, 7), 60, "a first poll of every source", daemon)
        live.publish("A blizzard closes every port of the Baltic coast", datetime.now(UTC))
        wait(lambda: bool(rows(db, "SELECT id FROM items WHERE title LIKE '%blizzard%'")), 30, "the item", daemon)
        assert not rows(db, MATCHED + "m.watch_id = 'blizzard'")

        write_config(config_dir, "watches:\n  - id: blizzard\n    query: blizzard\n    severity: high\n", "new.yaml")
        daemon.wait_for("configuration reloaded (file change): +1 watch (blizzard)")
        live.publish("A second blizzard closes the Arctic ports", datetime.now(UTC))
        wait(lambda: any("second blizzard" in json.dumps(b) for b in webhook.bodies), 30, "the new watch's alert",
             daemon)  # fmt: skip
        assert rows(db, MATCHED + "m.watch_id = 'blizzard'") == [("A second blizzard closes the Arctic ports",)]
        assert daemon.stop(signal.SIGTERM, 30)[0] == 0
    finally:
        daemon.close()


def test_a_lazy_pool_starts_its_workers_at_its_first_task():
    """A one-shot pass's pool (once.py): a pass whose responses are all 304s never asks it anything, and pays
    for no worker process."""
    from treatywatch.app import compile_config
    from treatywatch.workers import PollProcesses

    config, _ = compile_config(EXAMPLE_CONFIG)
    pool = PollProcesses(1, config, lazy=True)
    try:
        assert pool.pids() == []
        assert pool.analyse([], {}) == []
        assert len(pool.pids()) == 1
    finally:
        pool.close()
