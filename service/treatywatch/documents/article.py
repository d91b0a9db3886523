"""The article behind a headline: an item's own page, its main text extracted with trafilatura (boilerplate, menus,
comments and "read also" blocks left out), as a one-page document that becomes the item's body.

trafilatura is a maintained extractor measured on news sites in many languages; a hand-written "largest <div>" rule
fails on the first site that nests its article differently. It runs on bytes already capped by the fetcher, and the
page is cut again here, so a hostile page costs bounded time (lxml parses a few MB in well under a second).
"""

from __future__ import annotations

import hashlib
import logging
import time

from .models import DocumentLimits, DocumentText, Page

log = logging.getLogger("treatywatch.documents")

# An article page is HTML: real ones weigh 50 KB to 2 MB with their markup; beyond this the rest is not read.
ARTICLE_MAX_BYTES = 5_000_000


def read_article(data: bytes, url: str, limits: DocumentLimits) -> DocumentText:
    """The page's main text as page 1 (method "text"), or "unreadable" with the reason in the note. Never raises."""
    started = time.monotonic()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        import trafilatura

        text = trafilatura.extract(
            data[:ARTICLE_MAX_BYTES],
            url=url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception as exc:  # an input the extractor never met: this article's note, never the job's failure
        log.warning("article %s: extraction failed: %s: %s", url, type(exc).__name__, exc)
        text, reason = None, f"extraction failed ({type(exc).__name__})"
    else:
        reason = "no article text found on the page"
    seconds = round(time.monotonic() - started, 3)
    if not text or not text.strip():
        return DocumentText(sha256, "unreadable", note=f"document unreadable: {reason}", seconds=seconds)
    body = text.replace("\f", " ")[: limits.max_chars_per_page]
    return DocumentText(sha256, "read", (Page(1, body, "text"),), 1, "", seconds)
