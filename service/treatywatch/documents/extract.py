"""The reading itself, run inside the worker process: text layer per page, OCR where a page has none.

Raises `DocumentError` for a document that cannot be read at all; a page that cannot be read is kept with an empty
text and its note, so page numbers in the body stay right.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import CalledProcessError
from typing import Any

import pypdf
import pypdf.filters
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError
from pypdf.generic import ContentStream

from treatywatch.documents import ocr
from treatywatch.documents.models import BLANK_PAGE, DocumentLimits, Page
from treatywatch.documents.textclean import dehyphenate, meaningful_letters, normalise
from treatywatch.errors import DocumentError

MIN_TEXT_LETTERS = 20  # fewer letters than a line of an act: a stamp or a page number, not the page's text
SCANNED_TEXT_LETTERS = 200  # a page with an image needs this much text to be taken as read (a portal stamp is less)
MIN_OCR_DPI = 100  # a page that only fits the pixel bound below this is not worth Tesseract's time
MAX_XOBJECT_DEPTH = 4
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+(?:-[\u0400-\u04ff]+)*")


def open_pdf(data: bytes) -> pypdf.PdfReader:
    """The parsed PDF, decrypted when it opens with an empty password (owner-password-only PDFs are common)."""
    if b"%%EOF" not in data[-2048:]:
        raise DocumentError(f"truncated / damaged: no end-of-file marker ({len(data):,} bytes, cut short?)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise DocumentError(f"encrypted PDF ({exc})") from exc
            if not opened:
                raise DocumentError("encrypted PDF (needs a password to open)")
        _ = len(reader.pages)
    except DocumentError:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError("encrypted PDF (needs a password to open)") from exc
    except LimitReachedError as exc:
        raise _bomb() from exc
    except MemoryError:
        raise
    except Exception as exc:  # a hostile file reaches parser paths of every kind; each is this document's note
        raise DocumentError(f"truncated / damaged: {exc or type(exc).__name__}") from exc
    return reader


def _images(resources: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[tuple[int, int]]:
    """(width, height) of every image XObject a page draws, through nested forms (each object once)."""
    seen = set() if seen is None else seen
    if depth > MAX_XOBJECT_DEPTH or not hasattr(resources, "get"):
        return
    found = resources.get("/XObject")
    xobjects: Any = found.get_object() if found is not None else None
    if not hasattr(xobjects, "values"):
        return
    for ref in xobjects.values():
        key = id(ref.get_object()) if not hasattr(ref, "idnum") else ref.idnum
        if key in seen:
            continue
        seen.add(key)
        obj = ref.get_object()
        subtype = obj.get("/Subtype")
        if subtype == "/Image":
            yield int(obj.get("/Width", 0) or 0), int(obj.get("/Height", 0) or 0)
        elif subtype == "/Form":
            yield from _images(obj.get("/Resources"), depth + 1, seen)


def _inline_images(page: pypdf.PageObject) -> Iterator[tuple[int, int]]:
    """(width, height) of the images written inside the page's content stream (BI … ID … EI)."""
    contents = page.get_contents()
    if contents is None or not contents.get_data().strip():
        return
    for operands, operator in ContentStream(contents, page.pdf).operations:
        if operator == b"INLINE IMAGE":
            settings = operands.get("settings", {}) if isinstance(operands, dict) else {}
            width = settings.get("/W", settings.get("/Width", 0))
            height = settings.get("/H", settings.get("/Height", 0))
            yield int(width or 0), int(height or 0)


def _draws_something(page: pypdf.PageObject) -> bool:
    """Whether the page has any content at all (vector-drawn letters, an inline scan): else it is blank."""
    contents = page.get_contents()
    return contents is not None and bool(contents.get_data().strip())


def _bomb() -> DocumentError:
    limit = pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH / 1e6
    return DocumentError(f"a compressed stream inflates beyond {limit:,.0f} MB (a decompression bomb)")


def _layer_text(page: pypdf.PageObject, limits: DocumentLimits) -> str:
    """The page's text layer, normalised. Its content is decoded first: extract_text() would swallow pypdf's
    decompression limit and call a bomb an empty page."""
    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
        text = page.extract_text() or ""
    except LimitReachedError as exc:
        raise _bomb() from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return ""
    return normalise(text[: limits.max_chars_per_page])


def _render_dpi(width_pt: float, height_pt: float, limits: DocumentLimits) -> float:
    """`ocr_dpi`, lowered until the render fits `max_pixels_per_page` (an A3 page still gets read)."""
    area_in = max(width_pt, 1.0) * max(height_pt, 1.0) / (72.0 * 72.0)
    fit = math.sqrt(limits.max_pixels_per_page / area_in)
    return min(float(limits.ocr_dpi), fit)


