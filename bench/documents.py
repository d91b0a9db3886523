"""Reading documents of acts: OCR seconds per page of scanned Russian A4 pages at the portal's resolution, text-layer
pages per second, the worker's start, and the peak memory of the reading process (worker and Tesseract), for the
test documents of tests/docgen.py and the hostile ones.

Wall seconds depend on what else the machine runs; CPU seconds (the worker's and Tesseract's, from the kernel's
accounting of children) do not, and the goal of issue 18 (a 5-page scanned act read well within 60 s on one core)
is judged on them.

Usage: python bench/documents.py [--pages 5] [--dpi 150] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from farmlib import write_result

import docgen
from treatywatch.documents import DocumentLimits, DocumentText, read_document

LIMITS = DocumentLimits()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(data: bytes, languages: Sequence[str], limits: DocumentLimits = LIMITS) -> tuple[DocumentText, float, float]:
    """The document, wall seconds, CPU seconds of the worker and Tesseract."""
    cpu = children_cpu()
    started = time.perf_counter()
    doc = read_document(data, limits, languages)
    return doc, time.perf_counter() - started, children_cpu() - cpu


def scanned_act(pages: int) -> list[str]:
    """`pages` pages of act text: the ten-state act, then the Canada act, repeated."""
    source = [*docgen.TEN_STATE_ACT, *docgen.CANADA_1989_ACT]
    return [source[n % len(source)] for n in range(pages)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5, help="pages of the scanned act")
    parser.add_argument("--dpi", type=int, default=150, help="resolution of the scanned pages (the portal's ~150)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    lines: list[str] = []

    scanned = docgen.scanned_pdf(scanned_act(args.pages), dpi=args.dpi)
    per_page_kb = len(scanned) / args.pages / 1024
    lines.append(
        f"scanned act: {args.pages} A4 pages at {args.dpi} dpi, {len(scanned) / 1e6:.2f} MB "
        f"({per_page_kb:.0f} KB a page; the portal's 22-page act is 3.7 MB, 168 KB a page)"
    )
    for languages in (["ru"], ["ru", "en"], ["ru", "en", "fr", "de", "pt", "es"]):
        doc, wall, cpu = timed(scanned, languages)
        assert doc.state == "ocr", doc.note
        lines.append(
            f"  OCR with {'+'.join(languages):<17} {wall / args.pages:5.2f} s a page wall, {cpu / args.pages:5.2f} s "
            f"CPU; whole act {wall:5.1f} s wall, {cpu:5.1f} s CPU; peak RSS of the reading process "
            f"{doc.peak_rss_mb:.0f} MB"
        )

    one_page = docgen.text_pdf(["Распоряжение Правительства Российской Федерации о признании утратившими силу актов"])
    tiny, wall, start_cpu = timed(one_page, ["ru"])
    lines.append(f"worker start, 1-page text PDF: {wall:.2f} s, {start_cpu:.2f} s CPU, peak {tiny.peak_rss_mb:.0f} MB")
    text_pages = docgen.layout([*docgen.TEN_STATE_ACT] * 14)[: LIMITS.max_pages]
    text = docgen.text_pdf(["\n".join(page) for page in text_pages])
    doc, wall, cpu = timed(text, ["ru"])
    assert doc.state == "read" and len(doc.pages) == len(text_pages), doc.note
    lines.append(
        f"text layer: {len(doc.pages)} pages in {wall:.2f} s wall ({len(doc.pages) / wall:.0f} pages/s with the "
        f"worker's start), {cpu:.2f} s CPU ({len(doc.pages) / max(cpu - start_cpu, 1e-3):.0f} pages/s of CPU "
        f"beyond the start), peak {doc.peak_rss_mb:.0f} MB"
    )

    hostile: list[tuple[str, Callable[[], bytes]]] = [
        ("PDF bomb (2 GiB inflated)", docgen.pdf_bomb),
        ("encrypted (AES-256, user password)", docgen.encrypted_pdf),
        ("2,000 pages", lambda: docgen.many_pages_pdf(2000)),
        ("image of 40,000 × 40,000 px", lambda: docgen.huge_image_pdf(40_000, 40_000)),
        ("truncated", docgen.truncated_pdf),
    ]
    lines.append("hostile documents (bounds: defaults of DocumentLimits):")
    for name, make in hostile:
        data = make()
        doc, wall, cpu = timed(data, ["ru"])
        lines.append(
            f"  {name:<36} {len(data) / 1024:7.0f} KB  {wall:5.2f} s  peak {doc.peak_rss_mb:4.0f} MB  "
            f"{doc.state}: {doc.note}"
        )

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (
        f"# bench/documents.py, {started:%Y-%m-%d %H:%M} UTC\n\n{os.cpu_count()} cores, load average {load} "
        "(other work beside it: judge by CPU seconds), Tesseract with OMP_THREAD_LIMIT=1 (one core a page).\n\n"
    )
    write_result(header + "```\n" + "\n".join(lines) + "\n```\n", "documents", started, args.out)


if __name__ == "__main__":
    main()
