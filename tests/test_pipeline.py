"""The runner and the daemon: revisions re-matched, layout changes flagged, failures contained, clean stop."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, local_sources, make_app, tw, write_config
from treatywatch.app import utcnow
from treatywatch.daemon import Daemon
from treatywatch.localserve import FixtureServer
from treatywatch.store import Store

GOV_HTML = (FIXTURES / "html" / "government_docs.html").read_bytes()


def test_selector_that_stops_matching_is_flagged(config_dir, tmp_path, http: FixtureServer, clock, caplog):
    page = {"body": GOV_HTML}
    http.routes["/docs"] = lambda h: (200, {"Content-Type": "text/html; charset=utf-8"}, page["body"])
    write_config(config_dir, local_sources(http.base).replace("/html/government_docs.html", "/docs"), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    assert len(app.runner.poll("government-docs").items) == 3
    page["body"] = GOV_HTML.replace(b"doc-item", b"document-card")  # the portal's redesign
    with caplog.at_level(logging.WARNING):
        r = app.runner.poll("government-docs")
    assert r.flagged_empty and r.error is None
    assert "returned no items where it had 3" in caplog.text
    assert app.store.source_state("government-docs").empty_flag
    page["body"] = GOV_HTML
    assert not app.runner.poll("government-docs").flagged_empty


def test_untitled_decree_that_gains_its_title_is_matched_again(config_dir, tmp_path, http: FixtureServer, clock):
    docs = json.loads((FIXTURES / "pravo" / "documents.json").read_text(encoding="utf-8"))
    untitled = next(d for d in docs["items"] if not d["name"])
    envelope = {**docs, "items": [untitled]}
    http.routes["/pravo/api/Documents"] = lambda h: (200, {}, json.dumps(envelope, ensure_ascii=False).encode())
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    first = app.runner.poll("pravo-government")
    assert first.new == 1 and first.alerts == 0 and first.items[0].untitled
    named = {
        **untitled,
        "name": "О прекращении действия Соглашения между Правительством Российской Федерации и "
        "Правительством Республики Болгария о военном сотрудничестве",
    }
    envelope["items"] = [named]
    clock.advance(minutes=15)
    second = app.runner.poll("pravo-government")
    assert second.changed == 1 and second.new == 0 and second.alerts == 1
    stored = app.store.get_item(
        app.store.known_items("pravo-government", [untitled["eoNumber"]])[untitled["eoNumber"]].id
    )
    assert stored.revision == 2 and not stored.item.untitled
    (alert,) = app.store.recent_alerts(1)
    assert "ru-bg-military-cooperation" in alert.agreements


def test_cli_dry_run_prints_items(config_dir, tmp_path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    out = tw("poll", "--once", "--dry-run", "government-docs", config=config_dir, state=tmp_path / "s")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("government-docs: 3 items\n  - Распоряжение от 5 декабря 2025 года №3605-р\n")
    assert f"link={http.base}/docs/57123/" in out.stdout
    assert "deliveries" not in out.stdout  # nothing queued, nothing sent
    assert Store(tmp_path / "s" / "treatywatch.db").counts()["items"] == 0  # and nothing stored


def test_cli_poll_sources_and_alerts(config_dir, tmp_path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "s"
    poll = tw("poll", "--once", config=config_dir, state=state)
    assert poll.returncode == 0, poll.stderr
    assert "euronews-world: 5 items, 5 new, 0 changed, 2 alerts" in poll.stdout
    assert "=== [HIGH] Russia terminates military agreements with Portugal, France and Canada ===" in poll.stdout
    sources = tw("sources", config=config_dir, state=state)
    assert "government-docs" in sources.stdout and "failures: 0  items: 3" in sources.stdout
    alerts = tw("alerts", "--json", config=config_dir, state=state)
    titles = [a["title"] for a in json.loads(alerts.stdout)]
    assert "Russia terminates military agreements with Portugal, France and Canada" in titles
    frozen = tw("alerts", "--watch", "frozen-assets", "--since", "1h", config=config_dir, state=state)
    assert frozen.stdout.count("[medium]") == 3 and "[high]" not in frozen.stdout


def test_daemon_survives_failures_and_stops_cleanly(config_dir, tmp_path, http: FixtureServer, clock, caplog):
    calls = {"n": 0}

    def broken(handler):
        calls["n"] += 1
        return 500, {}, b"down"

    http.routes["/broken"] = broken
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(
        # polled hourly, yet retried after each failure as soon as its (here tiny) backoff ends
        config_dir,
        f"sources:\n  - {{id: broken, type: feed, url: '{http.base}/broken', every: 1h}}\n",
        "broken.yaml",
    )
    app = make_app(config_dir, tmp_path / "state", utcnow)  # the real clock: backoff must expire
    daemon = Daemon(app)
    # the failing source must be retried: let backoff expire at once
    app.config = app.runner.config = app.config.model_copy(
        update={
            "settings": app.config.settings.model_copy(
                update={"source_backoff_base": 0.001, "source_backoff_max": 0.001}
            )
        }
    )
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False})
    with caplog.at_level(logging.INFO):
        thread.start()
        deadline = time.monotonic() + 20
        while calls["n"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        daemon.stop()
        thread.join(15)
    assert not thread.is_alive()
    assert calls["n"] >= 3  # polled again and again despite failing
    assert app.store.source_state("euronews-world").items_last_seen == 5  # the others kept working
    assert "stopped cleanly" in caplog.text
    app.close()


def test_reload_keeps_last_good_config(config_dir, tmp_path, http: FixtureServer, clock, caplog):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    daemon = Daemon(app)
    before = app.config
    write_config(config_dir, "watches:\n  - id: broken\n    query: '(oops'\n", "broken.yaml")
    with caplog.at_level(logging.ERROR):
        daemon.reload()
    assert app.config is before
    # the error points at the faulty key (the query's line), not the watch's id line
    assert "configuration not reloaded" in caplog.text and "broken.yaml:3" in caplog.text
    Path(config_dir / "broken.yaml").write_text("watches:\n  - id: extra\n    query: snow\n", encoding="utf-8")
    daemon.reload()
    assert "extra" in [w.id for w in app.watchlist.watches]
    assert app.config.settings.state_dir == tmp_path / "state"  # the open database stays where it is
    app.close()


def test_revision_of_a_reported_item_sends_no_followup(config_dir, tmp_path, http: FixtureServer, clock):
    feed = {"body": (FIXTURES / "news" / "euronews_world.xml").read_bytes()}
    http.routes["/feed.xml"] = lambda h: (200, {}, feed["body"])
    write_config(config_dir, local_sources(http.base).replace("/news/euronews_world.xml", "/feed.xml"), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    app.runner.poll("euronews-world")
    feed["body"] = feed["body"].replace(b"in a decree signed", b"in a decree that was signed")  # an edit
    second = app.runner.poll("euronews-world")
    assert second.changed == 1 and second.followups == 0
    alert = next(a for a in app.store.recent_alerts() if "Portugal" in a.title)
    assert len(alert.reports) == 1
    assert [d.kind for d in app.store.deliveries()].count("followup") == 0


def test_ignore_older_than(config_dir, tmp_path, http: FixtureServer, clock):
    write_config(config_dir, local_sources(http.base, age_limit=True), "sources.yaml")
    write_config(config_dir, "settings:\n  ignore_older_than: 12h\n", "settings.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)  # 2025-12-06 12:00
    r = app.runner.poll("euronews-world")
    assert r.new == 5 and r.alerts == 1  # the 6 Dec story; the 5 Dec frozen-assets one is too old
    assert app.store.recent_alerts()[0].title.startswith("Russia terminates")


def test_first_poll_with_no_items_is_reported(config_dir, tmp_path, http: FixtureServer, clock, caplog):
    write_config(
        config_dir, local_sources(http.base).replace("items: li.doc-item", "items: li.no-such-class"), "sources.yaml"
    )
    app = make_app(config_dir, tmp_path / "state", clock)
    with caplog.at_level(logging.WARNING):
        r = app.runner.poll("government-docs")
    assert r.items == [] and r.error is None
    assert "government-docs returned no items on its first poll; check it with poll --dry-run" in caplog.text


def test_a_crash_while_committing_a_poll_loses_and_repeats_nothing(config_dir, tmp_path, http, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    real_queue = app.store._queue

    def die(*args, **kwargs):
        raise RuntimeError("power cut while queueing deliveries")

    app.store._queue = die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        app.runner.poll("euronews-world")
    counts = app.store.counts()
    assert counts["items"] == 0 and counts["alerts"] == 0 and counts["matches"] == 0  # all rolled back
    app.store._queue = real_queue  # type: ignore[method-assign]
    r = app.runner.poll("euronews-world")
    assert r.new == 5 and r.alerts == 2  # everything is processed again, once
    assert len(app.store.deliveries("pending")) == 2


def test_parser_surprise_is_a_source_failure(config_dir, tmp_path, http: FixtureServer, clock):
    http.routes["/pravo/api/Documents"] = lambda h: (200, {}, b'{"items": [1, 2], "pagesTotalCount": 1}')
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    r = app.runner.poll("pravo-government")
    assert r.error == "pravo parser failed: AttributeError: 'int' object has no attribute 'get'"
    state = app.store.source_state("pravo-government")
    assert state.consecutive_failures == 1 and state.next_due is not None  # backed off and retried later


class _RacedStore(Store):
    """A real store whose first read of known items lets another process (a second app on the same database
    file) poll and commit the same items before this one commits: the race of `poll --once` beside the daemon."""

    def __init__(self, path: Path | str, rival: object, source_id: str) -> None:
        super().__init__(path)
        self.rival, self.source_id, self.raced = rival, source_id, False

    def known_items(self, source_id: str, keys: list[str]):  # type: ignore[no-untyped-def]
        known = super().known_items(source_id, keys)
        if not self.raced and source_id == self.source_id:
            self.raced = True
            self.rival.runner.poll(source_id)  # type: ignore[attr-defined]
        return known


def test_another_process_storing_the_same_items_first_is_not_an_error(config_dir, tmp_path, http, clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "state"
    rival = make_app(config_dir, state, clock)
    app = make_app(config_dir, state, clock)
    raced = _RacedStore(app.store.path, rival, "euronews-world")
    app.runner.store = raced
    result = app.runner.poll("euronews-world")  # on the old code: sqlite3.IntegrityError out of poll()
    assert result.error is None and raced.raced
    assert result.new == 0 and result.alerts == 0  # read again after the conflict: the rival had stored it all
    counts = Store(app.store.path).counts()
    assert counts["items"] == 5
    assert counts["alerts"] == rival.store.counts()["alerts"] >= 1
