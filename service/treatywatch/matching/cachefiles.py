"""The cache folder's files: where the folder is, and how a file of it is written.

Every file there (simplemma's dictionaries, the language model's tables, the term keys, the compiled watchlists)
is worked out by one process and read by the next ones; its own module, so that naming the folder imports none of
the libraries whose output it holds.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def default_cache_dir() -> Path:
    """$TREATYWATCH_CACHE, else $XDG_CACHE_HOME/treatywatch, else ~/.cache/treatywatch."""
    explicit = os.environ.get("TREATYWATCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "treatywatch"


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A new file's path beside `path` (created empty, the user's alone), moved onto `path` when the block ends
    and removed if it raises: a reader sees the old file or the whole new one, and processes writing at once each
    leave a whole file. Every file of the cache folder is written this way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # moved already, or never written
            os.unlink(tmp)
