"""PostgreSQL away, said plainly: the daemon's polls say "database unreachable" once (not a scheduler traceback per
source per tick; the burst test in test_multi_daemon.py sees it come back); /readyz answers 503 naming it (it was a
500: the readiness check read on after the failed write), /metrics still scrapes and says `treatywatch_database_up
0` (the scrape raised)."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from conftest import Clock, local_sources, make_app, write_config
from treatywatch.daemon import Daemon
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_database_away_is_said_once_and_served_as_not_ready(
    pg_server, pg_url: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, caplog
):
    write_config(config_dir, f"settings:\n  database: '{pg_url}'\n" + local_sources(http.base), "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    app.store.pool.timeout = 1.0  # type: ignore[attr-defined]  # a waiting thread gives up after 1 s, not 30
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    daemon = Daemon(app)  # not started: run_due() is what each of its dispatcher's ticks does
    sources = [s.id for s in app.config.sources if s.enabled]
    try:
        assert fetch(server.port, "/readyz")[0] == 200
        assert "treatywatch_database_up 1.0" in fetch(server.port, "/metrics")[1]
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {pg_url.rsplit('/', 1)[1]} WITH (FORCE)")
        with caplog.at_level(logging.INFO):
            for _ in sources:  # as many ticks as sources: each would have polled
                assert daemon.dispatcher.run_due() == 0
        said = [r for r in caplog.records if "database unreachable" in r.getMessage()]
        assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in caplog.records]
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        status, body = fetch(server.port, "/readyz")
        assert status == 503 and "store not writable" in body
        status, body = fetch(server.port, "/metrics")
        assert status == 200 and "treatywatch_database_up 0.0" in body
    finally:
        server.stop()
        app.close()


def test_the_connection_pool_is_sized_from_the_workers_or_the_setting(
    pg_url: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer
):
    """10 poll workers + delivery_workers + 2 by default; settings.database_pool for N daemons under max_connections."""
    for extra, size in (("", 16), ("  delivery_workers: 2\n", 14), ("  database_pool: 9\n", 9)):
        write_config(config_dir, f"settings:\n  database: '{pg_url}'\n{extra}" + local_sources(http.base), "s.yaml")
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            assert app.store.pool.max_size == size  # type: ignore[attr-defined]
        finally:
            app.close()
