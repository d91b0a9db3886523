"""Worker processes for the CPU part of a poll (settings.poll_processes): parsing a fetched response into items, and
reading the new items' languages and matching them. The daemon keeps the network, the store and the clock; a worker
takes values (a source's config, a request and its response; items and their bodies) and gives values back (a
page of items; items with their language and matches), so the daemon's threads wait on a pipe, not on the GIL.

Each worker builds its watchlist once from the configuration, and again when a reload moved the pool's generation
(`configure`). A worker that dies or hangs fails the one source it was working for (a SourceError: logged, retried
like any source trouble) and is replaced; the other workers go on. What a worker logs comes back with its answer and
is logged by the daemon, under the same logger names.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from .app import built_for_good
from .config.models import Config
from .errors import ParseError, SourceError
from .items import Item
from .matching import Watchlist
from .matching.explain import Match
from .matching.language import LanguageStage
from .sources.base import Page, Request, Response, SourceConfig, SourceType
from .sources.registry import SOURCE_TYPES

log = logging.getLogger("treatywatch.workers")
# seconds a worker may take over one task (a configuration's build included) before it is killed and replaced:
# far above any parse or match seen (a capped page of 5,000 items parses in under a second)
TASK_SECONDS = 120.0


@dataclass(frozen=True)
class Analysed:
    """One new or changed item read for its language (without its body), and the watches it fired."""

    item: Item
    matches: tuple[Match, ...]


def parse_response(source_id: str, cfg: SourceConfig, plugin: SourceType, request: Request, response: Response) -> Page:
    """A response as the source type's items; input the parser never met is this source's ParseError."""
    try:
        return plugin.parse(cfg, request, response)
    except SourceError:
        raise
    except Exception as exc:  # input the parser never met: this source fails and is retried, not the daemon
        log.exception("source %s: %s parser failed", source_id, cfg.type)
        raise ParseError(f"{cfg.type} parser failed: {type(exc).__name__}: {exc}") from exc


def analyse(
    languages: LanguageStage, watchlist: Watchlist, items: list[Item], bodies: dict[str, str]
) -> list[Analysed]:
    """A poll's new and changed items read for their language (together: see LanguageStage.apply_all), then each
    matched with its body (a revised item keeps the text of its document read earlier)."""
    out = []
    for item in languages.apply_all(items):
        item.content_hash  # noqa: B018  worked out now and kept with the item (from a worker, pickled with it)
        body = bodies.get(item.key, "")
        out.append(Analysed(item, tuple(watchlist.match(item.with_(body=body) if body else item))))
    return out


def processes(setting: int | str) -> int:
    """settings.poll_processes as a count: "auto" is one per core."""
    return (os.cpu_count() or 1) if setting == "auto" else int(setting)


class _Collect(logging.Handler):
    """A worker's log records, kept to go back with its answer (made picklable: message formatted, traceback as
    text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        out, self.records = self.records, []
        return out


def _forkable() -> bool:
    """May the pool fork its first workers now: the platform forks, and this process runs no other thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _prepare(watchlist: Watchlist) -> None:
    """What every worker forked from this process needs, read once before they are forked: the watchlist (a kept
    one is read when first used: matching/watchcache.py) and the language model."""
    with built_for_good():
        watchlist.analyzer  # noqa: B018  reads a kept watchlist's file
        LanguageStage().load_model()


def _serve(conn: Connection, level: int, watchlist: Watchlist | None = None) -> None:
    """A worker process's loop: one task at a time from the pipe, one answer for each (never an exception).
    watchlist: the daemon's, when the worker was forked from it (a spawned one builds its own from a config task)."""
    for sig in (signal.SIGINT, signal.SIGHUP):  # the terminal's Ctrl-C and hang-up are the daemon's to act on
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker would run the daemon's own stop handler
    collect = _Collect()
    logging.basicConfig(level=level, handlers=[collect], force=True)
    languages = LanguageStage()
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the daemon is gone
            return
        kind, args = task[0], task[1:]
        try:
            if kind == "config":
                config: Config = pickle.loads(args[0])
                watchlist = Watchlist(config, watchlist.analyzer if watchlist is not None else None)
                value: Any = None
            elif kind == "parse":
                source_id, cfg, request, response = args
                value = parse_response(source_id, cfg, SOURCE_TYPES[cfg.type], request, response)
            elif kind == "read":  # a source with nothing stored: the page, and its items read and matched
                assert watchlist is not None, "a worker is configured before it analyses"
                source_id, cfg, request, response = args
                page = parse_response(source_id, cfg, SOURCE_TYPES[cfg.type], request, response)
                read = analyse(languages, watchlist, page.items, {})
                # the page's items as read (the same items with their language): pickled once, not twice
                value = (replace(page, items=[a.item for a in read]), read)
            elif kind == "analyse":
                assert watchlist is not None, "a worker is configured before it analyses"
                value = analyse(languages, watchlist, *args)
            else:
                raise ValueError(f"unknown task {kind!r}")
            conn.send(("ok", value, collect.take()))
        except SourceError as exc:
            conn.send(("error", exc, collect.take()))
        except Exception as exc:  # a fault of ours, not the source's input: said with its traceback, the source fails
            log.exception("poll worker: %s task failed", kind)
            conn.send(("error", SourceError(f"poll worker failed: {type(exc).__name__}: {exc}"), collect.take()))


