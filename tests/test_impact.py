"""A watchlist change measured before it goes live: the stored items run through the edited watchlist beside the
running one; what would appear and disappear, and each of the desk's verdicts that would flip. Through the
function, `treatywatch check --impact` and the daemon's copy of the running configuration."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import Clock, local_sources, make_app, shared_analyzer, tw, write_config
from treatywatch.app import App, compile_config
from treatywatch.applied import applied_dir, save_applied
from treatywatch.impact import changed_watches, impact
from treatywatch.localserve import FixtureServer

FROZEN = '"@frozen_assets AND @russia"'


@pytest.fixture
def polled(config_dir: Path, tmp_path: Path, http: FixtureServer) -> Iterator[App]:
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", Clock())
    for src in app.config.sources:
        app.runner.poll(src.id)
    yield app
    app.close()


def edited(config_dir: Path, tmp_path: Path, query: str, name: str = "edited") -> Path:
    """A copy of the configuration with the frozen-assets query replaced."""
    target = tmp_path / name
    shutil.copytree(config_dir, target)
    watches = target / "watches.yaml"
    watches.write_text(watches.read_text(encoding="utf-8").replace(FROZEN, query), encoding="utf-8")
    return target


def alert_titled(app: App, start: str) -> int:
    return next(a.id for a in app.store.recent_alerts(50) if a.title.startswith(start))


def test_a_fixed_false_alarm_and_a_lost_correct_alert(polled: App, config_dir: Path, tmp_path: Path):
    app = polled
    talk, council = alert_titled(app, "Медведев"), alert_titled(app, "Avoirs russes")
    app.store.set_verdict("false_alarm", "alice", app.clock(), alert_id=talk, note="a threat, not an act")
    app.store.set_verdict("correct", "alice", app.clock(), alert_id=council)
    since = app.clock() - timedelta(days=30)

    config, better = compile_config(edited(config_dir, tmp_path, '"@frozen_assets AND @russia AND NOT войн*"'),
                                    analyzer=shared_analyzer())  # fmt: skip
    only = changed_watches(app.config, config)
    assert only == ["frozen-assets"]  # only the watch that changed is run on both sides
    result = impact(app.store, app.watchlist, better, since, only=only)
    assert (result.items, result.appear, result.disappear) == (23, 0, 1)
    (flip,) = result.flips
    assert (flip.kind, flip.verdict, flip.note, flip.by) == (
        "false alarm fixed",
        "false_alarm",
        "a threat, not an act",
        "alice",
    )
    assert flip.change.title.startswith("Медведев") and "frozen" in flip.change.why.lower()
    assert result.correct_lost == []
    assert [(a.alert_id, a.lost, a.reports, a.gone) for a in result.alerts] == [(talk, 1, 1, True)]
    both = impact(app.store, app.watchlist, better, since, batch=2)  # two items a read, every watch compared
    assert [(c.item_id, c.watch, c.appears) for c in both.changes] == [
        (c.item_id, c.watch, c.appears) for c in result.changes
    ]

    folder = edited(config_dir, tmp_path, '"@frozen_assets AND @russia AND NOT conseil"', "worse")
    config, worse = compile_config(folder, analyzer=shared_analyzer())
    result = impact(app.store, app.watchlist, worse, since, only=changed_watches(app.config, config))
    assert [(f.kind, f.change.item_id) for f in result.flips] == [
        ("correct alert lost", app.store.alert(council).reports[0].item_id)
    ]
    assert "WARNING: 1 alerts the desk called correct would be lost" in result.text()
    assert f"alert #{council} (frozen-assets) would not open" in result.text()


def test_a_change_to_a_term_set_compares_every_watch(polled: App, config_dir: Path, tmp_path: Path):
    target = tmp_path / "terms"
    shutil.copytree(config_dir, target)
    terms = target / "terms.yaml"
    terms.write_text(terms.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # the same sets: still only watches
    config, _ = compile_config(target, analyzer=shared_analyzer())
    assert changed_watches(polled.config, config) == []
    changed = config.model_copy(update={"terms": {**config.terms, "extra": next(iter(config.terms.values()))}})
    assert changed_watches(polled.config, changed) is None


def test_check_impact_from_the_command_line(config_dir: Path, tmp_path: Path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "state"
    assert tw("poll", "--once", config=config_dir, state=state).returncode == 0
    alerts = json.loads(tw("alerts", "--text", "Медведев", "--json", config=config_dir, state=state).stdout)
    (talk,) = alerts
    assert tw("verdict", "false-alarm", "--alert", str(talk["id"]), "--as", "alice", config=config_dir,
              state=state).returncode == 0  # fmt: skip
    candidate = edited(config_dir, tmp_path, '"@frozen_assets AND @russia AND NOT войн*"')

    none = tw("check", "--impact", config=candidate, state=state)  # no daemon ran: nothing to compare with
    assert none.returncode == 2 and "start the daemon, or --current DIR" in none.stderr

    save_applied(config_dir, state)  # what a daemon does at start and after each reload
    assert sorted(p.name for p in applied_dir(state).iterdir()) == sorted(p.name for p in config_dir.iterdir())
    out = tw("check", "--impact", "--days", "3650", config=candidate, state=state)
    assert out.returncode == 0, out.stderr
    assert "would appear: 0, would disappear: 1" in out.stdout
    assert "false alarm fixed: item" in out.stdout and "frozen-assets (said false_alarm by alice)" in out.stdout
    as_json = json.loads(tw("check", "--impact", "--days", "3650", "--current", str(config_dir), "--json",
                            config=candidate, state=state).stdout)  # fmt: skip
    assert as_json["disappear"] == 1 and as_json["flips"][0]["flip"] == "false alarm fixed"
    assert as_json["watches"] == ["frozen-assets"]


def test_a_reload_that_loses_a_correct_alert_says_so(polled: App, config_dir: Path, caplog):
    """The daemon checks every reload against the desk's labeled items: losing an alert called correct is logged
    and shown on every console page until a reload that loses none; the reload goes ahead all the same."""
    import httpx

    from treatywatch.daemon import Daemon
    from treatywatch.web.server import StatusServer

    app = polled
    council = alert_titled(app, "Avoirs russes")
    app.store.set_verdict("correct", "alice", app.clock(), alert_id=council)
    watches = config_dir / "watches.yaml"
    good = watches.read_text(encoding="utf-8")
    watches.write_text(good.replace(FROZEN, '"@frozen_assets AND @russia AND NOT conseil"'), encoding="utf-8")
    daemon = Daemon(app)
    with caplog.at_level("WARNING", logger="treatywatch.daemon"):
        assert daemon.reload("test") is True
    assert (
        "1 alerts the desk called correct no longer fire: item" in caplog.text
        and "said correct by alice" in caplog.text
    )
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        page = httpx.get(f"http://127.0.0.1:{server.port}/alerts", timeout=10).text
        assert "The last reload lost alerts the desk called correct" in page
        watches.write_text(good, encoding="utf-8")
        assert daemon.reload("test") is True and app.reload_warning is None
        assert "lost alerts" not in httpx.get(f"http://127.0.0.1:{server.port}/alerts", timeout=10).text
    finally:
        server.stop()
