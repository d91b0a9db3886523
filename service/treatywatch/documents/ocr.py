"""Tesseract, called as a program (the Debian package `tesseract-ocr` and its language data): one call per page.

Runs inside the reading process, so Tesseract inherits its memory limit and dies with it on a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from treatywatch.documents.textclean import clean_ocr

# ISO 639-1 codes of the watchlist's languages → Tesseract's traineddata names
TESSERACT_CODES = {"ru": "rus", "en": "eng", "fr": "fra", "de": "deu", "pt": "por", "es": "spa"}


@dataclass(frozen=True)
class OcrSetup:
    """Which Tesseract to run with which languages, or why OCR cannot run (`unavailable`)."""

    program: str = ""
    languages: tuple[str, ...] = ()
    unavailable: str = ""
    note: str = ""  # a requested language whose data is not installed

    def lang_arg(self) -> str:
        return "+".join(self.languages)


def installed_languages(program: str) -> set[str]:
    """`tesseract --list-langs`: the first line is a header, then one traineddata name a line."""
    run = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    lines = (run.stdout or run.stderr).splitlines()
    return {line.strip() for line in lines[1:] if line.strip() and " " not in line.strip()}


def setup(languages: Sequence[str]) -> OcrSetup:
    """Tesseract's languages for the watchlist's ones: only those installed, in the order given."""
    program = shutil.which("tesseract")
    if not program:
        return OcrSetup(unavailable="OCR unavailable: tesseract not installed")
    try:
        installed = installed_languages(program)
    except (OSError, subprocess.SubprocessError) as exc:
        return OcrSetup(unavailable=f"OCR unavailable: tesseract does not run ({exc})")
    wanted = [TESSERACT_CODES.get(code, code) for code in dict.fromkeys(languages)] or ["rus", "eng"]
    usable = [code for code in wanted if code in installed]
    missing = [code for code in wanted if code not in installed]
    note = f"Tesseract has no language data for {', '.join(missing)}" if missing else ""
    if not usable:
        fallback = [code for code in TESSERACT_CODES.values() if code in installed]
        if not fallback:
            return OcrSetup(unavailable=f"OCR unavailable: no Tesseract language data for {', '.join(wanted)}")
        usable = fallback[:2]
        note += f"; read with {'+'.join(usable)}"
    return OcrSetup(program=program, languages=tuple(usable), note=note)


def recognise(image: Path, ocr: OcrSetup, dpi: int, is_word: Callable[[str], bool] | None = None) -> str:
    """The page image's text, cleaned (`is_word`: see `clean_ocr`); raises OSError/CalledProcessError when
    Tesseract fails on it."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")  # one core a page: the daemon shares the machine
    run = subprocess.run(
        [ocr.program, str(image), "stdout", "-l", ocr.lang_arg(), "--dpi", str(dpi), "--psm", "3"],
        capture_output=True,
        env=env,
        check=True,
    )
    return clean_ocr(run.stdout.decode("utf-8", "replace"), is_word)
