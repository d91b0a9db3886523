"""`read_document`: a PDF's bytes → page texts, in a child process that can be killed.

Parsing, rendering and OCR of untrusted PDFs run in `python -m treatywatch.documents.worker`, which limits its own
address space (RLIMIT_AS) and is killed with its process group (Tesseract included) after `timeout_s`. Whatever goes
wrong ends as an "unreadable" DocumentText with the reason in its note; this function does not raise for a bad
document.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from treatywatch.documents.models import DocumentLimits, DocumentState, DocumentText, Page

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # service/, so the worker imports this same code
_HEADER_WINDOW = 1024  # PDF readers accept junk before "%PDF-" within the first KiB


def _not_pdf(data: bytes) -> str:
    """Why the bytes are not a PDF ("not a PDF (starts with <html>)"), or "" when they may be one."""
    if not data:
        return "empty file"
    if b"%PDF-" in data[:_HEADER_WINDOW]:
        return ""
    head = data[:200].lstrip().split(b"\n", 1)[0].decode("latin-1")
    if head.startswith("<") and 0 < head.find(">") < 40:
        head = head[: head.find(">") + 1]  # the first tag: "<html>", "<!DOCTYPE html>"
    head = "".join(ch if ch.isprintable() else "?" for ch in head[:40])
    return f"not a PDF (starts with {head})"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The worker and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    proc.communicate()


def _run_worker(data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> dict[str, Any]:
    args = json.dumps({"limits": asdict(limits), "languages": list(languages)})
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONPATH=os.pathsep.join(
        p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p
    ))
    proc = subprocess.Popen(
        [sys.executable, "-m", "treatywatch.documents.worker", args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(data, timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return {"unreadable": f"took longer than {limits.timeout_s:g} s"}
    except BaseException:
        _kill(proc)
        raise
    finally:
        if proc.poll() is None:
            _kill(proc)
    if proc.returncode == 0:
        try:
            result: dict[str, Any] = json.loads(out)
            return result
        except ValueError:
            pass
    return {"unreadable": _crash_reason(proc.returncode, err, limits)}


def _crash_reason(returncode: int, stderr: bytes, limits: DocumentLimits) -> str:
    """A worker that died without an answer: over its memory (C code aborts when malloc fails) or a crash."""
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        return f"the reading process died ({name}), likely over its {limits.memory_mb:,} MB memory bound"
    if "MemoryError" in tail[0] or "memory" in tail[0].lower():
        return f"exceeded {limits.memory_mb:,} MB of memory"
    return f"the reading process failed (exit {returncode}: {tail[0][:200]})"


def _document(sha256: str, result: dict[str, Any], seconds: float) -> DocumentText:
    peak = float(result.get("peak_rss_mb", 0.0))
    if "unreadable" in result:
        return DocumentText(sha256, "unreadable", note=f"document unreadable: {result['unreadable']}",
                            seconds=seconds, peak_rss_mb=peak)
    pages = tuple(Page(**page) for page in result["pages"])
    note = str(result.get("note", ""))
    state: DocumentState
    if any(page.method == "ocr" for page in pages):
        state = "ocr"
    elif not any(page.text for page in pages) and any(page.note and page.note != "blank page" for page in pages):
        state, note = "unreadable", f"document unreadable: {note}"
    else:
        state = "read"
    return DocumentText(sha256, state, pages, int(result["page_count"]), note, seconds, peak)


def read_document(data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> DocumentText:
    """Never raises for a bad document: broken, encrypted, oversized, bomb, timeout → state="unreadable" with note."""
    started = time.monotonic()
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > limits.max_bytes:
        result: dict[str, Any] = {"unreadable": f"{len(data):,} bytes, over the {limits.max_bytes:,}-byte bound"}
    elif reason := _not_pdf(data):
        result = {"unreadable": reason}
    else:
        try:
            result = _run_worker(data, limits, languages)
        except OSError as exc:  # cannot start a process (no memory, no pids): this document waits, nothing else does
            result = {"unreadable": f"the reading process did not start ({exc})"}
    return _document(sha256, result, round(time.monotonic() - started, 3))
