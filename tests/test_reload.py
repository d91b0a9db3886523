"""Live configuration: the real daemon reloads an edited YAML without SIGHUP, says what changed in one line, and a
broken edit leaves the last good configuration running with readiness failing until it is fixed."""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import write_config
from test_baseline import LiveFeed, daemon_files, wait
from test_shutdown import RunningDaemon
from treatywatch.app import compile_config
from treatywatch.config.diff import summary
from treatywatch.daemon import ConfigFiles
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.store.base import ts

pytestmark = pytest.mark.timeout(180)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(port: int) -> tuple[int, str]:
    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    return r.status_code, r.text


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_real_daemon_reloads_an_edit_and_keeps_running_through_a_broken_one(
    config_dir: Path, tmp_path: Path, http: FixtureServer, smtp: SmtpSink
):
    live = LiveFeed(http)
    daemon_files(config_dir, http.base, smtp.url())
    port = free_port()
    settings = (config_dir / "settings.yaml").read_text(encoding="utf-8").replace("web_port: 0", f"web_port: {port}")
    write_config(config_dir, settings, "settings.yaml")
    sources = (config_dir / "sources.yaml").read_text(encoding="utf-8")
    write_config(config_dir, sources.replace("every: 2s}", "every: 2s, baseline: false}"), "sources.yaml")
    daemon = RunningDaemon(config_dir, tmp_path / "state", tmp_path / "d.log")
    try:
        daemon.wait_for("source live: 0 items")
        wait(lambda: ready(port)[0] == 200, 30, "readiness", daemon)

        # a watch added by editing a file works without a restart
        write_config(config_dir, "watches:\n  - id: blizzard\n    query: blizzard\n    severity: high\n", "new.yaml")
        daemon.wait_for("configuration reloaded (file change): +1 watch (blizzard)")
        (line,) = lines_with(daemon.text(), "configuration reloaded")
        assert "source" not in line.split("change):")[1]  # nothing else changed
        live.publish("A blizzard closes every port of the Baltic coast", datetime.now(UTC))
        wait(lambda: len(smtp.messages) == 1, 30, "the new watch's mail", daemon)

        # a broken edit: one log line with file:line, the old configuration keeps working, readiness fails
        write_config(config_dir, "watches:\n  - id: broken\n    query: '(oops'\n", "broken.yaml")
        daemon.wait_for("configuration not reloaded (file change)")
        (bad,) = lines_with(daemon.text(), "configuration not reloaded")
        assert "broken.yaml:3" in bad and "last good one stays in force" in bad  # the query's line
        status, body = ready(port)
        assert status == 503 and "broken.yaml:3" in body
        live.publish("A second blizzard closes the Arctic ports", datetime.now(UTC))
        wait(lambda: len(smtp.messages) == 2, 30, "a mail under the old configuration", daemon)

        # fixed: ready again; SIGHUP still reloads, and says when nothing changed
        (config_dir / "broken.yaml").unlink()
        wait(lambda: ready(port)[0] == 200, 30, "readiness after the fix", daemon)
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("configuration reloaded (SIGHUP): no changes")
        code, _ = daemon.stop(signal.SIGTERM, 30)
        assert code == 0 and "Traceback" not in daemon.text()
    finally:
        daemon.close()


def test_the_reload_line_names_what_changed(config_dir: Path):
    write_config(
        config_dir,
        "sources:\n"
        + "".join(
            f"  - {{id: {s}, type: feed, url: 'http://127.0.0.1:9/{s}', enabled: {s in 'ab'}}}\n"
            for s in ("a", "b", "pravo-government", "pravo-government-rss", "government-docs")
        )
        + "subscribers:\n  - {id: desk}\n  - {id: night}\n",
        "local.yaml",
    )
    old, _ = compile_config(config_dir, {})
    text = (config_dir / "local.yaml").read_text(encoding="utf-8")
    text = text.replace("/a', enabled: True}", "/a', enabled: True, every: 5m}").replace("  - {id: night}\n", "")
    text += "watches:\n  - {id: z-new, query: x}\nsettings:\n  log_level: DEBUG\n"
    write_config(config_dir, text, "local.yaml")
    new, _ = compile_config(config_dir, {})
    assert summary(old, new) == "~1 source (a), +1 watch (z-new), -1 subscriber (night), ~settings (log_level)"
    assert summary(new, new) == "no changes"


def test_only_a_change_of_content_counts_as_an_edit(config_dir: Path):
    files = ConfigFiles(config_dir)
    assert not files.changed()
    watches = config_dir / "watches.yaml"
    later = time.time() + 10
    os.utime(watches, (later, later))  # touched, or saved unchanged by an editor
    assert not files.changed()
    watches.write_text(watches.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert files.changed() and not files.changed()  # once per edit
    (config_dir / "extra.yaml").write_text("terms: {}\n", encoding="utf-8")
    assert files.changed()
    (config_dir / "extra.yaml").unlink()
    assert files.changed()


def test_a_reload_reschedules_only_what_changed(config_dir: Path, tmp_path: Path, clock):
    from conftest import make_app
    from treatywatch.daemon import Daemon

    def sources(*specs: str) -> None:
        standins = ("pravo-government", "pravo-government-rss", "government-docs")
        body = "".join(
            f"  - {{id: {s}, type: feed, url: 'http://127.0.0.1:9/{s}', enabled: false}}\n" for s in standins
        )
        write_config(config_dir, "sources:\n" + "".join(f"  - {s}\n" for s in specs) + body, "sources.yaml")

    sources(
        "{id: a, type: feed, url: 'http://127.0.0.1:9/a', every: 1h}",
        "{id: b, type: feed, url: 'http://127.0.0.1:9/b', every: 1h}",
    )
    app = make_app(config_dir, tmp_path / "state", clock)
    daemon = Daemon(app)  # not started: the schedule is the store's, the scheduler holds the housekeeping jobs
    daemon.schedule()

    def turns() -> dict[str, object]:
        rows = app.store._rows("SELECT id, next_due FROM sources WHERE enabled = 1 ORDER BY id")
        return {r["id"]: r["next_due"] for r in rows}

    assert set(turns()) == {"a", "b"}
    assert daemon.dispatcher.run_due() == 2  # both new: due at once (two are far fewer than 50 a second)
    polled = turns()
    assert min(polled.values()) > ts(clock())  # each has its next turn (127.0.0.1:9 refuses: its retry date)
    housekeeping = {j.id: j for j in daemon.scheduler.get_jobs()}
    assert {"deliver", "config-watch", "checkpoint", "stale-claims"} <= set(housekeeping)
    assert not [j for j in housekeeping if j.startswith(("poll", "retry"))]  # no job per source
    sources(
        "{id: b, type: feed, url: 'http://127.0.0.1:9/b', every: 1h}",
        "{id: c, type: feed, url: 'http://127.0.0.1:9/c', every: 10m}",
    )
    assert daemon.reload("test")
    after = turns()
    assert set(after) == {"b", "c"}  # a is no longer claimed by anyone
    assert after["b"] == polled["b"]  # b keeps its turn: a reload does not poll everything at once
    assert after["c"] == ts(clock())  # c is new: due at once
    jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
    assert jobs == housekeeping  # housekeeping survives a reload, its timing too
    assert daemon.dispatcher.run_due() == 1  # c only
    daemon.dispatcher.stop()
    app.close()