class PageReader:
    """Reads the pages of one PDF; keeps the pdfium document and Tesseract's setup once they are needed."""

    def __init__(self, data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> None:
        self.data = data
        self.limits = limits
        self.languages = tuple(languages)
        self._pdfium: Any = None
        self._ocr: ocr.OcrSetup | None = None
        self._morph: Any = None
        self._tmp = tempfile.TemporaryDirectory(prefix="treatywatch-ocr-")

    def close(self) -> None:
        if self._pdfium is not None:
            self._pdfium.close()
        self._tmp.cleanup()

    def is_word(self, word: str) -> bool:
        """Whether a Russian word is in the dictionary (pymorphy3's, loaded by the first hyphen at a line end)."""
        if not _CYRILLIC_WORD.fullmatch(word):
            return False
        if self._morph is None:
            import pymorphy3  # a scan without a hyphenated line end never pays for the dictionary

            self._morph = pymorphy3.MorphAnalyzer()
        return bool(self._morph.word_is_known(word))

    @property
    def ocr_note(self) -> str:
        """A requested OCR language without data, once OCR has been set up (empty when no page needed it)."""
        return self._ocr.note if self._ocr is not None else ""

    @property
    def ocr_setup(self) -> ocr.OcrSetup:
        if self._ocr is None:
            self._ocr = ocr.setup(self.languages)
        return self._ocr

    def read(self, number: int, page: pypdf.PageObject) -> Page:
        text = _layer_text(page, self.limits)
        letters = meaningful_letters(text)
        try:
            images = list(_images(page.get("/Resources")))
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            images = []
        if letters >= SCANNED_TEXT_LETTERS or (letters >= MIN_TEXT_LETTERS and not images):
            # typeset PDFs (the Federal Register's columns, EUR-Lex) break words at line ends too
            return Page(number, "\n".join(dehyphenate(text.split("\n"), self.is_word)), "text")
        try:  # only pages that go to OCR pay for parsing their content stream
            images += _inline_images(page)
            drawn = bool(images) or _draws_something(page)
        except LimitReachedError as exc:
            raise _bomb() from exc
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
            drawn = True  # a content stream pypdf cannot parse may still draw: PDFium decides
        if not drawn and not text:
            return Page(number, "", "none", BLANK_PAGE)
        return self._ocr_page(number, images, fallback=text)

    def _ocr_page(self, number: int, images: list[tuple[int, int]], fallback: str) -> Page:
        def unread(note: str) -> Page:
            return Page(number, fallback, "text" if fallback else "none", note)

        limit = self.limits.max_pixels_per_page
        for width, height in images:
            if width * height > limit:
                return unread(f"image of {width:,} × {height:,} px is over the {limit:,}-pixel bound; not OCRed")
        setup = self.ocr_setup
        if setup.unavailable:
            return unread(setup.unavailable)
        try:
            image = self._render(number)
        except RenderRefused as exc:
            return unread(str(exc))
        try:
            text = ocr.recognise(image.path, setup, round(image.dpi), self.is_word)
        except CalledProcessError as exc:
            lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            return unread(f"OCR failed: {(lines[-1] if lines else f'exit {exc.returncode}')[:200]}")
        except OSError as exc:
            return unread(f"OCR failed: {exc}")
        finally:
            image.path.unlink(missing_ok=True)
        return Page(number, text, "ocr")

    def _render(self, number: int) -> Rendered:
        """The page as a grayscale PNG, at `ocr_dpi` or the resolution that fits the pixel bound, measured on the
        renderer's own page size (crop box, rotation) before any pixel is drawn."""
        import pypdfium2 as pdfium  # only a document that needs OCR pays for loading pdfium

        try:
            if self._pdfium is None:
                self._pdfium = pdfium.PdfDocument(self.data, password="")
            page = self._pdfium[number - 1]
            width, height = page.get_size()
            dpi = _render_dpi(width, height, self.limits)
            if dpi < MIN_OCR_DPI:
                raise RenderRefused(
                    f"page of {width:,.0f} × {height:,.0f} pt is over the {self.limits.max_pixels_per_page:,}-pixel "
                    f"bound at {MIN_OCR_DPI} dpi; not OCRed"
                )
            bitmap = page.render(scale=dpi / 72.0, grayscale=True)
            path = Path(self._tmp.name) / f"page-{number}.png"
            bitmap.to_pil().save(path, dpi=(round(dpi), round(dpi)))
        except (pdfium.PdfiumError, OSError, ValueError) as exc:
            raise RenderRefused(f"page could not be rendered: {exc}") from exc
        return Rendered(path, dpi)


class RenderRefused(DocumentError):
    """A page not rendered (over the pixel bound, or PDFium cannot draw it); the message is that page's note, the
    other pages are still read."""


@dataclass(frozen=True)
class Rendered:
    path: Path
    dpi: float


class Reading:
    """One PDF being read: opened (or `DocumentError`), then its first `max_pages` pages one by one."""

    def __init__(self, data: bytes, limits: DocumentLimits, languages: Sequence[str]) -> None:
        self.pdf = open_pdf(data)
        self.page_count = len(self.pdf.pages)
        self.limits = limits
        self._pages = PageReader(data, limits, languages)

    def pages(self) -> Iterator[Page]:
        """Each page as it is read (the worker hands it over at once, so a timeout keeps the pages before it)."""
        try:
            for index in range(min(self.page_count, self.limits.max_pages)):
                try:
                    page = self._pages.read(index + 1, self.pdf.pages[index])
                except (DocumentError, MemoryError):
                    raise  # the whole document's end (a bomb, the memory bound)
                except Exception as exc:  # one damaged page is that page's note; the next pages are still read
                    page = Page(index + 1, "", "none", f"page damaged: {exc or type(exc).__name__}")
                yield page
        finally:
            self._pages.close()

    @property
    def note(self) -> str:
        """What the whole document's reading adds to the page notes (a requested OCR language not installed)."""
        return self._pages.ocr_note
