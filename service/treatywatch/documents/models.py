"""What the document reading stage takes and returns: plain values, so the store, the matcher and the console
share one shape of a read document (and a worker process can hand it over as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PageMethod = Literal["text", "ocr", "none"]
DocumentState = Literal["read", "ocr", "unreadable"]
BLANK_PAGE = "blank page"  # a page's note that is no problem: nothing to read on it


@dataclass(frozen=True)
class DocumentLimits:
    """Bounds on the work one document may cost; a document beyond them is noted, never read at any price."""

    max_bytes: int = 20_000_000  # checked by the fetcher and again here
    max_pages: int = 40  # pages read; the rest noted ("first 40 of 2,000 pages read")
    max_pixels_per_page: int = 12_000_000  # a render or an image above it is not OCRed (that page noted)
    timeout_s: float = 180.0  # whole document; the reading process (and Tesseract) is killed after it
    memory_mb: int = 1024  # RLIMIT_AS of the reading process
    ocr_dpi: int = 200
    max_chars_per_page: int = 200_000  # a text layer beyond it is cut (a page of an act holds ~3,000)


@dataclass(frozen=True)
class Page:
    """One page's text; `number` is 1-based, as a PDF viewer shows it (and as `#page=N` links to)."""

    number: int
    text: str
    method: PageMethod
    note: str = ""  # why a page has no text: "scanned image, OCR unavailable", "image of 40,000 × 40,000 px …"


@dataclass(frozen=True)
class DocumentText:
    """A read document. `state` is "ocr" when any page came from OCR; "unreadable" carries the reason in `note`."""

    sha256: str
    state: DocumentState
    pages: tuple[Page, ...] = ()
    page_count: int = 0  # pages in the PDF (may exceed len(pages))
    note: str = ""  # "document unreadable: encrypted PDF"; "first 40 of 2,000 pages read"
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the reading process's (and Tesseract's) peak resident memory

    def body(self) -> str:
        """Page texts joined by a form feed: page N of an offset is the count of "\\f" before it, plus one
        (`matching.doc.page_line`). Pages are consecutive from 1 (a page not read is present with empty text) and
        no page text contains a form feed, so the count holds."""
        return "\f".join(page.text for page in self.pages)
