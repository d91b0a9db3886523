"""/metrics as Prometheus reads it: parsed with prometheus_client's own parser from a real StatusServer."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import FIXTURES, local_sources, make_app, write_config
from treatywatch.web.server import StatusServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> tuple[dict[str, str], dict[str, str], Samples]:
    """Family name -> type, family name -> help, and every sample by (name, labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode("utf-8")
    types, helps, samples = {}, {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name], helps[fam.name] = fam.type, fam.documentation
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return types, helps, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_types_help_and_counters_that_only_grow(config_dir, tmp_path, http, webhook, clock):
    feed = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    up = {"flaky": False}
    http.routes["/flaky.xml"] = lambda h: (
        (200, {"Content-Type": "application/rss+xml"}, feed) if up["flaky"] else (500, {}, b"down")
    )
    write_config(
        config_dir,
        local_sources(http.base) + f"  - {{id: flaky, type: feed, url: '{http.base}/flaky.xml'}}\n",
        "sources.yaml",
    )
    write_config(
        config_dir,
        f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n    watches: [agreement-terminated]\n",
        "subscribers.yaml",
    )
    app = make_app(config_dir, tmp_path / "state", clock)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        app.runner.poll("euronews-world")
        app.runner.poll("flaky")
        webhook.fail_with = 500
        app.outbox.run_once()
        types, helps, first = scrape(server.port)
        assert types["treatywatch_polls"] == "counter"
        assert types["treatywatch_items_stored"] == "counter"
        assert types["treatywatch_alerts"] == "counter"
        assert types["treatywatch_deliveries"] == "counter"
        assert types["treatywatch_fetch_duration_seconds"] == "histogram"
        assert types["treatywatch_poll_duration_seconds"] == "histogram"
        assert types["treatywatch_source_consecutive_failures"] == "gauge"
        assert types["treatywatch_source_last_success_timestamp_seconds"] == "gauge"
        assert types["treatywatch_outbox_deliveries"] == "gauge"
        assert types["treatywatch_sources_failing"] == "gauge"
        assert types["treatywatch_build_info"] == "gauge"  # an Info in the text format
        assert all(helps.values()), [n for n, h in helps.items() if not h]  # every name has HELP text
        assert value(first, "treatywatch_build_info", version="0.1.0") == 1
        assert value(first, "treatywatch_polls_total", source="euronews-world", outcome="ok") == 1
        assert value(first, "treatywatch_polls_total", source="flaky", outcome="error") == 1
        assert value(first, "treatywatch_items_stored_total", source="euronews-world") == 5
        assert value(first, "treatywatch_alerts_total", watch="agreement-terminated") >= 1
        assert value(first, "treatywatch_deliveries_total", status="failed", channel="json") >= 1
        assert value(first, "treatywatch_source_consecutive_failures", source="flaky") == 1
        assert value(first, "treatywatch_sources_failing") == 1
        assert value(first, "treatywatch_outbox_deliveries", status="failed") >= 1
        assert value(first, "treatywatch_poll_duration_seconds_count", source="euronews-world") == 1
        assert value(first, "treatywatch_fetch_duration_seconds_count", source="flaky") == 1
        assert ("treatywatch_source_last_success_timestamp_seconds", frozenset({("source", "flaky")})) not in first
        assert (
            value(first, "treatywatch_source_last_success_timestamp_seconds", source="euronews-world")
            == clock().timestamp()
        )

        up["flaky"] = True
        webhook.fail_with = None
        clock.advance(hours=1)
        app.runner.poll("euronews-world")
        app.runner.poll("flaky")
        app.outbox.run_once()
        _, _, second = scrape(server.port)
        # counters only grow ...
        assert value(second, "treatywatch_polls_total", source="euronews-world", outcome="ok") == 2
        assert value(second, "treatywatch_polls_total", source="flaky", outcome="error") == 1
        assert value(second, "treatywatch_polls_total", source="flaky", outcome="ok") == 1
        assert value(second, "treatywatch_items_stored_total", source="euronews-world") == 5  # nothing new
        assert value(second, "treatywatch_deliveries_total", status="failed", channel="json") == value(
            first, "treatywatch_deliveries_total", status="failed", channel="json"
        )
        assert value(second, "treatywatch_deliveries_total", status="sent", channel="json") >= 1
        assert value(second, "treatywatch_poll_duration_seconds_count", source="euronews-world") == 2
        # ... gauges follow the state, down too
        assert value(second, "treatywatch_source_consecutive_failures", source="flaky") == 0
        assert value(second, "treatywatch_sources_failing") == 0
        assert value(second, "treatywatch_outbox_deliveries", status="failed") == 0
        assert value(second, "treatywatch_source_last_success_timestamp_seconds", source="flaky") == clock().timestamp()
    finally:
        server.stop()
        app.close()


def test_two_apps_in_one_process_have_their_own_metrics(config_dir, tmp_path, http, clock):
    """No global registry: a second App neither clashes on registration nor sees the first one's counts."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    one = make_app(config_dir, tmp_path / "one", clock)
    two = make_app(config_dir, tmp_path / "two", clock)
    try:
        one.runner.poll("euronews-world")
        assert b'treatywatch_polls_total{outcome="ok",source="euronews-world"} 1.0' in one.metrics.exposition()
        assert b"treatywatch_polls_total{" not in two.metrics.exposition()
    finally:
        one.close()
        two.close()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) not installed")
def test_promtool_accepts_the_exposition(config_dir, tmp_path, http, clock):
    """Prometheus's own linter: HELP on every name, counters named _total, no metric per status."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        app.runner.poll("euronews-world")
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as resp:
            text = resp.read()
        done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
        assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done
    finally:
        server.stop()
        app.close()


def test_past_metrics_sources_max_all_sources_share_one_series(tmp_path, http, clock):
    """A desk over settings.metrics_sources_max: no series per source, one labelled source="*" for them all
    (counters summed, the most failures, the oldest success); a reload back under the limit gives each source its
    own again and drops the shared one."""
    feed = (FIXTURES / "news" / "euronews_world.xml").read_bytes()
    http.routes["/a.xml"] = http.routes["/b.xml"] = lambda h: (200, {"Content-Type": "application/rss+xml"}, feed)
    http.routes["/down.xml"] = lambda h: (500, {}, b"down")
    sources = "".join(
        f"  - {{id: {sid}, type: feed, url: '{http.base}/{path}.xml'}}\n"
        for sid, path in (("one", "a"), ("two", "b"), ("three", "down"))
    )
    config_dir = tmp_path / "config"  # these three sources and nothing else
    config_dir.mkdir()
    write_config(config_dir, "sources:\n" + sources, "sources.yaml")
    write_config(config_dir, "settings:\n  metrics_sources_max: 2\n", "settings.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        first_success = clock().timestamp()
        app.runner.poll("one")
        clock.advance(minutes=5)
        app.runner.poll("two")
        app.runner.poll("three")
        app.runner.poll("three")
        _, _, got = scrape(server.port)
        labelled = {dict(labels).get("source") for (_, labels) in got if dict(labels).get("source")}
        assert labelled == {"*"}
        assert value(got, "treatywatch_polls_total", source="*", outcome="ok") == 2
        assert value(got, "treatywatch_polls_total", source="*", outcome="error") == 2
        assert value(got, "treatywatch_items_stored_total", source="*") == 10
        assert value(got, "treatywatch_fetch_duration_seconds_count", source="*") == 4
        assert value(got, "treatywatch_source_consecutive_failures", source="*") == 2
        assert value(got, "treatywatch_source_last_success_timestamp_seconds", source="*") == first_success
        assert value(got, "treatywatch_sources_failing") == 1
        assert value(got, "treatywatch_source_empty", source="*") == 0

        app.config = app.config.model_copy(
            update={"settings": app.config.settings.model_copy(update={"metrics_sources_max": 3})}
        )  # as a reload installs it
        app.runner.poll("three")
        _, _, got = scrape(server.port)
        assert value(got, "treatywatch_polls_total", source="three", outcome="error") == 1
        assert value(got, "treatywatch_polls_total", source="*", outcome="error") == 0  # dropped with the switch
        assert value(got, "treatywatch_source_consecutive_failures", source="three") == 3
        assert value(got, "treatywatch_source_consecutive_failures", source="one") == 0
    finally:
        server.stop()
        app.close()
