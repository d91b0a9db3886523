"""The whole pipeline on each engine (a real SQLite file, a real PostgreSQL server), and `treatywatch migrate`
moving an installation from SQLite to PostgreSQL without loss."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from conftest import Clock, WebhookSink, local_sources, make_app, tw, write_config
from treatywatch.localserve import FixtureServer
from treatywatch.store import open_store
from treatywatch.store.migrate import table_counts


def setup_config(config_dir: Path, http: FixtureServer, hook: WebhookSink, database: str) -> Path:
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(
        config_dir,
        f"settings:\n  database: '{database}'\nsubscribers:\n  - id: desk\n    notify: ['{hook.url}']\n"
        "    watches: [agreement-terminated, frozen-assets]\n",
    )
    return config_dir


def test_feed_to_alert_once_on_each_engine(
    database: str, config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink, clock: Clock
):
    setup_config(config_dir, http, webhook, database)
    app = make_app(config_dir, tmp_path / "state", clock)
    assert app.config.settings.database == database
    result = app.runner.poll("euronews-world")
    assert result.error is None and result.new == 5 and result.alerts >= 1
    assert app.outbox.run_once().sent == result.alerts
    title = "Russia terminates military agreements with Portugal, France and Canada"
    assert any(b["title"].endswith(title) for b in webhook.bodies)
    alert = next(a for a in app.store.recent_alerts(10) if a.title == title)
    assert alert.reports and "ru-fr-1994-military-cooperation" in alert.agreements
    assert [s.item.title for s in app.store.search("terminates military")][:1] == [title]
    # again: nothing new, nothing sent; and after a restart on the same database, still nothing
    clock.advance(minutes=10)
    assert app.runner.poll("euronews-world").new == 0 and app.outbox.run_once().sent == 0
    app.close()
    again = make_app(config_dir, tmp_path / "state", clock)
    assert again.runner.poll("euronews-world").alerts == 0 and again.outbox.run_once().sent == 0
    assert len(webhook.bodies) == result.alerts
    assert again.store.deliveries("sent")[0].status == "sent"
    again.close()


def test_migrate_sqlite_to_postgresql(
    pg_url: str, config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink, clock: Clock
):
    sqlite_url = f"sqlite:///{tmp_path / 'state' / 'treatywatch.db'}"
    setup_config(config_dir, http, webhook, sqlite_url)
    app = make_app(config_dir, tmp_path / "state", clock)
    for source in ("euronews-world", "ria-politics"):
        assert app.runner.poll(source).error is None
    app.outbox.run_once()
    before = table_counts(app.store)
    assert before["items"] and before["alerts"] and before["deliveries"]
    app.close()

    done = tw("migrate", "--from", sqlite_url, "--to", pg_url, config=config_dir)
    assert done.returncode == 0, done.stderr
    assert f"items {before['items']}" in done.stdout
    pg = open_store(pg_url, tmp_path)
    assert table_counts(pg) == before
    # refused on a target holding data; --force replaces it (the same result: idempotent)
    refused = tw("migrate", "--from", sqlite_url, "--to", pg_url, config=config_dir)
    assert refused.returncode == 3 and "not empty" in refused.stderr
    assert tw("migrate", "--from", sqlite_url, "--to", pg_url, "--force", config=config_dir).returncode == 0
    assert table_counts(pg) == before
    pg.close()
    # and back: the way out is the same command
    back = f"sqlite:///{tmp_path / 'back' / 'treatywatch.db'}"
    assert tw("migrate", "--from", pg_url, "--to", back, config=config_dir).returncode == 0
    returned = open_store(back, tmp_path)
    assert table_counts(returned) == before and returned.search("terminates")
    returned.close()

    # the installation goes on on PostgreSQL: what it knew is known (nothing new, nothing sent twice), search and
    # the alert views read the copied rows, and new rows get ids after the copied ones
    setup_config(config_dir, http, webhook, pg_url)
    moved = make_app(config_dir, tmp_path / "state2", clock)
    sent = len(webhook.bodies)
    assert moved.runner.poll("euronews-world").new == 0 and moved.outbox.run_once().sent == 0
    assert len(webhook.bodies) == sent
    assert moved.store.search("terminates")
    assert [a.id for a in moved.store.recent_alerts(50)] == list(range(before["alerts"], 0, -1))
    assert moved.runner.poll("council-press-fr").error is None
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT min(id), count(*) FROM items WHERE source_id = 'council-press-fr'").fetchone()
    assert row is not None and (row[1] == 0 or row[0] > before["items"])
    moved.close()


def test_database_option_and_password_stay_out_of_output(pg_server, tmp_path: Path):
    url = f"postgresql://tw:hunter2@127.0.0.1:{pg_server.port}/missing_db"
    done = tw("--database", url, "sources", "--json", state=tmp_path / "s")
    assert done.returncode == 3, done.stderr
    assert "missing_db" in done.stderr and "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize("value", ["mysql://x@h/db"])
def test_unknown_database_scheme_is_an_error(value: str, tmp_path: Path):
    done = tw("--database", value, "sources", state=tmp_path / "s")
    assert done.returncode == 3 and "postgresql://" in done.stderr
