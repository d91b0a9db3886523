"""Quiet first runs: a source's first successful poll is a baseline (stored, matched, no alert), items older than
`ignore_older_than` never alert, `last_seen` follows each poll, and a copy of the database taken while the daemon
runs holds its rows."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from conftest import Clock, WebhookSink, write_config
from test_shutdown import STANDINS, RunningDaemon
from treatywatch.config.models import Settings
from treatywatch.config.policy import baseline_status
from treatywatch.localserve import FixtureServer, SmtpSink

pytestmark = pytest.mark.timeout(180)

FRANCE = "Russia terminates its 1994 military agreement with France"
PORTUGAL = "Russia terminates its military cooperation agreement with Portugal"


def slug(title: str) -> str:
    return "-".join(title.lower().split())


def rss(items: list[tuple[str, datetime | None]]) -> bytes:
    """A feed of (title, published) items, newest first as feeds are; guid and link follow the title."""
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example/{slug(title)}</link><guid>{slug(title)}</guid>"
        + (f"<pubDate>{format_datetime(published)}</pubDate>" if published else "")
        + "</item>"
        for title, published in reversed(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>live</title>'
        f"<link>https://news.example/</link>{body}</channel></rss>"
    ).encode()


class LiveFeed:
    """A feed route whose items the test publishes while it runs."""

    def __init__(self, http: FixtureServer, path: str = "/live.xml") -> None:
        self.items: list[tuple[str, datetime | None]] = []
        http.routes[path] = lambda h: (200, {"Content-Type": "application/rss+xml"}, rss(self.items))

    def publish(self, title: str, published: datetime | None) -> None:
        self.items.append((title, published))


@pytest.fixture
def live(http: FixtureServer) -> LiveFeed:
    return LiveFeed(http)


def status(app) -> str:
    return baseline_status(app.config, app.config.source("live"), app.store.source_state("live").last_success)


def desk(config_dir: Path, url: str) -> None:
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{url}']\n", "subscribers.yaml")


def test_first_poll_is_a_quiet_baseline_and_the_next_item_alerts(
    app_with, config_dir: Path, http: FixtureServer, live: LiveFeed, clock: Clock, webhook: WebhookSink, caplog
):
    live.publish(FRANCE, clock() - timedelta(hours=2))
    desk(config_dir, webhook.url)
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml'}}\n", baseline=True)
    assert Settings().baseline is True  # what the tests here set is the service's default
    assert status(app) == "pending"
    with caplog.at_level(logging.INFO, logger="treatywatch.pipeline"):
        first = app.runner.poll("live")
    assert first.new == 1 and first.alerts == 0 and first.baseline and first.quieted == 1
    assert "source live baseline: 1 items stored, 1 would have matched" in caplog.text
    app.outbox.run_once()
    assert app.store.counts()["items"] == 1 and app.store.counts()["alerts"] == 0 and webhook.bodies == []
    assert status(app) == "done"

    clock.advance(minutes=15)
    live.publish(PORTUGAL, clock() - timedelta(minutes=5))
    second = app.runner.poll("live")
    assert second.new == 1 and second.alerts == 1 and not second.baseline
    assert app.outbox.run_once().sent == 1
    (body,) = webhook.bodies
    assert "Portugal" in json.dumps(body, ensure_ascii=False)
    app.close()


def test_a_failed_first_poll_leaves_the_baseline_pending(app_with, http: FixtureServer, clock: Clock):
    http.routes["/live.xml"] = lambda h: (503, {}, b"down")
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml'}}\n", baseline=True)
    assert app.runner.poll("live").error
    assert (
        baseline_status(app.config, app.config.source("live"), app.store.source_state("live").last_success) == "pending"
    )
    LiveFeed(http).publish(FRANCE, clock())
    clock.advance(hours=1)
    assert app.runner.poll("live").baseline  # the first poll that succeeds is the baseline
    app.close()


def test_baseline_false_alerts_at_once(app_with, http: FixtureServer, live: LiveFeed, clock: Clock):
    live.publish(FRANCE, clock() - timedelta(hours=2))
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml', baseline: false}}\n")
    assert status(app) == "off"
    r = app.runner.poll("live")
    assert r.alerts == 1 and not r.baseline
    app.close()


def test_a_watch_may_override_the_baseline(app_with, config_dir: Path, http: FixtureServer, live, clock: Clock):
    live.publish(FRANCE, clock() - timedelta(hours=2))
    write_config(config_dir, "watches:\n  - {id: loud, query: terminates, baseline: false}\n", "loud.yaml")
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml'}}\n", baseline=True)
    r = app.runner.poll("live")
    assert r.alerts == 1 and r.baseline and r.quieted == 1  # the example watches stay quiet, `loud` does not
    (alert,) = app.store.recent_alerts(5)
    assert alert.watches == ("loud",)
    app.close()


def test_old_items_are_stored_but_do_not_alert_by_default(app_with, http: FixtureServer, live, clock: Clock):
    # the fixture clock stands in December 2025: were the age measured by the wall clock, both items would be old
    live.publish(FRANCE, clock() - timedelta(days=30))
    live.publish(PORTUGAL, clock() - timedelta(days=2))
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml', baseline: false}}\n")
    assert app.config.settings.ignore_older_than == 14 * 86400
    r = app.runner.poll("live")
    assert r.new == 2 and r.alerts == 1
    (alert,) = app.store.recent_alerts(5)
    assert "Portugal" in alert.title
    app.close()


def test_a_source_may_lift_the_age_limit(app_with, http: FixtureServer, live: LiveFeed, clock: Clock):
    live.publish(FRANCE, clock() - timedelta(days=400))
    app = app_with(
        f"  - {{id: live, type: feed, url: '{http.base}/live.xml', baseline: false, ignore_older_than: 0}}\n"
    )
    assert app.runner.poll("live").alerts == 1
    app.close()


def test_last_seen_advances_when_an_item_is_seen_again(app_with, http: FixtureServer, live, clock: Clock):
    live.publish(FRANCE, clock() - timedelta(hours=2))
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml'}}\n")
    app.runner.poll("live")
    first = clock()
    clock.advance(minutes=30)
    live.publish(PORTUGAL, clock())
    app.runner.poll("live")
    rows = {
        r[0]: (r[1], r[2])
        for r in sqlite3.connect(app.config.database_path).execute("SELECT title, first_seen, last_seen FROM items")
    }
    assert rows[FRANCE] == (first.isoformat(timespec="microseconds"), clock().isoformat(timespec="microseconds"))
    assert rows[PORTUGAL][1] == clock().isoformat(timespec="microseconds")
    app.close()


def daemon_files(config_dir: Path, base: str, smtp_url: str, every: str = "2s") -> Path:
    write_config(
        config_dir,
        "settings:\n  web_port: 0\n  per_host_delay: 0\n  deliver_every: 0.5\n  checkpoint_every: 1\n"
        "  config_watch_every: 0.5\n  shutdown_timeout: 3\n",
        "settings.yaml",
    )
    sources = f"sources:\n  - {{id: live, type: feed, url: '{base}/live.xml', every: {every}}}\n" + "".join(
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
        for sid in (*STANDINS, "government-docs")
    )
    write_config(config_dir, sources, "sources.yaml")
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{smtp_url}']\n", "subscribers.yaml")
    return config_dir


def wait(predicate, timeout: float, what: str, daemon: RunningDaemon) -> float:
    """Seconds until predicate() held; the timeout only guards against a hang."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout}s:\n{daemon.text()}")


