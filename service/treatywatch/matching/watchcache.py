"""A compiled watchlist kept on disk between processes: a start whose configuration and code are those of an
earlier one reads its watchlist back instead of compiling it again.

Compiling the example watchlist (its terms, vocabularies, gazetteer, agreements and cues) takes 0.13 s of every
start, a seventh of a `poll --once` before its first request, and gives the same watchlist each time for the same
configuration. The compiled watchlist is pickled to the machine's cache folder (cachefiles.py, beside simplemma's
dictionaries and the term keys), named by a fingerprint of everything that decides it:

- the sections of the loaded configuration the watchlist is compiled from (WATCHLIST_INPUTS), as pydantic writes
  them to JSON (tests/test_watchcache.py fails when the compile reads any other part of the configuration);
- the package's own code and data files (every module: the compile reaches config, matching, vocabularies);
- the installed distributions and their versions (the analyzer's dictionaries, stemmers, pydantic), and Python's.

What is kept is the watchlist without its analyzer: the analyzer (dictionaries, stemmers, caches) is built by each
process and put back in its place as the file is read. A start that finds its file reads it when the watchlist is
first used (KeptWatchlist): a command that matches nothing never builds an analyzer (pymorphy3's and simplemma's
dictionaries: a fifth of a second), and a pass or daemon with poll processes reads it just before forking them
(workers.py), so that they share it. A watchlist holding any pydantic model (a configuration
object, a secret) is not written at all. A file that cannot be read or written is passed over and the watchlist
is compiled as before; the folder keeps the last MAX_FILES files. The files are pickles, so the cache folder is as
trusted as the interpreter's own __pycache__ folders: it is created for the user alone (0700).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .cachefiles import default_cache_dir, replaced_atomically
from .engine import Watchlist
from .termcache import TermKeyFile
from .text import Analyzer

if TYPE_CHECKING:
    from ..config.models import Config

log = logging.getLogger("treatywatch.matching")
PACKAGE = Path(__file__).resolve().parent.parent
MAX_FILES = 8  # a machine compiling several configurations (a test suite, a desk trying watchlists) keeps a few
_ANALYZER = "analyzer"  # the persistent id the analyzer is written as
# what engine.Watchlist reads of the configuration (sources: for what each implies); settings, subscribers and
# their secrets are not among them, so a desk's state folder or a password does not start a new file
WATCHLIST_INPUTS = frozenset({"terms", "entities", "agreements", "watches", "sources"})


def _code() -> bytes:
    """The package's modules and data files, each with its path: any edit starts a new file."""
    digest = hashlib.sha256()
    for path in sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.digest()


