"""The daemon: its dispatcher (dispatch.py) claims due sources from the store and polls them in its workers, and
APScheduler runs the housekeeping (the outbox, the config-file check, the WAL checkpoint, stale claims); signals stop
or reload, and so does an edit of the configuration files (checked every settings.config_watch_every seconds).

Stopping is bounded: in-flight jobs get `settings.shutdown_timeout` to finish, then are abandoned (nothing of theirs
is committed unless its transaction completed, so they simply run again on restart). A second SIGINT/SIGTERM during
the stop ends the process at once, killed by that signal.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .app import POLL_WORKERS, App, compile_config
from .config.diff import changes, summary
from .config.loader import config_files
from .config.models import Config
from .dispatch import Dispatcher
from .errors import ConfigError, StoreConflict, StoreError
from .matching import Watchlist
from .pipeline import PollResult
from .schedule import clock_back_horizon, gathering, plan
from .store.claims import Claimed
from .web.server import StatusServer
from .workers import PollProcesses, processes

log = logging.getLogger("treatywatch.daemon")
HOST_WAIT_MAX = 5.0  # seconds a poll worker waits for its host's turn; a longer wait moves the source's turn instead


class ConfigFiles:
    """Notices edits of the configuration files: a stat of each file every check, a read of them only when a
    date or size moved (an editor saving the same text, or `touch`, reloads nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stats = self._stat()
        self.digest = self._digest()

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = config_files(self.path)
        except ConfigError:
            return ()
        out = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _digest(self) -> str:
        h = hashlib.sha256()
        for name, _, _ in self._stats:
            h.update(name.encode() + b"\0")
            try:
                h.update(Path(name).read_bytes())
            except OSError:
                h.update(b"\0unreadable")
        return h.hexdigest()

    def changed(self) -> bool:
        """True once per edit: the files' content differs from the last time this answered."""
        stats = self._stat()
        if stats == self._stats:
            return False
        self._stats = stats
        digest = self._digest()
        if digest == self.digest:
            return False
        self.digest = digest
        return True


@dataclass(frozen=True)
class Housekeeping:
    """A periodic job of the daemon besides polling: its id, its interval (from the settings; 0 turns it off) and
    what it runs. Daemon.housekeeping() lists them; add one there."""

    id: str
    every: float
    run: Callable[[], object]


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        # housekeeping only: polling is the dispatcher's (its own workers, claimed from the store)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self.dispatcher = Dispatcher(
            POLL_WORKERS,
            self._claim,
            self._poll_claimed,
            self._claim_failed,
            due_in=self._due_in,
            hand_back=self._hand_back,
        )
        self._stop = threading.Event()
        self.web: StatusServer | None = None
        # jobs running now, by name: what a stop waits for, and what it names when it has to abandon them
        self._active: dict[str, int] = {}
        self._idle = threading.Condition()
        self.abandoned: list[str] = []
        self._reloading = threading.Lock()  # SIGHUP and the file check may ask at once
        self._store_away = threading.Event()  # the last claim found the database unreachable (said once)
        self._every: dict[str, float] = {}  # housekeeping jobs scheduled, by id: their interval
        self._planned: Config | None = None  # the configuration whose sources the store's schedule holds
        self._horizon = 0.0  # seconds ahead beyond which a turn is a clock gone back (schedule.clock_back_horizon)
        self._enabled: frozenset[str] = frozenset()  # the planned config's enabled sources
        self._pulled_back: datetime | None = None  # when turns set by a clock since gone back were last looked for
        self.files = ConfigFiles(app.config_path) if app.config_path is not None else None
        app.reloader = self.reload  # the console's "apply" (web/deskpages.py), as SIGHUP does
        app.poll_soon = self.poll_soon  # the console's "poll now" and "resume" (desk.source_action)

    def _guard(self, name: str, fn: Callable[[], object]) -> bool:
        """A job's failure is logged and the job runs again next time; it never takes the daemon down.
        Once a stop has begun, no job starts (the executor may still hold queued ones): False then."""
        with self._idle:
            if self._stop.is_set():
                return False
            self._active[name] = self._active.get(name, 0) + 1
        try:
            fn()
        except StoreConflict as exc:  # another daemon wrote the same rows first: nothing lost, it runs again
            log.warning("job %s: %s; it runs again on schedule", name, exc)
        except StoreError as exc:  # the database went away mid-job: nothing of it was kept, it runs again
            self._database_away(exc, f"{name} runs again on schedule")
        except Exception:
            log.exception("job %s failed; it will run again on schedule", name)
        finally:
            with self._idle:
                self._active[name] -= 1
                if not self._active[name]:
                    del self._active[name]
                self._idle.notify_all()
        return True

    def _database_away(self, exc: StoreError, then: str) -> None:
        """The database is away: said once per outage (the first claim that works again says it is back), not
        as a traceback per source per tick."""
        if self._store_away.is_set():
            log.debug("database unreachable: %s; %s", exc, then)
            return
        self._store_away.set()
        log.warning("database unreachable: %s; %s", exc, then)

    def _claim_failed(self, exc: StoreError) -> None:
        self._database_away(exc, "polls wait for it, retrying")

    def _claim(self, free: int, busy: list[str], waited: float = 0.0) -> list[Claimed]:
        """The dispatcher's claim: the store's schedule brought up to the running config first if it is not yet
        (a start or reload that met the database away), then up to `free` sources due `waited` seconds ago."""
        config = self.app.config
        if self._planned is not config:
            self._plan(config)
        now = self.app.clock()
        if self._pulled_back is None or now < self._pulled_back or (now - self._pulled_back).total_seconds() >= 60:
            # once a minute, and at once when the clock went back: turns beyond any interval or backoff
            for sid in self.app.store.pull_back_turns(now, now + timedelta(seconds=self._horizon)):
                log.warning("source %s: its turn was beyond any interval or backoff (clock went back?); due now", sid)
            self._pulled_back = now
        claimed = self.app.store.claim_due(now, free, config.settings.lease, busy, waited)
        if self._store_away.is_set():
            self._store_away.clear()
            log.info("database reachable again; polling resumes")
        return claimed

    def _hand_back(self, source_ids: list[str]) -> None:
        """Claims the dispatcher took but had no free worker for: free again, due as they were."""
        for sid in source_ids:
            self.app.hand_back(sid)

    def _due_in(self, busy: list[str]) -> float | None:
        """Seconds until the next source this daemon could claim is due (the dispatcher's idle wait)."""
        now = self.app.clock()
        due = self.app.store.next_claimable(now, busy)
        return None if due is None else (due - now).total_seconds()

    def _plan(self, config: Config) -> None:
        """Write the config's sources into the store's schedule: new ones get a first turn (spread when many), ones
        no longer configured are never claimed again, and after a reload new, changed and re-enabled sources are
        due at once. The others keep their turns."""
        now = self.app.clock()
        old = self._planned
        self._horizon = clock_back_horizon(config, now)
        self.app.store.plan_sources(plan(config, now))
        if old is not None:
            before = {s.id for s in old.sources if s.enabled}
            added, changed, _ = changes(old, config).get("sources", ([], [], []))
            enabled = {s.id for s in config.sources if s.enabled}
            due = plan(config, now, [sid for sid in enabled if sid not in before or sid in added or sid in changed])
            self.app.store.reschedule(due, {sid: p.first_due for sid, p in due.items()})
        self.app.store.forget_dead_claims()
        self._enabled = frozenset(s.id for s in config.sources if s.enabled)
        self.dispatcher.gather = gathering(config, now)
        self._planned = config

    def _poll_claimed(self, claimed: Claimed) -> None:
        """A worker polls a source it claimed, then hands the claim back, held on for most of the time until the
        source's next turn (one-shot passes beside us leave it alone until then)."""
        sid, now = claimed.id, self.app.clock()
        config = self.app.config
        if claimed.due is not None:
            self.app.metrics.schedule_lag.observe(max(0.0, (now - claimed.due).total_seconds()))
        if sid not in self._enabled:
            # another daemon's configuration has it (configurations differ): ours leaves it to them for a while
            log.info("source %s: claimed but not in this daemon's configuration; left to the others", sid)
            self.app.store.reschedule([sid], {sid: now + timedelta(seconds=config.settings.lease)})
            self.app.store.release_source(sid, now, 0)
            return
        if not self._host_turn(sid, now):
            return
        result: list[PollResult] = []
        poll = functools.partial(self.app.runner.poll, sid, due=claimed.due, release=True, state=claimed.state)
        try:
            polled = self._guard(f"poll:{sid}", lambda: result.append(poll()))
        finally:
            if not (result and result[0].released):  # handed back with the poll's commit, or not stored
                with suppress(StoreError):  # unreachable: the claim simply expires (settings.lease)
                    self.app.hand_back(sid, result[0].next_due if result else None)
        # starts sending what this poll queued and returns: a slow channel never holds a poll worker. A poll that
        # queued nothing asks the outbox nothing (the deliver job's timer still looks for retries and digests)
        if polled and result and (result[0].alerts or result[0].followups):
            self._guard("deliver", self.app.outbox.dispatch)

    def _host_turn(self, sid: str, now: datetime) -> bool:
        """settings.per_host_delay between polls of one host across every worker and daemon (the store's gate; the
        fetcher spaces this process's requests too). A short wait is waited; a long one (many sources on one host)
        moves the source's turn to its slot and frees the worker. False: not polled now, claim handed back."""
        settings = self.app.config.settings
        if settings.per_host_delay <= 0:
            return True
        host = urlsplit(str(self.app.config.source(sid).url)).hostname or ""
        try:
            wait = self.app.store.reserve_host(host, settings.per_host_delay, now)
        except StoreError as exc:
            self._database_away(exc, f"{sid} is polled when it is back")
            wait = 0.0  # its claim is kept (the poll would fail the same way); the fetcher still spaces requests
        if wait <= HOST_WAIT_MAX:
            self._stop.wait(wait)
            return True
        log.debug("source %s: host %s is busy for %.0fs; polled then", sid, host, wait)
        with suppress(StoreError):
            self.app.store.reschedule([sid], {sid: now + timedelta(seconds=wait)})
            self.app.store.release_source(sid, now, 0)
        return False

    def poll_soon(self, source_id: str) -> None:
        """The store made this source due now (the console's "poll now", a resume): the dispatcher looks now rather
        than at its next tick."""
        self.dispatcher.wake()

    def _remove(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    def _add_every(self, job_id: str, seconds: float, fn: Callable[[], object]) -> None:
        """A housekeeping job every `seconds`; 0 removes it."""
        self._remove(job_id)
        if seconds > 0:
            self.scheduler.add_job(
                lambda: self._guard(job_id, fn),
                IntervalTrigger(seconds=seconds, timezone=UTC),
                id=job_id,
                name=job_id,
            )

    def housekeeping(self) -> list[Housekeeping]:
        """The periodic jobs besides polling, for the running settings. A new one is one more entry here."""
        s = self.app.config.settings
        jobs = [
            Housekeeping("deliver", s.deliver_every, self.app.outbox.dispatch),
            Housekeeping("checkpoint", s.checkpoint_every, self._checkpoint),
            Housekeeping("documents", s.documents_every, self._read_documents),
            # claims of daemons of this machine that died go back at once, not when their lease ends
            Housekeeping("stale-claims", max(1.0, s.lease / 2), self.app.store.forget_dead_claims),
        ]
        if self.files is not None:
            jobs.append(Housekeeping("config-watch", s.config_watch_every, self._reload_if_edited))
        return jobs

    def schedule(self, old: Config | None = None) -> None:
        """The store's schedule for the running config, and the housekeeping jobs. After a reload (`old` given)
        only new, changed and re-enabled sources are due at once; the others keep their turns; a housekeeping job
        is re-timed only when its interval changed."""
        try:
            self._plan(self.app.config)
        except StoreError as exc:  # the dispatcher plans again before its next claim
            self._database_away(exc, "the sources' schedule is written when it is back")
        if old is None:
            self._every.clear()
        for job in self.housekeeping():
            if self._every.get(job.id) != job.every:
                self._add_every(job.id, job.every, job.run)
                self._every[job.id] = job.every

    def _read_documents(self) -> None:
        """A few queued documents fetched, read and matched again (documents/flow.py); what they change is sent at
        once rather than at the next delivery pass."""
        from .documents.flow import DocumentJob

        if DocumentJob(self.app.runner).run_once().urls:
            self.app.outbox.dispatch()

    def _checkpoint(self) -> None:
        """Fold the WAL into the database file so that a copy of it, or another tool reading it, sees recent
        rows; passive: it never waits for or blocks a poll."""
        if not self.app.store.checkpoint(1.0, mode="PASSIVE"):
            log.debug("periodic WAL checkpoint incomplete (a reader or writer was busy); next time")

    def _reload_if_edited(self) -> None:
        if self.files is not None and self.files.changed():
            self.reload("file change")

    def reload(self, reason: str = "SIGHUP") -> bool:
        """Re-read the config; a broken edit is logged on one line, kept in app.reload_error (readiness and the
        console show it) and the running configuration stays in force. True when the new one runs."""
        if self.app.config_path is None:
            return False
        with self._reloading:
            if self.files is not None:
                self.files.changed()  # what is read now is what the file check compares with next
            try:
                config, watchlist = compile_config(self.app.config_path, analyzer=self.app.watchlist.analyzer)
            except ConfigError as exc:
                self.app.reload_error = "\n".join(exc.problems)  # /readyz reports it until a reload succeeds
                log.error(
                    "configuration not reloaded (%s), the last good one stays in force: %s",
                    reason,
                    " | ".join(p.replace("\n", " ") for p in exc.problems),
                )
                return False
            self.app.reload_error = None
            running = self.app.config.settings
            config = config.model_copy(
                update={
                    "settings": config.settings.model_copy(
                        update={"state_dir": running.state_dir, "database": running.database}
                    )
                }
            )
            old = self.app.config
            self._check_verdicts(self.app.watchlist, watchlist)
            self.app.config = self.app.runner.config = self.app.outbox.config = config
            if self.app.runner.processes is not None:  # workers rebuild their watchlists before their next task
                self.app.runner.processes.configure(config)
            self.app.watchlist = self.app.runner.watchlist = watchlist
            self.schedule(old)
            log.info("configuration reloaded (%s): %s", reason, summary(old, config))
            self._remember_applied()
            return True

    def _check_verdicts(self, current: Watchlist, candidate: Watchlist) -> None:
        """A reload that makes alerts the desk called correct stop firing says so: in the log and on the console's
        banner (app.reload_warning), until a reload that loses none. It goes ahead all the same."""
        from .impact import label_flips

        try:
            lost = [f for f in label_flips(self.app.store, current, candidate) if f.kind == "correct alert lost"]
        except StoreError as exc:
            log.warning("could not check the reload against the desk's verdicts: %s", exc)
            return
        if not lost:
            self.app.reload_warning = None
            return
        said = ", ".join(f"item {f.change.item_id} ({f.change.watch}, said correct by {f.by})" for f in lost[:10])
        self.app.reload_warning = f"{len(lost)} alerts the desk called correct no longer fire: {said}"
        log.warning("configuration reload: %s", self.app.reload_warning)

    def _remember_applied(self) -> None:
        """Keep a copy of the configuration now running, for `check --impact` (applied.py)."""
        from .applied import save_applied

        if self.app.config_path is None:
            return
        try:
            save_applied(self.app.config_path, self.app.config.settings.state_dir)
        except (OSError, ConfigError) as exc:
            log.warning("could not keep a copy of the running configuration for check --impact: %s", exc)

    def run(self, install_signals: bool = True) -> None:
        """Block until stop() or SIGINT/SIGTERM; SIGHUP reloads. Raises StateLockedError when another daemon
        runs on this state directory.

        With install_signals (the process is ours), in-flight work that outlives shutdown_timeout is abandoned by
        ending the process with status 0 once the database is checkpointed: the scheduler's worker threads are
        joined at interpreter exit, so returning would wait on them for good."""
        with self.app.state_lock():
            self._remember_applied()
            self._serve(install_signals)
            clean = self._shutdown(install_signals)
        if not clean and install_signals:
            logging.shutdown()
            os._exit(0)

    def _serve(self, install_signals: bool) -> None:
        settings = self.app.config.settings
        if workers := processes(settings.poll_processes):  # first: forked before any thread of ours starts
            pool = PollProcesses(workers, self.app.config, watchlist=self.app.runner.watchlist)
            self.app.runner.processes = pool
            log.info(
                "parsing, language identification and matching in %d worker processes (%s)",
                workers,
                "forked" if pool.forked else "spawned",
            )
        if install_signals:
            signal.signal(signal.SIGINT, lambda *_: self.stop())
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            if hasattr(signal, "SIGHUP"):
                signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        if settings.web_port:
            try:
                self.web = StatusServer(self.app, settings.web_host, settings.web_port)
                self.web.start()
                log.info("status page on http://%s:%d/", settings.web_host, self.web.port)
            except OSError as exc:
                log.error("status page not started (%s:%d): %s", settings.web_host, settings.web_port, exc)
        self.schedule()
        self.scheduler.start()
        self.dispatcher.start()
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
        self.dispatcher.stop()
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout=max(0.0, deadline - time.monotonic()))
            self.abandoned = sorted(self._active)
        if self.app.runner.processes is not None:
            self.app.runner.processes.close()
        with suppress(StoreError):  # sources claimed and not polled go back now (unreachable: they expire)
            self.app.store.release_sources()
        # the delivery workers finish the message each is sending (and mark it), start none
        self.abandoned += [f"deliver:{c[:12]}" for c in self.app.outbox.drain(deadline - time.monotonic())]
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
