"""The console in a real headless Chromium (Debian's `chromium` package; skipped where it is absent).

Chromium's own command line does the simple work, no driver library: `--dump-dom` gives the DOM after the page's
script ran, `--screenshot` a PNG at a given window size, `--virtual-time-budget` runs the page's timers (the live
refresh) without waiting for them. Forms are used as a person uses them, through `Browser`: Chromium's DevTools
protocol on a pipe (`--remote-debugging-pipe`, so no chromedriver and no port), real mouse clicks at the button's
place and real typing into the field. Screenshots go to $TREATYWATCH_ARTIFACTS (CI keeps them), else to the test's
tmp folder.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Clock, WebhookSink, local_sources, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
DESKTOP, PHONE = (1280, 1400), (375, 1600)
# quiet and alone: no network of its own (updates, sync, QUIC probes), no first-run pages
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
TOKEN = "s3cret-token"
TEXT = "Russia terminates military cooperation agreement with France\nMoscow ended the 1994 accord."


class Browser:
    """One Chromium tab driven over the DevTools protocol (JSON messages ending in NUL on fds 3 and 4)."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 900) -> None:
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        # fds 3 and 4 in the child: bash moves them there (dash takes one-digit fd numbers only)
        ends = [fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 100), fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 100)]
        move = f'exec "$0" "$@" 3<&{ends[0]} 4>&{ends[1]} {ends[0]}<&- {ends[1]}>&-'
        args = [*FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        self.proc = subprocess.Popen(
            ["bash", "-c", move, CHROMIUM or "chromium", *args],
            pass_fds=ends,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fd in (to_chrome, from_chrome, *ends):
            os.close(fd)
        self._buffer, self._next, self.loads = b"", 0, 0
        self.session: str | None = None
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.call("Page.enable")
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            self.call("Emulation.setDeviceMetricsOverride", **metrics)
        except BaseException:
            self.close()  # no Chromium left running behind a failed start
            raise

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "Chromium did not answer in time"
            chunk = os.read(self._read, 1 << 16)
            assert chunk, "Chromium closed its end of the pipe"
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        if message.get("method") == "Page.loadEventFired":
            self.loads += 1
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer.get("result", {})

    def _wait_load(self, before: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.loads <= before:
            self._message(deadline)

    def open(self, url: str) -> None:
        before = self.loads
        self.call("Page.navigate", url=url)
        self._wait_load(before)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click(self, selector: str, navigates: bool = True) -> None:
        """A left click in the middle of the element, as a mouse makes it; waits for the page it leads to."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        before = self.loads
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        if navigates:
            self._wait_load(before)

    def type(self, selector: str, text: str) -> None:
        """Click into the field, then type the text."""
        self.click(selector, navigates=False)
        self.call("Input.insertText", text=text)

    def text(self) -> str:
        return str(self.js("document.body.innerText"))

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call("Browser.close")
                self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            os.close(self._read)
            os.close(self._write)


class CountingClock(Clock):
    """Counts the pages rendered: each console page asks the clock once for its "as of" line."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __call__(self):  # type: ignore[override]
        self.calls += 1
        return super().__call__()


def chromium(profile: Path, *args: str) -> str:
    cmd = [CHROMIUM or "chromium", *FLAGS]
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


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    tab = Browser(tmp_path / "profile-cdp")
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture
def dead_console(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink, clock: Clock
) -> Iterator[Callable[[str], tuple[App, str]]]:
    """An app with two dead deliveries (its webhook failed once, one attempt allowed), served on 127.0.0.1."""
    made: list[tuple[App, StatusServer]] = []

    def make(settings: str = "") -> tuple[App, str]:
        write_config(config_dir, local_sources(http.base), "sources.yaml")
        write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n", "subscribers.yaml")
        write_config(config_dir, "settings:\n  delivery_max_attempts: 1\n" + settings, "settings.yaml")
        app = make_app(config_dir, tmp_path / "state", clock)
        app.runner.poll("euronews-world")
        webhook.fail_with = 500
        app.outbox.run_once()
        app.outbox.run_once()  # a channel that just failed is tried again in the next round only
        assert len(app.store.deliveries("dead")) == 2
        server = StatusServer(app, "127.0.0.1", 0)
        server.start()
        made.append((app, server))
        return app, f"http://127.0.0.1:{server.port}"

    yield make
    for app, server in made:
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


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_retry_button_and_tester_form_work_in_chromium(dead_console, browser, token):
    """Chromium's own form posts, clicked and typed as a person does: with a token configured the person types it
    into the form's token field. Before: every page said `Referrer-Policy: no-referrer`, so Chromium sent
    `Origin: null` and both forms answered 403 "cross-site request refused"."""
    app, base = dead_console(f"  web_token: {token}\n" if token else "")
    target, other = (d.id for d in app.store.deliveries("dead"))
    browser.open(f"{base}/outbox")
    if token:  # one token field for the page's retry buttons (each row used to repeat one)
        assert browser.js("document.querySelectorAll('input[name=token]').length") == 1
        browser.type("#retry-dead input[name=token]", token)
    browser.click(f"#delivery-{target} button")
    assert "Re-queued 1 dead deliveries." in browser.text(), browser.text()[:500]
    assert browser.js("location.pathname + location.search") == "/outbox?requeued=1"
    statuses = {d.id: d.status for d in app.store.deliveries()}
    assert statuses[target] == "pending" and statuses[other] == "dead"

    browser.open(f"{base}/tester")
    browser.type("textarea[name=text]", TEXT)
    if token:
        browser.type("input[name=token]", "wrong")
        browser.click("form.tester button[type=submit]")
        assert "a valid token is required" in browser.text()
        assert browser.js("document.querySelector('textarea[name=text]').value") == TEXT  # kept for another go
        browser.type("input[name=token]", token)
    browser.click("form.tester button[type=submit]")
    page = browser.text()
    assert "1 watch fires" in page and "agreement-terminated" in page, page[:500]
    assert browser.js("document.querySelectorAll('section.result mark').length") >= 1
    assert token is None or token not in browser.js("document.documentElement.outerHTML")  # never shown back
    assert app.store.counts()["alerts"] == 2  # the tester stored nothing


def test_a_page_of_another_site_cannot_press_retry_in_chromium(dead_console, browser, http):
    """The console still refuses a form posted from elsewhere: another origin (Origin: that site), and a page
    hiding its origin (no-referrer, or a sandboxed frame: Origin: null), even with no token on loopback."""
    app, base = dead_console()
    target = app.store.deliveries("dead")[0].id
    form = f'<form method="post" action="{base}/outbox/retry"><input type="hidden" name="ids" value="all">'
    pages = {
        "/plain": f"<!doctype html><title>win a prize</title>{form}<button>Claim</button></form>",
        "/hidden": '<!doctype html><meta name="referrer" content="no-referrer"><title>prize</title>'
        f"{form}<button>Claim</button></form>",
    }
    for path, body in pages.items():
        http.routes[path] = lambda h, body=body: (200, {"Content-Type": "text/html; charset=utf-8"}, body.encode())
        browser.open(f"{http.base}{path}")
        browser.click("button")
        assert "cross-site request refused" in browser.text(), path
        assert app.store.deliveries("dead")[0].id == target and len(app.store.deliveries("dead")) == 2, path


@pytest.mark.parametrize("size", [(1280, 900), (375, 800)], ids=["desktop", "phone"])
def test_a_12600_character_title_stays_within_the_window_in_chromium(app_with, http, tmp_path, size):
    """Before: the overview's list took the title whole, one unbroken line 44,654 px wide."""
    lead = "Russia terminates military cooperation agreement with France"
    title = lead + " " + "X" * (12_600 - len(lead) - 1)
    feed: dict = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}
    http.routes["/jf"] = lambda h: (200, {"Content-Type": "application/feed+json"}, json.dumps(feed).encode())
    app = app_with(f"  - {{id: jf, type: feed, url: '{http.base}/jf', language: en}}\n")
    app.runner.poll("jf")
    item = {"id": "x1", "title": lead, "url": "https://example.org/a", "date_published": "2025-12-06T10:00:00Z"}
    feed["items"] = [item]
    assert app.runner.poll("jf").alerts == 1
    with sqlite3.connect(app.config.database_path) as db:  # as an older version stored it: any length
        db.execute("UPDATE items SET title = ?", (title,))
        db.execute("UPDATE alerts SET title = ?", (title,))
    server = StatusServer(app, "127.0.0.1", 0)
    server.start()
    tab = Browser(tmp_path / "profile-long", *size)
    try:
        for path in ("/", "/alerts"):
            tab.open(f"http://127.0.0.1:{server.port}{path}")
            width, inner = tab.js("[document.documentElement.scrollWidth, window.innerWidth]")
            assert inner == size[0] and width <= 1.2 * inner, (path, width, inner)
        tab.open(f"http://127.0.0.1:{server.port}/")
        link = "document.querySelector('.latest a')"
        assert tab.js(f"{link}.textContent.endsWith('…')") and tab.js(f"{link}.textContent.length") < 300
        assert tab.js(f"{link}.querySelector('[title]').title") == title  # the whole of it, as a tooltip
    finally:
        tab.close()
        server.stop()
        app.close()


def test_an_operator_pauses_resumes_and_polls_a_source_now_in_chromium(config_dir, tmp_path, http, smtp, browser):
    """The real daemon (`treatywatch run`) with one feed polled hourly: on the source's page, Poll now makes the
    loopback feed server see one more fetch within seconds; Pause stops it (the page says who paused it) and Resume
    polls it at once. Screenshots of the sources page at desktop and phone width, and once in the dark theme."""
    from test_baseline import daemon_files
    from test_reload import free_port
    from test_shutdown import RunningDaemon

    fetched: list[float] = []
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>' + b"".join(
        f"<item><title>{title}</title><link>http://x/{n}</link></item>".encode()
        for n, title in enumerate(("Russia terminates military cooperation agreement with France", "Snow in Moscow"))
    ) + b"</channel></rss>"

    def feed(h: Any) -> tuple[int, dict, bytes]:
        fetched.append(time.monotonic())
        return 200, {"Content-Type": "application/rss+xml"}, rss

    http.routes["/live.xml"] = feed
    daemon_files(config_dir, http.base, smtp.url(), every="1h")
    port = free_port()
    settings = (config_dir / "settings.yaml").read_text(encoding="utf-8").replace("web_port: 0", f"web_port: {port}")
    write_config(config_dir, settings, "settings.yaml")
    daemon = RunningDaemon(config_dir, tmp_path / "state", tmp_path / "d.log")
    base = f"http://127.0.0.1:{port}"

    try:
        daemon.wait_for("source live: ")  # its first turn, at the start (one source: no spreading)
        browser.open(f"{base}/sources/live")
        before = len(fetched)
        browser.click("button[value=poll-now]")
        assert "live: poll scheduled now" in browser.text()
        daemon.wait_for_count(fetched, before + 1, "poll now")
        browser.click("button[value=pause]")
        page = browser.text()
        assert "live paused" in page and re.search(r"paused by local, .*not polled until resumed", page), page[:600]
        assert browser.js("document.querySelector('button[value=poll-now]')") is None  # a paused source: no poll now
        time.sleep(2)
        assert len(fetched) == before + 1  # nothing while paused
        browser.click("button[value=resume]")
        assert "live resumed, polled now" in browser.text()
        daemon.wait_for_count(fetched, before + 2, "resume")
        browser.open(f"{base}/sources/live")
        assert browser.js("document.querySelectorAll('.source-items > li').length") == 2
        page = browser.text()
        assert "agreement-terminated fires:" in page and "No watch fires" in page and "local: resume" in page

        shots = Path(os.environ.get("TREATYWATCH_ARTIFACTS") or tmp_path / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        profile = tmp_path / "profile-shots"
        for page_path, name in (("/sources", "sources"), ("/sources/live", "source")):
            for (width, height), kind in ((DESKTOP, "desktop"), (PHONE, "phone")):
                path = shots / f"console-{name}-{kind}.png"
                chromium(profile, f"--window-size={width},{height}", f"--screenshot={path}", f"{base}{page_path}")
                assert png_size(path) == (width, height)
        browser.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
        browser.open(f"{base}/sources/live")
        background = browser.js("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)", background  # the dark theme's --bg
        dark = shots / "console-source-dark.png"
        dark.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"]))
        assert png_size(dark)[0] == 1280
    finally:
        daemon.stop(signal.SIGTERM, 30)
        daemon.close()
