"""Read one PDF as the daemon would, to check a server's OCR set-up or see what a document gives:

    python -m treatywatch.documents act.pdf [--lang ru --lang en] [--json]

Prints the state, the note and each page's text (or the DocumentText as JSON); exit status 1 when unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from treatywatch.documents.models import DocumentLimits
from treatywatch.documents.reader import read_document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m treatywatch.documents", description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("--lang", action="append", default=[], help="ISO 639-1 code of an OCR language (repeat)")
    parser.add_argument("--json", action="store_true", help="the DocumentText as JSON")
    args = parser.parse_args(argv)
    doc = read_document(args.pdf.read_bytes(), DocumentLimits(), args.lang or ["ru", "en"])
    if args.json:
        print(json.dumps(asdict(doc), ensure_ascii=False, indent=2))
    else:
        print(f"{args.pdf}: {doc.state}, {len(doc.pages)} of {doc.page_count} pages, {doc.seconds:.1f} s, "
              f"peak {doc.peak_rss_mb:.0f} MB")
        if doc.note:
            print(f"note: {doc.note}")
        for page in doc.pages:
            print(f"\n--- page {page.number} ({page.method}{': ' + page.note if page.note else ''})\n{page.text}")
    return 1 if doc.state == "unreadable" else 0


if __name__ == "__main__":
    sys.exit(main())
