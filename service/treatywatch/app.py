"""Wiring: build every dependency once from a config path. The CLI calls this; tests call it with their own parts."""

from __future__ import annotations

import contextlib
import gc
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

from .config import Config, load_config
from .errors import ConfigError, QueryError, StateLockedError
from .matching import Watchlist
from .matching.text import Analyzer
from .matching.watchcache import KeptWatchlist, WatchlistFile, compile_watchlist
from .notify.channels import channel

if TYPE_CHECKING:  # imported where used, so `check` and `evaluate` load no store, outbox, metrics or HTTP client
    import httpx

    from .metrics import Metrics
    from .notify.outbox import Outbox
    from .pipeline import Runner
    from .sources.fetch import Fetcher
    from .store import SqlStore


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def built_for_good() -> Iterator[None]:
    """Around building what a process keeps as long as it lives (the app at start-up; the watchlist and language
    model a pool's forked workers share): hundreds of thousands of objects allocated and almost none freed, so the
    cyclic collector is paused meanwhile (its passes over them would be wasted: 1.5 -> 1.2-1.35 s of a cold start),
    and what was built is frozen after: out of the collector's sight, its full collections stop walking it (a cold
    pass over 5,000 feeds: 0.96 s of them in the storing process, 0.51 s frozen), and a forked worker's pages are
    not written to by the collector."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if paused:
            gc.enable()


def compile_config(
    path: Path, env: dict[str, str] | None = None, analyzer: Analyzer | None = None, *, keep: bool = True
) -> tuple[Config, Watchlist]:
    """Load, validate and compile: everything `treatywatch check` promises, as one ConfigError. Pass the analyzer
    of the previous compile (a reload) to keep its caches of lemmas. keep=False: compiled here, whatever an earlier
    start kept (matching/watchcache.py)."""
    config = load_config(path, env)
    # the watchlist an earlier start compiled from the same configuration and code, read when first used
    # (matching/watchcache.py); otherwise compiled now
    kept = WatchlistFile(config) if keep else None
    watchlist: Watchlist
    if kept is not None and kept.exists():
        watchlist = KeptWatchlist(kept, config, analyzer)
    else:
        try:
            watchlist = compile_watchlist(config, analyzer, kept)
        except QueryError as exc:
            raise ConfigError([str(exc)]) from exc
    problems = []
    for sub in config.subscribers:
        for i, url in enumerate(sub.notify):
            try:
                channel(url)
            except ConfigError as exc:
                problems.append(
                    f"{config.where('subscribers', sub.id)}: subscribers[{sub.id}].notify[{i}]: {exc.problems[0]}"
                )
    if problems:
        raise ConfigError(problems)
    return config, watchlist


def templates_dir(config: Config, config_path: Path | None) -> Path | None:
    """settings.templates_dir, else a `templates/` folder beside the YAML: operators override from config/."""
    if config.settings.templates_dir is not None:
        return config.settings.templates_dir
    if config_path is not None and (config_path / "templates").is_dir():
        return config_path / "templates"
    return None


LOCK_NAME = "treatywatch.lock"
# the daemon's poll workers (its dispatcher claims due sources for as many as are free); the database pool is sized
# from them
POLL_WORKERS = 10


class StateLock:
    """One daemon per state directory. An OS file lock (flock through filelock), so a daemon killed with SIGKILL
    leaves no stale lock behind; the holder writes its pid into the file so a refused second daemon can name it.
    One-shot commands do not take it: SQLite's own locking serialises their writes with the daemon's."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._lock = filelock.FileLock(str(self.path), timeout=0)

    def holder(self) -> int | None:
        """The pid written by the process holding the lock, if it wrote one."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            pid = self.holder()
            who = f"process {pid}" if pid is not None else "another process"
            raise StateLockedError(
                f"{self.path} is locked by {who}: a TreatyWatch daemon already runs on this state directory; "
                "stop it first, or give this one its own --state-dir"
            ) from None
        self.path.write_text(f"{os.getpid()}\n", encoding="ascii")

    def release(self) -> None:
        if self._lock.is_locked:
            self.path.write_text("", encoding="ascii")
            self._lock.release()

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _metrics() -> Metrics:
    from .metrics import Metrics

    return Metrics()


@dataclass
class App:
    config: Config
    watchlist: Watchlist
    store: SqlStore
    fetcher: Fetcher
    runner: Runner
    outbox: Outbox
    clock: Callable[[], datetime]
    config_path: Path | None = None
    metrics: Metrics = field(default_factory=_metrics)
    # set by the daemon when a reload failed (the last good config keeps running), cleared by a good one:
    # readiness reports it
    reload_error: str | None = None
    # set by the daemon: reload the configuration now (the console's "apply" after showing its impact)
    reloader: Callable[[str], bool] | None = None
    # set by the daemon when the last reload lost alerts the desk called correct: the console's banner says so
    reload_warning: str | None = None
    # set by the daemon: a source made due now in the store (poll now, resume) is looked at now, not at its next turn
    poll_soon: Callable[[str], None] | None = None

    def state_lock(self) -> StateLock:
        return StateLock(self.config.settings.state_dir)

    def hand_back(self, source_id: str, next_due: datetime | None = None) -> None:
        """A polled source's claim handed back when its poll's commit did not (it failed, or stored nothing):
        held for most of the time until its next turn (none: free at once). A daemon's worker and a one-shot pass
        both end a poll this way."""
        from .schedule import hold_after_poll

        now = self.clock()
        self.store.release_source(source_id, now, hold_after_poll(next_due, now))

    def close(self) -> None:
        """The message being sent is finished and marked first (bounded by the shutdown timeout)."""
        self.outbox.stopping.set()
        self.outbox.drain(self.config.settings.shutdown_timeout)
        self.fetcher.close()
        self.store.close()


def build_app(
    config: Config,
    watchlist: Watchlist,
    *,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.BaseTransport | None = None,
    echo: Callable[[str], None] = print,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] | None = None,
    config_path: Path | None = None,
    busy_timeout: float = 30.0,
) -> App:
    from .metrics import Metrics, StateSource
    from .notify.outbox import Outbox
    from .notify.render import Renderer
    from .notify.sender import Sender
    from .pipeline import Runner
    from .sources.fetch import Fetcher
    from .store import open_store

    s = config.settings
    pool = s.database_pool or POLL_WORKERS + s.delivery_workers + 2
    store = open_store(s.database, s.state_dir, busy_timeout=busy_timeout, lease=s.lease, pool_size=pool)
    fetcher = Fetcher(
        user_agent=s.user_agent,
        per_host_concurrency=s.per_host_concurrency,
        per_host_delay=s.per_host_delay,
        max_redirects=s.max_redirects,
        transport=transport,
        sleep=sleep or time.sleep,
    )
    rng = rng or random.Random()
    metrics = Metrics()
    runner = Runner(config, watchlist, store, fetcher, clock, rng, metrics)
    outbox = Outbox(config, store, Sender(echo=echo), Renderer(templates_dir(config, config_path)), clock, rng, metrics)
    app = App(config, watchlist, store, fetcher, runner, outbox, clock, config_path, metrics)
    metrics.watch_state(StateSource(lambda: app.config, store))
    return app