def test_real_daemon_first_poll_sends_nothing_then_a_new_item_is_mailed(
    config_dir: Path, tmp_path: Path, http: FixtureServer, live: LiveFeed, smtp: SmtpSink
):
    live.publish(FRANCE, datetime.now(UTC) - timedelta(hours=1))
    daemon = RunningDaemon(daemon_files(config_dir, http.base, smtp.url()), tmp_path / "state", tmp_path / "d.log")
    try:
        daemon.wait_for("source live baseline: 1 items stored, 1 would have matched")
        daemon.wait_for("source live: 1 items, 0 new")  # a later poll: the baseline's outbox run is long past
        assert smtp.messages == []

        live.publish(PORTUGAL, datetime.now(UTC))
        latency = wait(lambda: len(smtp.messages) == 1, 30, "the new item's mail", daemon)
        print(f"published -> mailed in {latency:.2f}s (poll every 2s, outbox every 0.5s)")
        assert "Portugal" in str(smtp.messages[0]["subject"]) + smtp.messages[0].as_string()

        # a copy of the database file alone (no -wal beside it), taken while the daemon runs, holds the rows
        db = tmp_path / "state" / "treatywatch.db"

        def copy_has_rows() -> bool:
            shutil.copy(db, tmp_path / "copy.db")
            try:
                with sqlite3.connect(tmp_path / "copy.db") as conn:
                    return (
                        conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
                        and conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1
                    )
            except sqlite3.Error:  # everything still in the WAL: not even the tables are in the file
                return False

        wait(copy_has_rows, 15, "a copy of the database with both items", daemon)
        assert daemon.proc.poll() is None  # copied while it runs
        code, _ = daemon.stop(signal.SIGTERM, 30)
        assert code == 0 and "Traceback" not in daemon.text()
    finally:
        daemon.close()
