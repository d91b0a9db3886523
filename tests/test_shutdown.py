"""Stopping the real daemon (`treatywatch run` in a subprocess) while a poll is in flight, and one daemon per state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sized
from pathlib import Path

import pytest

from conftest import tw, write_config
from treatywatch.config.models import Settings
from treatywatch.localserve import FixtureServer
from treatywatch.store import Store

pytestmark = pytest.mark.timeout(120)

HAS_SETTING = "shutdown_timeout" in Settings.model_fields
# the stop budget the daemon under test gets: short when the setting exists, else the built-in default
SHUTDOWN_TIMEOUT = 3.0 if HAS_SETTING else 10.0
MARGIN = 15.0  # start-up of a Python process on a loaded 2-core machine, logging, checkpoint

FEED_HEAD = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>slow</title>"""
FEED_TAIL = b"""<item><title>Russia terminates its 1994 military agreement with France</title>
<link>https://slow.example/a</link><guid>slow-1</guid></item></channel></rss>"""
STANDINS = ("euronews-world", "ria-politics", "council-press-fr", "pravo-government", "pravo-government-rss")


class Stalling:
    """A route whose body stops after its first chunk until `release` is set (or `stall` seconds pass)."""

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self.in_flight = threading.Event()
        self.release = threading.Event()

    def __call__(self, handler: object) -> tuple[int, dict[str, str], Iterator[bytes]]:
        def body() -> Iterator[bytes]:
            yield FEED_HEAD
            self.in_flight.set()
            self.release.wait(self.stall)
            yield FEED_TAIL

        return 200, {"Content-Type": "application/rss+xml"}, body()


def daemon_config(config_dir: Path, base: str, http_timeout: float = 60.0) -> Path:
    settings = f"settings:\n  web_port: 0\n  per_host_delay: 0\n  http_timeout: {http_timeout}\n"
    if HAS_SETTING:
        settings += f"  shutdown_timeout: {SHUTDOWN_TIMEOUT}\n"
    write_config(config_dir, settings, "settings.yaml")
    sources = "sources:\n" + f"  - {{id: slow, type: feed, url: '{base}/slow.xml', every: 1h, baseline: false}}\n"
    sources += "".join(
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
        for sid in (*STANDINS, "government-docs")
    )
    return write_config(config_dir, sources, "sources.yaml")


class RunningDaemon:
    """`treatywatch run` as an operator starts it; stderr goes to a file the test can wait on."""

    def __init__(self, config: Path, state: Path, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "treatywatch", "--config", str(config), "--state-dir", str(state), "run"],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the daemon's output:\n{self.text()}")

    def wait_for_count(self, seen: Sized, n: int, what: str, timeout: float = 20.0) -> None:
        """Until a list the test's server appends to (fetches, requests) holds n entries; then exactly n."""
        deadline = time.monotonic() + timeout
        while len(seen) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(seen) == n, f"{what}: {len(seen)} fetches, not {n}\n{self.text()}"

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int, timeout: float) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            name = signal.Signals(sig).name
            raise AssertionError(f"still running {timeout:g}s after {name}:\n{self.text()}") from None
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


@pytest.fixture
def running(config_dir: Path, tmp_path: Path, http: FixtureServer):
    started: list[RunningDaemon] = []
    stalls: list[Stalling] = []

    def start(stall: float = 300.0, log: str = "daemon.log") -> tuple[RunningDaemon, Stalling]:
        route = Stalling(stall)
        stalls.append(route)
        http.routes["/slow.xml"] = route
        daemon_config(config_dir, http.base)
        d = RunningDaemon(config_dir, tmp_path / "state", tmp_path / log)
        started.append(d)
        return d, route

    yield start
    for route in stalls:
        route.release.set()
    for d in started:
        d.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_during_a_hung_poll_exits_0_within_the_timeout(running, tmp_path: Path, sig: int):
    daemon, route = running()
    assert route.in_flight.wait(60), daemon.text()
    daemon.wait_for("TreatyWatch running")
    code, _ = daemon.stop(sig, SHUTDOWN_TIMEOUT + MARGIN)
    assert code == 0, daemon.text()
    out = daemon.text()
    assert "abandoned after" in out and "poll:slow" in out
    assert "Traceback" not in out
    # checkpointed: the WAL is folded into the database and truncated
    wal = tmp_path / "state" / "treatywatch.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    store = Store(tmp_path / "state" / "treatywatch.db")
    assert store.counts()["items"] == 0  # the abandoned poll committed nothing, and runs again on restart
    store.close()


