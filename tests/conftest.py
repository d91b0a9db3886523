"""Real local parts for the tests: an HTTP server with the fixtures, an SMTP server, a webhook receiver, SQLite."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from treatywatch.app import App, build_app, compile_config
from treatywatch.demo import demo_data
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.matching import Watchlist
from treatywatch.matching.text import Analyzer
from treatywatch.matching.watchcache import WatchlistFile

pytest_plugins = ["pg"]  # a real PostgreSQL server for the tests of both engines (tests/pg.py)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "config"
FIXTURES = demo_data() / "fixtures"
WATCHLIST_FILES = ("terms.yaml", "entities.yaml", "agreements.yaml", "watches.yaml", "vocabularies.yaml")


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class WebhookSink:
    """A real HTTP endpoint that records POSTed JSON; `fail_with` makes it answer an error status."""

    bodies: list[dict] = field(default_factory=list)
    fail_with: int | None = None
    delay: float = 0.0

    def __enter__(self) -> WebhookSink:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(outer.delay)
                if outer.fail_with:
                    self.send_response(outer.fail_with)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(raw or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


@pytest.fixture
def http() -> Iterator[FixtureServer]:
    with FixtureServer(FIXTURES) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config folder with the example watchlists; each test writes its own sources and subscribers."""
    d = tmp_path / "config"
    d.mkdir()
    for name in WATCHLIST_FILES:
        shutil.copy(EXAMPLE_CONFIG / name, d / name)
    return d


def local_sources(base: str, age_limit: bool = False) -> str:
    """The demo's sources (every id the example watches name), pointed at a local fixture server. Like the demo's
    they alert from the first poll (`baseline: false`); without `age_limit` they alert on items of any age: the
    fixtures are of December 2025, and commands run in a subprocess use the real clock."""
    text = (demo_data() / "sources.yaml").read_text(encoding="utf-8").replace("${DEMO_BASE}", base)
    if age_limit:
        return text
    return text.replace("    baseline: false\n", "    baseline: false\n    ignore_older_than: 0\n")


def write_config(config_dir: Path, text: str, name: str = "local.yaml") -> Path:
    (config_dir / name).write_text(text, encoding="utf-8")
    return config_dir


def example_watchlist(d: Path, watches: list[dict], agreements: list[dict] | None = None) -> Watchlist:
    """The example's terms, entities and vocabularies with a test's own watches and agreements, compiled in the
    folder `d` (pure matching tests)."""
    for name in ("terms.yaml", "entities.yaml", "vocabularies.yaml"):
        shutil.copy(EXAMPLE_CONFIG / name, d / name)
    if agreements is not None:
        (d / "agreements.yaml").write_text(yaml.safe_dump({"agreements": agreements}, allow_unicode=True), "utf-8")
    (d / "watches.yaml").write_text(yaml.safe_dump({"watches": watches}, allow_unicode=True), "utf-8")
    return compile_config(d, {})[1]


@pytest.fixture(autouse=True)
def _every_watchlist_compiled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test compiles its watchlists, as before the compiled ones were kept (matching/watchcache.py): a
    watchlist kept by an earlier test or run would hide what a test patched in the compile, and every configuration
    a test writes would go to the user's cache folder. tests/test_watchcache.py tests the keeping itself; the CLI
    run in a subprocess keeps them as a user's does."""
    if request.module.__name__ == "test_watchcache":
        return
    monkeypatch.setattr(WatchlistFile, "exists", lambda self: False)
    monkeypatch.setattr(WatchlistFile, "load", lambda self, analyzer: None)
    monkeypatch.setattr(WatchlistFile, "save", lambda self, watchlist: None)


@functools.cache
def shared_analyzer() -> Analyzer:
    """One analyzer for the test session, as one daemon keeps one across reloads: its lemma caches are warm."""
    return Analyzer()


def make_app(
    config_dir: Path,
    state_dir: Path,
    clock: Clock,
    echo: list[str] | None = None,
    baseline: bool = False,
    **kw: object,
) -> App:
    """The app as the CLI builds it, on this state folder and clock; terminal output goes to `echo`. Sources
    alert from their first poll unless `baseline` (the service's default; test_baseline.py tests it): most tests
    are about what a poll alerts, and a source's own `baseline:` still wins."""
    config, watchlist = compile_config(config_dir, analyzer=shared_analyzer())
    config = config.model_copy(
        update={
            "settings": config.settings.model_copy(
                update={"state_dir": state_dir, "web_port": 0, "per_host_delay": 0.0, "baseline": baseline}
            )
        }
    )
    lines = echo if echo is not None else []
    return build_app(config, watchlist, clock=clock, echo=lines.append, config_path=config_dir, **kw)  # type: ignore[arg-type]


def tw(*args: str, config: Path = EXAMPLE_CONFIG, state: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess, as an operator would."""
    cmd = [sys.executable, "-m", "treatywatch", "--config", str(config)]
    if state is not None:
        cmd += ["--state-dir", str(state)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def app_with(config_dir: Path, tmp_path: Path, clock: Clock):
    """An app with just these sources (and disabled stand-ins for those the example watches name)."""
    return lambda sources_yaml, baseline=False: _app_with(config_dir, tmp_path, clock, sources_yaml, baseline)


def _app_with(config_dir: Path, tmp_path: Path, clock: Clock, sources_yaml: str, baseline: bool = False):
    write_config(config_dir, "sources:\n" + sources_yaml, "sources.yaml")
    # the example watches name the portal sources; stand-ins keep the references valid
    write_config(
        config_dir,
        "sources:\n"
        + "".join(
            f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
            for sid in ("pravo-government", "pravo-government-rss", "government-docs")
            if not re.search(rf"id: {sid}(?![\w-])", sources_yaml)
        ),
        "zz-standins.yaml",
    )
    return make_app(config_dir, tmp_path / "state", clock, baseline=baseline)


def pytest_configure(config: pytest.Config) -> None:
    # long randomized runs; each also skips itself unless its environment variable asks for it
    config.addinivalue_line("markers", "slow: long randomized or soak test, guarded by an environment variable")
