"""The reading process: `python -m treatywatch.documents.worker '<limits as JSON>'` with the PDF on stdin.

It limits its own address space first (RLIMIT_AS, inherited by Tesseract), reads, and prints one JSON object:
either the pages or {"unreadable": reason}. The parent (`reader.read_document`) kills it on its timeout.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict
from typing import Any


def _limit_memory(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024.0, 1)  # Linux reports KiB


def run(args: dict[str, Any], data: bytes) -> dict[str, Any]:
    from treatywatch.documents.extract import read_pages  # imported once under the memory limit
    from treatywatch.documents.models import DocumentLimits
    from treatywatch.errors import DocumentError

    limits = DocumentLimits(**args["limits"])
    try:
        total, pages, note = read_pages(data, limits, args["languages"])
    except DocumentError as exc:
        return {"unreadable": str(exc)}
    except MemoryError:
        return {"unreadable": f"exceeded {limits.memory_mb:,} MB of memory"}
    except RecursionError:
        return {"unreadable": "truncated / damaged: objects nested too deeply"}
    return {"page_count": total, "pages": [asdict(page) for page in pages], "note": note}


def main() -> None:
    args = json.loads(sys.argv[1])
    _limit_memory(int(args["limits"]["memory_mb"]))
    data = sys.stdin.buffer.read()
    try:
        result = run(args, data)
    except MemoryError:
        result = {"unreadable": f"exceeded {args['limits']['memory_mb']:,} MB of memory"}
    result["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
