"""Scripts and log shippers read the CLI: --json listings are one JSON document, json logs are one object a line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from conftest import WebhookSink, local_sources, tw, write_config
from treatywatch.localserve import FixtureServer
from treatywatch.logs import JsonFormatter


def _utc(value: str | None) -> bool:
    return value is not None and datetime.fromisoformat(value).utcoffset() is not None and value.endswith("+00:00")


def _polled(config_dir: Path, tmp_path: Path, http: FixtureServer, *extra: str) -> tuple[Path, str]:
    """A first poll of the local fixture sources, on a fresh state folder each time (so it alerts and sends)."""
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / f"s{len(list(tmp_path.glob('s*')))}"
    poll = tw(*extra, "poll", "--once", config=config_dir, state=state)
    assert poll.returncode == 0, poll.stderr
    return state, poll.stderr


def test_listing_commands_print_one_json_document(config_dir, tmp_path, http: FixtureServer):
    state, _ = _polled(config_dir, tmp_path, http)

    sources = json.loads(tw("sources", "--json", config=config_dir, state=state).stdout)
    by_id = {s["id"]: s for s in sources}
    gov = by_id["government-docs"]
    assert set(gov) >= {"id", "type", "every", "last_success", "next_due", "consecutive_failures", "last_error"}
    assert gov["items_last_seen"] == 3 and gov["consecutive_failures"] == 0 and _utc(gov["last_success"])
    assert gov["baseline"] == "done"  # polled once: the first poll is behind it
    fresh = json.loads(tw("sources", "--json", config=config_dir, state=tmp_path / "never").stdout)
    assert {s["baseline"] for s in fresh} == {"off"}  # the demo's sources alert from their first poll
    text = tw("sources", config=config_dir, state=state).stdout
    assert "baseline done" in text

    deliveries = json.loads(tw("deliveries", "--json", config=config_dir, state=state).stdout)
    assert all(_utc(d["created_at"]) and _utc(d["next_attempt"]) for d in deliveries)
    assert any(d["status"] == "sent" and _utc(d["sent_at"]) for d in deliveries)
    assert set(deliveries[0]) >= {"id", "alert_id", "subscriber", "channel", "attempts", "next_attempt", "sent_at"}
    dead = tw("deliveries", "--status", "dead", "--json", config=config_dir, state=state)
    assert json.loads(dead.stdout) == []

    found = json.loads(tw("search", "terminates", "--json", config=config_dir, state=state).stdout)
    assert any(f["title"] == "Russia terminates military agreements with Portugal, France and Canada" for f in found)
    assert all(f["link"].startswith("https://") and _utc(f["first_seen"]) and _utc(f["published"]) for f in found)

    caught = json.loads(
        tw("backtest", "agreement-terminated", "--since", "100w", "--json", config=config_dir, state=state).stdout
    )
    assert caught and {c["watch"] for c in caught} == {"agreement-terminated"} and all(c["why"] for c in caught)

    alerts = json.loads(tw("alerts", "--json", config=config_dir, state=state).stdout)
    assert alerts and all(_utc(a["created_at"]) for a in alerts)


def test_json_logs_are_one_object_per_line_and_apprise_is_quiet(config_dir, tmp_path, http, webhook: WebhookSink):
    write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n", "subscribers.yaml")
    _, stderr = _polled(config_dir, tmp_path, http, "--log-format", "json")
    events = [json.loads(line) for line in stderr.splitlines()]
    assert events and webhook.bodies  # something was logged and sent through apprise
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    assert all(_utc(e["time"]) for e in events)
    assert not any("Notifying" in e["message"] for e in events)  # apprise's chatter is below INFO

    _, debug = _polled(config_dir, tmp_path, http, "--log-format", "json", "--log-level", "DEBUG")
    chatter = [e for e in map(json.loads, debug.splitlines()) if e["message"].startswith("Notifying")]
    assert chatter and {e["level"] for e in chatter} == {"DEBUG"}


def test_log_format_setting_and_text_default(config_dir, tmp_path, http):
    write_config(config_dir, "settings:\n  log_format: json\n", "settings.yaml")
    _, stderr = _polled(config_dir, tmp_path, http)
    assert stderr and all(json.loads(line)["logger"] for line in stderr.splitlines())
    _, text = _polled(config_dir, tmp_path, http, "--log-format", "text")
    assert text and not text.lstrip().startswith("{")


def test_extra_fields_become_json_fields():
    record = logging.LogRecord("treatywatch.notify", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    record.__dict__.update(source="euronews-world", subscriber="desk", watch="terminated")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    event = json.loads(JsonFormatter().format(record))
    assert event["message"] == "failed x" and event["level"] == "ERROR" and event["logger"] == "treatywatch.notify"
    assert (event["source"], event["subscriber"], event["watch"]) == ("euronews-world", "desk", "terminated")
    assert "RuntimeError: boom" in event["exception"]
