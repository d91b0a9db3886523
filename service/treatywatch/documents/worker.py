"""The reading process: `python -m treatywatch.documents.worker '<limits as JSON>'` with the PDF on stdin.

It limits its own address space first (RLIMIT_AS, inherited by Tesseract) and its own life, then writes one JSON
object a line: {"page_count": n}, one {"page": {...}} per page as soon as it is read, and a last line {"done": note}
or {"unreadable": reason}. The parent (`reader.read_document`) kills it on its timeout and keeps the pages it has.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import resource
import signal
import sys
from dataclasses import asdict
from typing import Any


def _limit_memory(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_life(timeout_s: float) -> None:
    """End this process group by itself a little after the parent would have: a daemon killed with SIGKILL cannot
    kill its reading process, and an orphan must not read (or OCR) on for ever."""
    grace = math.ceil(timeout_s * 1.1) + 2
    signal.signal(signal.SIGALRM, lambda *_: os.killpg(0, signal.SIGKILL))
    signal.alarm(grace)
    resource.setrlimit(resource.RLIMIT_CPU, (grace, grace + 5))  # per process: Tesseract inherits it


def _peak_rss_mb() -> float:
    """The highest resident memory of this process or of a Tesseract it ran, in MB.

    This process's own peak comes from VmHWM: ru_maxrss survives exec, so it would report the parent's size at
    fork. A child's ru_maxrss is at least this process's size when it forked, which is no more than its own peak.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024.0, 1)  # KiB


def _write(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run(args: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Reads and writes the page lines; returns the last line."""
    # imported once the memory limit is in force: a hostile PDF meets the limit in any of them
    from treatywatch.documents.extract import Reading
    from treatywatch.documents.models import DocumentLimits
    from treatywatch.errors import DocumentError

    limits = DocumentLimits(**args["limits"])
    try:
        reading = Reading(data, limits, args["languages"])
        _write({"page_count": reading.page_count})
        for page in reading.pages():
            _write({"page": asdict(page)})
    except DocumentError as exc:
        return {"unreadable": str(exc)}
    except RecursionError:
        return {"unreadable": "truncated / damaged: objects nested too deeply"}
    return {"done": reading.note}


def main() -> None:
    args = json.loads(sys.argv[1])
    _limit_life(float(args["limits"]["timeout_s"]))
    _limit_memory(int(args["limits"]["memory_mb"]))
    # a damaged PDF can make pypdf warn for every object: the note says what matters, stderr stays small
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    data = sys.stdin.buffer.read()
    try:
        last = run(args, data)
    except MemoryError:
        last = {"unreadable": f"exceeded {args['limits']['memory_mb']:,} MB of memory"}
    last["peak_rss_mb"] = _peak_rss_mb()
    _write(last)


if __name__ == "__main__":
    main()
