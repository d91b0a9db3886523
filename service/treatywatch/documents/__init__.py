"""Reading fetched documents (PDFs of acts): the text layer where there is one, OCR of the page images where not.

All parsing, rendering and OCR runs in a child process with a memory limit and a wall-clock timeout
(`reader.read_document`), so a hostile PDF costs one item's note, never the daemon.
"""

from treatywatch.documents.models import DocumentLimits, DocumentText, Page
from treatywatch.documents.reader import read_document

__all__ = ["DocumentLimits", "DocumentText", "Page", "read_document"]