@dataclass
class _Worker:
    proc: multiprocessing.process.BaseProcess
    conn: Connection
    generation: int = -1  # the configuration it has built (-1: none yet)


class PollProcesses:
    """`size` worker processes shared by the daemon's poll threads: a thread checks one out for a task and waits on
    its pipe (not holding the GIL), so two cores parse and match while the daemon fetches and commits."""

    def __init__(
        self, size: int, config: Config, lazy: bool = False, watchlist: Watchlist | None = None
    ) -> None:
        """lazy: spawned workers start at the first task, not now (a one-shot pass whose responses are all 304s
        never pays for them). watchlist: `config`'s, built already; while the process has no other thread yet,
        the first workers are forked with it (milliseconds, where a spawned worker spends a second or two of a
        core importing and building its own before it is any use). Later workers (replacements) are spawned."""
        if size < 1:
            raise ValueError("a pool of poll processes has at least one")
        self.size = size
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded daemon
        self._lock = threading.Lock()
        self._generation = 0
        self._config = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._closed = False
        self._started = False
        self._starting = threading.Lock()
        self.forked = False
        if watchlist is not None and _forkable():
            self.forked = self._started = True
            self._fork_all(watchlist)
        elif not lazy:
            self._start_all()

    def _fork_all(self, watchlist: Watchlist) -> None:
        """The first workers, forked before any thread of ours exists (forking a threaded process can copy a
        lock another thread holds): they share the daemon's watchlist and language model, read first, and are
        ready at once."""
        _prepare(watchlist)
        fork = multiprocessing.get_context("fork")
        level = logging.getLogger().getEffectiveLevel()
        for _ in range(self.size):
            ours, theirs = fork.Pipe()
            proc = fork.Process(target=_serve, args=(theirs, level, watchlist), name="poll-worker", daemon=True)
            proc.start()
            theirs.close()
            worker = _Worker(proc, ours, generation=0)
            self._all.append(worker)
            self._idle.put(worker)

    def _start_all(self) -> None:
        with self._starting:
            if self._started:
                return
            self._started = True
            for _ in range(self.size):
                self._start()

    def _start(self) -> None:
        """A new worker, warmed up in a thread of its own (interpreter, imports, watchlist: a second or two) and
        given work once ready."""
        ours, theirs = self._context.Pipe()
        proc = self._context.Process(
            target=_serve, args=(theirs, logging.getLogger().getEffectiveLevel()), name="poll-worker", daemon=True
        )
        proc.start()
        theirs.close()
        worker = _Worker(proc, ours)
        with self._lock:
            self._all.append(worker)
        threading.Thread(target=self._warm, args=(worker,), name="poll-worker-start", daemon=True).start()

    def _warm(self, worker: _Worker) -> None:
        try:
            self._ready(worker)
        except _Dead as dead:
            if self._closed:
                return
            log.error("poll worker process %s %s while starting", dead.pid, dead.how)
            time.sleep(1.0)  # a worker that cannot start is not restarted in a tight loop
            self._replace(worker)
            return
        except Exception:
            log.exception("poll worker process %s: its configuration failed", worker.proc.pid)
        self._idle.put(worker)

    def pids(self) -> list[int]:
        """The live workers' process ids (tests, benchmarks, the operator's `ps`)."""
        with self._lock:
            return [w.proc.pid for w in self._all if w.proc.pid is not None and w.proc.is_alive()]

    def configure(self, config: Config) -> None:
        """A reload: each worker rebuilds its watchlist from this configuration before its next task."""
        blob = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._config, self._generation = blob, self._generation + 1

    def parse(self, source_id: str, cfg: SourceConfig, request: Request, response: Response) -> Page:
        page: Page = self._run("parse", source_id, cfg, request, response)
        return page

    def read(
        self, source_id: str, cfg: SourceConfig, request: Request, response: Response
    ) -> tuple[Page, list[Analysed]]:
        """parse, and the page's items read and matched as `analyse` does (for a source with nothing stored)."""
        done: tuple[Page, list[Analysed]] = self._run("read", source_id, cfg, request, response)
        return done

    def analyse(self, items: list[Item], bodies: dict[str, str]) -> list[Analysed]:
        done: list[Analysed] = self._run("analyse", items, bodies)
        return done

    def _checkout(self) -> _Worker:
        while True:
            worker = self._idle.get()
            if worker.proc.is_alive():
                return worker
            self._replace(worker)  # ended while idle (killed, OOM): a new one starts in its place

    def _ready(self, worker: _Worker) -> None:
        """The worker's watchlist is the running configuration's."""
        with self._lock:
            generation, blob = self._generation, self._config
        if worker.generation != generation:
            status, value = self._ask(worker, ("config", blob))
            if status == "error":
                raise value
            worker.generation = generation

    def _run(self, *task: object) -> Any:
        if self._closed:
            raise SourceError("poll workers stopped (the daemon is stopping)")
        if not self._started:
            self._start_all()
        worker = self._checkout()
        try:
            self._ready(worker)
            status, value = self._ask(worker, task)
        except _Dead as dead:
            self._replace(worker)
            raise SourceError(
                f"poll worker process {dead.pid} {dead.how} reading this source; tried again later"
            ) from dead
        except BaseException:
            self._idle.put(worker)
            raise
        self._idle.put(worker)
        if status == "error":
            raise value
        return value

    def _ask(self, worker: _Worker, task: tuple[object, ...]) -> tuple[str, Any]:
        """One task's answer: ("ok", value) or ("error", the SourceError to raise); _Dead if the worker ended."""
        try:
            worker.conn.send(task)
            if not worker.conn.poll(TASK_SECONDS):
                raise _Dead(worker.proc.pid, f"took over {TASK_SECONDS:.0f}s and was stopped")
            status, value, records = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker.proc.join(1.0)
            code = worker.proc.exitcode
            how = f"died (signal {-code})" if code is not None and code < 0 else f"ended ({code or exc})"
            raise _Dead(worker.proc.pid, how) from exc
        for record in records:  # the worker's log lines, said by the daemon's handlers
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        return status, value

    def _replace(self, worker: _Worker) -> None:
        """A dead or hung worker ended for good and a new one started in its place."""
        _end(worker)
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        if self._closed:  # the daemon is stopping: no new worker
            return
        log.warning("poll worker process %s is replaced", worker.proc.pid)
        self._start()

    def close(self) -> None:
        """No more tasks; the idle workers end now. One busy with a poll that the stop abandons is left to end with
        the daemon's process (it reads the end of its pipe, or multiprocessing ends it at exit): killing it would
        record that poll as its source's failure."""
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            _end(worker)


def _end(worker: _Worker) -> None:
    """The worker's process killed and reaped, its pipe closed."""
    worker.proc.kill()
    worker.proc.join(5.0)
    worker.conn.close()


class _Dead(Exception):
    """A worker that ended or hung mid-task (internal: the caller says it as the source's SourceError)."""

    def __init__(self, pid: int | None, how: str) -> None:
        self.pid, self.how = pid, how
        super().__init__(f"{pid} {how}")