def test_stop_lets_a_poll_that_finishes_in_time_commit(running, tmp_path: Path):
    daemon, route = running(stall=1.0)
    assert route.in_flight.wait(60), daemon.text()
    code, _ = daemon.stop(signal.SIGTERM, SHUTDOWN_TIMEOUT + MARGIN)
    assert code == 0, daemon.text()
    assert "stopped cleanly" in daemon.text() and "abandoned" not in daemon.text()
    store = Store(tmp_path / "state" / "treatywatch.db")
    assert store.counts()["items"] == 1 and store.counts()["alerts"] == 1
    assert store.source_state("slow").consecutive_failures == 0
    store.close()


def test_a_second_signal_during_the_stop_ends_the_process_at_once(running):
    daemon, route = running()
    assert route.in_flight.wait(60), daemon.text()
    daemon.wait_for("TreatyWatch running")
    daemon.proc.send_signal(signal.SIGTERM)
    daemon.wait_for("a second Ctrl-C or SIGTERM ends at once")
    code, _ = daemon.stop(signal.SIGTERM, MARGIN)
    assert code == -signal.SIGTERM  # killed by the signal itself: 143 in a shell


def test_a_second_daemon_on_the_same_state_refuses_to_start(
    running, config_dir: Path, tmp_path: Path, http: FixtureServer
):
    first, _ = running(stall=0.0)
    first.wait_for("TreatyWatch running")
    first.wait_for("source slow:")  # its first poll has committed
    second = tw("run", config=config_dir, state=tmp_path / "state")
    assert second.returncode == 1
    lock = tmp_path / "state" / "treatywatch.lock"
    assert f"error: {lock} is locked by process {first.proc.pid}" in second.stderr
    assert "already runs on this state directory" in second.stderr
    # one-shot commands work beside it: SQLite serialises their writes with the daemon's; a pass claims sources
    # as the daemon does, so the one the daemon just polled is left alone until its next turn, not fetched twice
    fetched = len(http.requests)
    poll = tw("poll", "--once", "slow", config=config_dir, state=tmp_path / "state")
    assert poll.returncode == 0, poll.stderr
    assert "slow: skipped, another process is polling it or polled it this interval" in poll.stdout
    assert len(http.requests) == fetched
    alerts = tw("alerts", config=config_dir, state=tmp_path / "state")
    assert alerts.returncode == 0 and "Russia terminates its 1994" in alerts.stdout
    sources = tw("sources", config=config_dir, state=tmp_path / "state")
    assert sources.returncode == 0 and "slow" in sources.stdout
    code, _ = first.stop(signal.SIGTERM, SHUTDOWN_TIMEOUT + MARGIN)
    assert code == 0, first.text()
    # the lock dies with its holder, even a SIGKILLed one
    third, _ = running(stall=0.0, log="third.log")
    third.wait_for("TreatyWatch running")
    third.proc.kill()
    third.proc.wait()
    fourth, _ = running(stall=0.0, log="fourth.log")
    fourth.wait_for("TreatyWatch running")
    assert fourth.stop(signal.SIGTERM, SHUTDOWN_TIMEOUT + MARGIN)[0] == 0


def test_pid_in_lock_file_is_cleared_on_release(tmp_path: Path):
    from treatywatch.app import StateLock

    with StateLock(tmp_path) as lock:
        assert lock.holder() == os.getpid()
    assert StateLock(tmp_path).holder() is None