def _distributions() -> bytes:
    """Every installed distribution's name and version, from the names of the folders that record them (one
    listing a folder: importlib.metadata's version() reads each distribution's metadata, 4 ms apiece)."""
    names: list[str] = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            names += (n for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info")))
    return "\n".join(sorted(names)).encode()


def fingerprint(config: Config) -> str:
    """A digest of what decides the compiled watchlist (see the module's docstring)."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update(_code())
    digest.update(_distributions())
    digest.update(config.model_dump_json(include=set(WATCHLIST_INPUTS)).encode())
    return digest.hexdigest()[:24]


class _Writer(pickle.Pickler):
    def __init__(self, out: io.BytesIO, analyzer: Analyzer) -> None:
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)
        self._analyzer = analyzer

    def persistent_id(self, obj: Any) -> str | None:
        return _ANALYZER if obj is self._analyzer else None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseModel):  # a configuration object, and with it perhaps a secret: never on disk
            raise pickle.PicklingError(f"a {type(obj).__name__} is not written to the cache")
        return NotImplemented


class _Reader(pickle.Unpickler):
    def __init__(self, data: bytes, analyzer: Analyzer) -> None:
        super().__init__(io.BytesIO(data))
        self._analyzer = analyzer

    def persistent_load(self, pid: Any) -> Any:
        if pid != _ANALYZER:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self._analyzer


class WatchlistFile:
    """The compiled watchlist of one fingerprint in `folder` (default: cachefiles.default_cache_dir)."""

    def __init__(self, config: Config, folder: Path | None = None) -> None:
        self.folder = folder or default_cache_dir()
        self.path = self.folder / f"watchlist-{fingerprint(config)}.pickle"

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self, analyzer: Analyzer) -> Watchlist | None:
        """The watchlist an earlier start compiled, with `analyzer` in its analyzer's place; None when there is no
        file or it cannot be read."""
        try:
            data = self.path.read_bytes()
            watchlist = _Reader(data, analyzer).load()
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreadable, truncated, or written by other code: compiled instead
            log.debug("compiled watchlist %s passed over: %s", self.path, exc)
            return None
        if not isinstance(watchlist, Watchlist) or watchlist.analyzer is not analyzer:
            log.debug("compiled watchlist %s passed over: not a watchlist of this analyzer", self.path)
            return None
        with contextlib.suppress(OSError):
            os.utime(self.path)  # recently used: pruning keeps it
        return watchlist

    def save(self, watchlist: Watchlist) -> None:
        """Write `watchlist` (just compiled) atomically; a folder that cannot be written, or a watchlist holding
        what must not be written, costs only the cache."""
        out = io.BytesIO()
        try:
            _Writer(out, watchlist.analyzer).dump(watchlist)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            log.debug("compiled watchlist not cached: %s", exc)
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with replaced_atomically(self.path) as tmp:
                tmp.write_bytes(out.getbuffer())
            self._prune()
        except OSError as exc:  # a read-only home: every start compiles
            log.debug("compiled watchlist %s not written: %s", self.path, exc)

    def _prune(self) -> None:
        """Only the MAX_FILES most recently used files stay."""
        used: list[tuple[float, Path]] = []
        for path in self.folder.glob("watchlist-*.pickle"):
            with contextlib.suppress(OSError):  # gone meanwhile (another process pruning)
                used.append((path.stat().st_mtime, path))
        for _, old in sorted(used, reverse=True)[MAX_FILES:]:
            with contextlib.suppress(OSError):
                old.unlink()


def compile_watchlist(config: Config, analyzer: Analyzer | None = None, kept: WatchlistFile | None = None) -> Watchlist:
    """`config`'s watchlist compiled (a QueryError for a query that does not compile), and kept in `kept`. A first
    compile reads the term keys earlier processes worked out (termcache.py) and writes those it adds."""
    analyzer = analyzer or Analyzer(term_file=TermKeyFile())
    watchlist = Watchlist(config, analyzer)
    analyzer.keep_terms()
    if kept is not None:
        kept.save(watchlist)
    return watchlist


class KeptWatchlist(Watchlist):
    """The watchlist of a kept file, read when first used instead of at start-up.

    A start that finds its watchlist kept needs none of it until an item is matched: a command that matches
    nothing never reads the file, nor builds the analyzer it needs (pymorphy3's and simplemma's dictionaries, a
    fifth of a second). Reading any attribute reads the file; should it be gone or unreadable by then, the
    configuration is compiled (it compiled before: only a compiled watchlist is kept)."""

    def __init__(self, kept: WatchlistFile, config: Config, analyzer: Analyzer | None = None) -> None:
        # Watchlist.__init__ is not called: the file's watchlist takes this one's place when first used
        self.__dict__["_kept"] = (kept, config, analyzer)
        self.__dict__["_kept_lock"] = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        """Called for an attribute the instance lacks: before the first read, every one of them."""
        lock = self.__dict__.get("_kept_lock")
        if lock is None:  # copied or unpickled without its state: nothing to read
            raise AttributeError(name)
        with lock:  # one read, whichever poll thread asks first
            pending = self.__dict__.pop("_kept", None)
            if pending is not None:
                kept, config, analyzer = pending
                analyzer = analyzer or Analyzer()
                read = kept.load(analyzer) or compile_watchlist(config, analyzer, kept)
                self.__dict__.update(read.__dict__)
        return object.__getattribute__(self, name)

    @property
    def read(self) -> bool:
        """Has the file been read (yet)."""
        return "_kept" not in self.__dict__
