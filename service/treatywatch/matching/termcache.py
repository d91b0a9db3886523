"""Term keys kept on disk between processes: what a start's watchlist compile looked up, read back by the next.

A start compiles the watchlist, and each of its thousands of term words is looked up in simplemma's dictionaries
and pymorphy3 for its keys (Analyzer.term_keys): 0.12-0.2 s of a `poll --once` that starts in 1.3 s, the same
answers every time for the same words. The keys a compile worked out are written to one JSON file in the machine's
cache folder (lemmas.py's, where simplemma's dictionaries already live), named by a fingerprint of everything that
decides them: the analyzer's code and the dictionaries' and stemmers' versions. A file that cannot be read or
written is passed over, and the keys are worked out as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .cachefiles import default_cache_dir, replaced_atomically

log = logging.getLogger("treatywatch.matching")
HERE = Path(__file__).parent
# what decides a term's keys: the analyzer's code, and the packages whose data and algorithms it reads
CODE = ("text.py", "lemmas.py")
PACKAGES = ("simplemma", "pymorphy3", "pymorphy3-dicts-ru", "snowballstemmer", "PyStemmer")

TermKeys = dict[tuple[str | None, str], frozenset[str]]


def fingerprint() -> str:
    """A digest of the analyzer's code and its packages' versions: a change to either starts a new file."""
    digest = hashlib.sha256()
    for name in CODE:
        digest.update((HERE / name).read_bytes())
    for package in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            digest.update(f"{package}={version(package)};".encode())
    return digest.hexdigest()[:16]


class TermKeyFile:
    """The term keys of one fingerprint in `folder` (default: cachefiles.default_cache_dir)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or default_cache_dir()) / f"term-keys-{fingerprint()}.json"

    def load(self) -> TermKeys:
        """The keys written by an earlier compile; none when there is no file or it cannot be read."""
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {(lang, word): frozenset(keys) for lang, word, keys in rows}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError) as exc:  # unreadable, or not what this module writes
            log.debug("term keys cache %s passed over: %s", self.path, exc)
            return {}

    def save(self, terms: Mapping[tuple[str | None, str], frozenset[str]]) -> None:
        """Write `terms` whole, atomically (processes compiling at once each leave a whole file)."""
        rows = [[lang, word, sorted(keys)] for (lang, word), keys in terms.items()]
        try:
            with replaced_atomically(self.path) as tmp:
                tmp.write_text(json.dumps(rows, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        except OSError as exc:  # a read-only home: every start works the keys out
            log.debug("term keys cache %s not written: %s", self.path, exc)
