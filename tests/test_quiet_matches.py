"""Matches that open no alert are still stored: a baseline poll and items too old to alert are matched and their
matches kept (alert_id NULL), so search, `evaluate`, back-tests and outside scorers that read the matches table see
what the watches found. Without this, the dev set's own eval.sh scored recall 0.00 once the baseline became the
default."""

from __future__ import annotations

from datetime import timedelta

from conftest import Clock
from test_baseline import FRANCE, PORTUGAL, LiveFeed, slug
from treatywatch.localserve import FixtureServer


def link(title: str) -> str:
    return f"https://news.example/{slug(title)}"


def test_a_baseline_poll_stores_its_matches_without_alerting(app_with, http: FixtureServer, clock: Clock):
    live = LiveFeed(http)
    live.publish(FRANCE, clock() - timedelta(hours=2))
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml'}}\n", baseline=True)
    r = app.runner.poll("live")
    assert r.baseline and r.alerts == 0
    matched = app.store.matches_by_link()
    assert "agreement-terminated" in matched[link(FRANCE)]
    assert matched[link(FRANCE)]["agreement-terminated"] == {"ru-fr-1994-military-cooperation"}
    assert app.store.counts()["alerts"] == 0
    app.close()


def test_an_item_too_old_to_alert_keeps_its_match(app_with, http: FixtureServer, clock: Clock):
    live = LiveFeed(http)
    live.publish(FRANCE, clock() - timedelta(days=30))
    live.publish(PORTUGAL, clock() - timedelta(days=2))
    app = app_with(f"  - {{id: live, type: feed, url: '{http.base}/live.xml', baseline: false}}\n")
    r = app.runner.poll("live")
    assert r.new == 2 and r.alerts == 1
    matched = app.store.matches_by_link()
    assert set(matched) == {link(FRANCE), link(PORTUGAL)}
    (alert,) = app.store.recent_alerts(5)
    assert "Portugal" in alert.title
    app.close()
