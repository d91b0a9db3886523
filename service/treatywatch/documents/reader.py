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
import site
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from treatywatch.documents.models import BLANK_PAGE, DocumentLimits, DocumentState, DocumentText, Page

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # service/, so the worker imports this same code
_CHILD_ENV = {"PATH", "LANG", "TMPDIR", "TESSDATA_PREFIX", "PYTHONPATH"}
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


def _child_pythonpath() -> str:
    """PYTHONPATH for the worker: this package's folder first, unless it is site-packages (an installed package is
    found anyway, and site-packages ahead of the standard library could shadow it)."""
    inherited = os.environ.get("PYTHONPATH", "")
    installed = {str(Path(p).resolve()) for p in site.getsitepackages()}
    if _PACKAGE_ROOT in installed:
        return inherited
    return os.pathsep.join(p for p in (_PACKAGE_ROOT, inherited) if p)


def _child_env() -> dict[str, str]:
    """The worker's environment: what Python, Tesseract and temporary files need, and nothing else. The daemon's
    environment holds the operators' secrets (`${SMTP_PASSWORD}` in the YAML); the process that parses untrusted
    PDFs gets none of them."""
    env = {name: value for name, value in os.environ.items() if name in _CHILD_ENV or name.startswith("LC_")}
    env.update(OMP_THREAD_LIMIT="1", PYTHONPATH=_child_pythonpath())
    return env


def _kill(proc: subprocess.Popen[bytes]) -> bytes:
    """Kill the worker and everything it started (it leads its own process group); the output it had written."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    out, _ = proc.communicate()  # communicate() keeps what it read before the timeout
    return out or b""


def _run_worker(data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> _Answer:
    args = json.dumps({"limits": asdict(limits), "languages": list(languages)})
    env = _child_env()
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
        answer = _Answer.parse(_kill(proc))
        answer.unreadable = f"took longer than {limits.timeout_s:g} s"
        return answer
    except BaseException:
        _kill(proc)
        raise
    answer = _Answer.parse(out)
    if not answer.finished:
        answer.unreadable = _crash_reason(proc.returncode, err, limits)
    return answer


@dataclass
class _Answer:
    """The worker's lines, as far as it got."""

    page_count: int = 0
    pages: list[Page] = field(default_factory=list)
    finished: bool = False
    unreadable: str = ""
    note: str = ""
    peak_rss_mb: float = 0.0

    @classmethod
    def parse(cls, out: bytes) -> _Answer:
        answer = cls()
        for raw in out.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                break  # a line cut by the kill
            if "page_count" in line:
                answer.page_count = int(line["page_count"])
            elif "page" in line:
                answer.pages.append(Page(**line["page"]))
            elif "done" in line or "unreadable" in line:
                answer.finished = True
                answer.note = str(line.get("done", ""))
                answer.unreadable = str(line.get("unreadable", ""))
                answer.peak_rss_mb = float(line.get("peak_rss_mb", 0.0))
        return answer


def _crash_reason(returncode: int, stderr: bytes, limits: DocumentLimits) -> str:
    """A worker that died without an answer: over its memory (C code aborts when malloc fails) or a crash."""
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        return f"the reading process died ({name}), likely over its {limits.memory_mb:,} MB memory bound"
    if "MemoryError" in tail[0]:
        return f"exceeded {limits.memory_mb:,} MB of memory"
    return f"the reading process failed (exit {returncode}: {tail[0][:200]})"


def page_notes(pages: Sequence[Page]) -> list[str]:
    """One line per distinct page note, with the pages it holds for ("pages 1–3, 7: OCR unavailable: …")."""
    by_note: dict[str, list[int]] = {}
    for page in pages:
        if page.note and page.note != BLANK_PAGE:
            by_note.setdefault(page.note, []).append(page.number)
    return [f"{_page_list(numbers)}: {note}" for note, numbers in by_note.items()]


def _page_list(numbers: list[int]) -> str:
    runs: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(runs)


def _document(sha256: str, answer: _Answer, seconds: float) -> DocumentText:
    """The DocumentText of the worker's answer: pages it read stay read even when it stopped early."""
    pages = tuple(answer.pages)
    if answer.unreadable and not any(page.text for page in pages):
        note = f"document unreadable: {answer.unreadable}"
        return DocumentText(sha256, "unreadable", pages, answer.page_count, note, seconds, answer.peak_rss_mb)
    notes: list[str] = []
    if answer.unreadable:
        notes.append(f"document partly read: {answer.unreadable}")
    if answer.page_count > len(pages):
        notes.append(f"first {len(pages):,} of {answer.page_count:,} pages read")
    notes.extend(page_notes(pages))
    if answer.note:
        notes.append(answer.note)
    note = "; ".join(notes)
    state: DocumentState
    if any(page.method == "ocr" for page in pages):
        state = "ocr"
    elif not any(page.text for page in pages) and any(page.note and page.note != BLANK_PAGE for page in pages):
        state, note = "unreadable", f"document unreadable: {note}"
    else:
        state = "read"
    return DocumentText(sha256, state, pages, answer.page_count, note, seconds, answer.peak_rss_mb)


def read_document(data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> DocumentText:
    """Never raises for a bad document: broken, encrypted, oversized, bomb, timeout → state="unreadable" with note."""
    started = time.monotonic()
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > limits.max_bytes:
        answer = _Answer(unreadable=f"{len(data):,} bytes, over the {limits.max_bytes:,}-byte bound")
    elif reason := _not_pdf(data):
        answer = _Answer(unreadable=reason)
    else:
        try:
            answer = _run_worker(data, limits, languages)
        except OSError as exc:  # cannot start a process (no memory, no pids): this document waits, nothing else does
            answer = _Answer(unreadable=f"the reading process did not start ({exc})")
    return _document(sha256, answer, round(time.monotonic() - started, 3))
