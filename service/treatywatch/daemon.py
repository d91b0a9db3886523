"""The daemon: APScheduler polls each source on its own schedule and works the outbox; signals stop or reload.

Stopping is bounded: in-flight jobs get `settings.shutdown_timeout` to finish, then are abandoned (nothing of theirs
is committed unless its transaction completed, so they simply run again on restart). A second SIGINT/SIGTERM during
the stop ends the process at once, killed by that signal.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .app import App, compile_config
from .errors import ConfigError
from .pipeline import PollResult
from .web.server import StatusServer

log = logging.getLogger("treatywatch.daemon")


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        )
        self._stop = threading.Event()
        self.web: StatusServer | None = None
        # jobs running now, by name: what a stop waits for, and what it names when it has to abandon them
        self._active: dict[str, int] = {}
        self._idle = threading.Condition()
        self.abandoned: list[str] = []

    def _guard(self, name: str, fn: Callable[[], object]) -> None:
        """A job's failure is logged and the job runs again next time; it never takes the daemon down.
        Once a stop has begun, no job starts (the executor may still hold queued ones)."""
        with self._idle:
            if self._stop.is_set():
                return
            self._active[name] = self._active.get(name, 0) + 1
        try:
            fn()
        except Exception:
            log.exception("job %s failed; it will run again on schedule", name)
        finally:
            with self._idle:
                self._active[name] -= 1
                if not self._active[name]:
                    del self._active[name]
                self._idle.notify_all()

    def _poll(self, source_id: str) -> None:
        due = self.app.runner.next_due(source_id)
        now = self.app.clock()
        if due is not None and due > now:
            # no backoff is longer than 4 × source_backoff_max (a server's Retry-After is capped there): a later
            # date was set by a clock that has since gone back, and honouring it would silence the source as long
            if (due - now).total_seconds() <= 4 * self.app.config.settings.source_backoff_max:
                log.debug("source %s backing off until %s", source_id, due.isoformat())
                return
            log.warning(
                "source %s: retry date %s is beyond any backoff (clock went back?); polling now",
                source_id,
                due.isoformat(),
            )
        # several daemons on one PostgreSQL poll only what the store grants them (SQLite grants everything)
        if not self.app.store.claim_source(source_id):
            log.debug("source %s: another daemon holds it", source_id)
            return
        try:
            self._guard(f"poll:{source_id}", lambda: self._retry_sooner(source_id, self.app.runner.poll(source_id)))
        finally:
            self.app.store.release_source(source_id, self._next_turn(source_id))
        self._guard("deliver", self.app.outbox.run_once)

    def _next_turn(self, source_id: str) -> float:
        """Most of the time until this source's next scheduled poll: other daemons leave it alone until then."""
        job = self.scheduler.get_job(f"poll:{source_id}")
        if job is None or job.next_run_time is None:
            return 0.0
        return max(0.0, 0.8 * (job.next_run_time - datetime.now(UTC)).total_seconds())

    def _retry_sooner(self, source_id: str, result: PollResult) -> None:
        """A failed source is retried when its backoff ends, if that comes before its next scheduled poll."""
        if self._stop.is_set():
            return
        due = self.app.runner.next_due(source_id) if result.error else None
        job = self.scheduler.get_job(f"poll:{source_id}")
        if due is None or (job is not None and job.next_run_time is not None and job.next_run_time <= due):
            return
        # at least a second ahead: the retry job may be the one running now, and must not collide with itself
        due = max(due, datetime.now(UTC) + timedelta(seconds=1))
        self.scheduler.add_job(
            self._poll,
            DateTrigger(due),
            args=[source_id],
            id=f"retry:{source_id}",
            replace_existing=True,
            name=f"retry {source_id}",
        )

    def schedule(self) -> None:
        for job in self.scheduler.get_jobs():
            job.remove()
        now = datetime.now(UTC)
        for src in self.app.config.sources:
            if not src.enabled:
                continue
            trigger = (
                CronTrigger.from_crontab(src.every.cron, timezone=UTC)
                if src.every.cron
                else IntervalTrigger(seconds=src.every.seconds, timezone=UTC)
            )
            self.scheduler.add_job(
                self._poll, trigger, args=[src.id], id=f"poll:{src.id}", next_run_time=now, name=f"poll {src.id}"
            )
            log.info("scheduled %s (%s, %s)", src.id, src.type, src.every.describe())
        self.scheduler.add_job(
            lambda: self._guard("deliver", self.app.outbox.run_once),
            IntervalTrigger(seconds=self.app.config.settings.deliver_every, timezone=UTC),
            id="deliver",
            name="deliver",
        )

    def reload(self) -> None:
        """Re-read the config; a broken edit is reported and the running configuration stays in force."""
        if self.app.config_path is None:
            return
        try:
            config, watchlist = compile_config(self.app.config_path, analyzer=self.app.watchlist.analyzer)
        except ConfigError as exc:
            self.app.reload_error = str(exc)  # /readyz reports it until a reload succeeds
            log.error("configuration not reloaded, keeping the last good one:\n%s", exc)
            return
        self.app.reload_error = None
        running = self.app.config.settings
        config = config.model_copy(
            update={
                "settings": config.settings.model_copy(
                    update={"state_dir": running.state_dir, "database": running.database}
                )
            }
        )
        self.app.config = self.app.runner.config = self.app.outbox.config = config
        self.app.watchlist = self.app.runner.watchlist = watchlist
        self.schedule()
        log.info("configuration reloaded: %d sources, %d watches", len(config.sources), len(config.watches))

    def run(self, install_signals: bool = True) -> None:
        """Block until stop() or SIGINT/SIGTERM; SIGHUP reloads. Raises StateLockedError when another daemon
        runs on this state directory.

        With install_signals (the process is ours), in-flight work that outlives shutdown_timeout is abandoned by
        ending the process with status 0 once the database is checkpointed: the scheduler's worker threads are
        joined at interpreter exit, so returning would wait on them for good."""
        with self.app.state_lock():
            self._serve(install_signals)
            clean = self._shutdown(install_signals)
        if not clean and install_signals:
            logging.shutdown()
            os._exit(0)

    def _serve(self, install_signals: bool) -> None:
        if install_signals:
            signal.signal(signal.SIGINT, lambda *_: self.stop())
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            if hasattr(signal, "SIGHUP"):
                signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        settings = self.app.config.settings
        if settings.web_port:
            try:
                self.web = StatusServer(self.app, settings.web_host, settings.web_port)
                self.web.start()
                log.info("status page on http://%s:%d/", settings.web_host, self.web.port)
            except OSError as exc:
                log.error("status page not started (%s:%d): %s", settings.web_host, settings.web_port, exc)
        self.schedule()
        self.scheduler.start()
        log.info("TreatyWatch running with %d sources; Ctrl-C stops", len(self.app.config.sources))
        self._stop.wait()

    def _shutdown(self, install_signals: bool) -> bool:
        """Finish or abandon in-flight work within the timeout, stop sending, checkpoint the WAL. True when no
        job was abandoned."""
        timeout = self.app.config.settings.shutdown_timeout
        deadline = time.monotonic() + timeout
        if install_signals:  # the next signal is the operator insisting: the kernel ends us, nothing to wait for
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        log.info("stopping: finishing in-flight work for up to %gs (a second Ctrl-C or SIGTERM ends at once)", timeout)
        self.app.outbox.stopping.set()
        # wait=False: a waiting shutdown holds the scheduler's job-store lock, which a finishing job needs
        self.scheduler.shutdown(wait=False)
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout=max(0.0, deadline - time.monotonic()))
            self.abandoned = sorted(self._active)
        if self.abandoned:
            log.warning(
                "abandoned after %gs: %s; nothing of theirs is half-committed, they run again on the next start",
                timeout,
                ", ".join(self.abandoned),
            )
        if self.web:
            self.web.stop()
        # a little time for the checkpoint even when the jobs used all of it; it waits for nothing beyond that
        if not self.app.store.checkpoint(max(1.0, deadline - time.monotonic())):
            log.warning("database WAL not checkpointed (busy); it is replayed on the next open, nothing is lost")
        log.info("stopped cleanly" if not self.abandoned else "stopped")
        return not self.abandoned

    def stop(self) -> None:
        self._stop.set()
