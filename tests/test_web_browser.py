"""The console in a real headless Chromium (Debian's `chromium` package; skipped where it is absent).

Chromium's own command line does the work, no driver library: `--dump-dom` gives the DOM after the page's script
ran, `--screenshot` a PNG at a given window size, `--virtual-time-budget` runs the page's timers (the live refresh)
without waiting for them. Screenshots go to $TREATYWATCH_ARTIFACTS (CI keeps them), else to the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Clock, local_sources, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
DESKTOP, PHONE = (1280, 1400), (375, 1600)


class CountingClock(Clock):
    """Counts the pages rendered: each console page asks the clock once for its "as of" line."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __call__(self):  # type: ignore[override]
        self.calls += 1
        return super().__call__()


def chromium(profile: Path, *args: str) -> str:
    cmd = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    out = subprocess.run([*cmd, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.fixture
def served(config_dir: Path, tmp_path: Path, http: FixtureServer) -> Iterator[tuple[App, str, CountingClock]]:
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    down = "sources:\n  - {id: unreachable, type: feed, url: 'http://127.0.0.1:9/feed'}\n"
    write_config(config_dir, down, "down.yaml")
    clock = CountingClock()
    app = make_app(config_dir, tmp_path / "state", clock)
    for src in app.config.sources:  # alerts over a few days, for the chart
        app.runner.poll(src.id)
        clock.advance(hours=7)
    for src in app.config.sources:  # then a round a few minutes ago, as a running daemon would have made
        app.runner.poll(src.id)
        clock.advance(minutes=1)
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.port}", clock
    finally:
        server.stop()
        app.close()


def test_console_in_chromium_shows_sources_alerts_and_chart_at_desktop_and_phone_width(served, tmp_path):
    app, base, _ = served
    profile = tmp_path / "profile"
    overview = chromium(profile, "--dump-dom", f"{base}/")
    assert 'id="source-euronews-world"' in overview and '<span class="badge ok">ok</span>' in overview
    assert overview.count('<rect class="bar"') >= 3
    alerts = chromium(profile, "--dump-dom", f"{base}/alerts")
    newest = app.store.recent_alerts(1)[0]
    assert f'id="alert-{newest.id}"' in alerts and "<mark>" in alerts

    shots = Path(os.environ.get("TREATYWATCH_ARTIFACTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    for page, name in (("/", "overview"), ("/alerts", "alerts")):
        for (width, height), kind in ((DESKTOP, "desktop"), (PHONE, "phone")):
            path = shots / f"console-{name}-{kind}.png"
            chromium(profile, f"--window-size={width},{height}", f"--screenshot={path}", f"{base}{page}")
            assert png_size(path) == (width, height)


def test_live_refresh_runs_in_chromium(served, tmp_path):
    _, base, clock = served
    before = clock.calls
    chromium(tmp_path / "profile", "--dump-dom", f"{base}/outbox")
    once = clock.calls - before  # what one load of the page costs
    before = clock.calls
    # 65 s of the page's time: loaded, then refreshed at 30 s and 60 s by its script (timers run virtually)
    dom = chromium(tmp_path / "profile", "--virtual-time-budget=65000", "--dump-dom", f"{base}/outbox")
    assert clock.calls - before == 3 * once
    assert '<main id="live" data-refresh="30">' in dom and "Pending" in dom
