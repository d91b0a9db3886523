"""Test documents made by the suite itself (no binary copied from anywhere): PDFs of Russian acts and hostile PDFs.

Shared by the document, matching and daemon tests: `import docgen` (tests/conftest.py puts tests/ on sys.path);
a bench script adds tests/ to sys.path first.

Makers of readable documents (pages are lists of paragraphs; `layout` wraps them into the lines a page shows):
- `text_pdf(pages)`: a real text layer (fpdf2, DejaVu Serif, Cyrillic), each laid-out line one line of text;
- `scanned_pdf(pages, dpi=150, noise=True, skew_deg=0.7, bitonal=False)`: the same pages drawn with Pillow and
  scanned: grayscale JPEG images (or black-and-white CCITT G4) at portal-like resolution (the portal's 22-page act
  weighs 3.7 MB), speckle noise and a slight skew, and no text layer at all.

Hostile makers (hand-written PDF objects, small on disk): `pdf_bomb()`, `encrypted_pdf()`, `many_pages_pdf(n)`,
`huge_image_pdf(w, h, inline=False)`, `truncated_pdf()`; and `blank_pdf(n)`.

The acts (lists of pages of text, in official Russian legal style): `TEN_STATE_ACT` (a generic title; the operative
part lists ten military cooperation agreements over three pages), `CANADA_1989_ACT` (a generic title; the 1989
USSR–Canada agreement only in the body), `DOMESTIC_ACT` (a concession agreement with a region: nothing
international), `INDIA_RATIFICATION_ACT` (a ratification: nothing ends). `TEN_STATES` lists the ten agreements'
states (genitive form as the act writes it), cities and dates, for assertions.

Checking: `fuzzy_find(needle, body)` finds a phrase in OCR output that may differ by a letter or two;
`needs_tesseract` and `needs_fonts` skip a test, saying what to install, where Tesseract's Russian data or the
DejaVu fonts are missing.
"""

from __future__ import annotations

import difflib
import functools
import io
import random
import shutil
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
SERIF = f"{FONT_DIR}/DejaVuSerif.ttf"
SERIF_BOLD = f"{FONT_DIR}/DejaVuSerif-Bold.ttf"

# A4 in points, with an act's margins (3 cm left for the binding, 1.5 cm right, 2 cm top and bottom)
PAGE_W, PAGE_H = 595.28, 841.89
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 85.0, 42.5, 57.0, 57.0
FONT_PT = 12.0
LEADING_PT = 17.0
LINES_PER_PAGE = int((PAGE_H - MARGIN_T - MARGIN_B) // LEADING_PT)


# --- checking what a reader made of them --------------------------------------------------------------------------


def tesseract_languages() -> set[str]:
    """The traineddata Tesseract has here (`tesseract --list-langs`), or nothing without Tesseract."""
    if not shutil.which("tesseract"):
        return set()
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False).stdout
    return {line.strip() for line in out.splitlines()[1:]}


needs_tesseract = pytest.mark.skipif(
    "rus" not in tesseract_languages(),
    reason="Tesseract with Russian data is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-rus)",
)
needs_fonts = pytest.mark.skipif(
    not Path(SERIF).exists(),
    reason=f"the test PDFs are drawn with {SERIF} (Debian: apt-get install fonts-dejavu-core)",
)


def fuzzy_find(needle: str, body: str, at_least: float = 0.8) -> int:
    """Offset in `body` of `needle` or of the closest OCR reading of it (similarity ≥ at_least), else -1.

    Lines are joined with spaces first (a name may wrap), keeping offsets: "\\n" and " " have one character each.
    """
    flat = body.replace("\n", " ")
    exact = flat.find(needle)
    if exact >= 0:
        return exact
    best, where = 0.0, -1
    size = len(needle)
    for start in range(0, max(1, len(flat) - size + 1)):
        window = flat[start : start + size]
        if window[:1] != needle[:1] and window[1:2] != needle[1:2]:
            continue
        ratio = difflib.SequenceMatcher(None, needle, window).ratio()
        if ratio > best:
            best, where = ratio, start
    return where if best >= at_least else -1


# --- the acts -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """One agreement of the ten-state act, as the act names it."""

    state: str  # the state's official name in the genitive, as in "Правительством <state>"
    entity: str  # the entity id in config/entities.yaml
    city: str  # where signed, in the prepositional ("в Оттаве")
    date: str  # "20 ноября 1989"
    year: int

    def line(self) -> str:
        return (
            f"Соглашение между Правительством Российской Федерации и Правительством {self.state} "
            f"о военном сотрудничестве, подписанное в {self.city} {self.date} года"
        )


TEN_STATES: tuple[Agreement, ...] = (
    Agreement("Канады", "canada", "Оттаве", "20 ноября 1989", 1989),
    Agreement("Французской Республики", "france", "Париже", "4 февраля 1994", 1994),
    Agreement("Португальской Республики", "portugal", "Лиссабоне", "10 марта 2000", 2000),
    Agreement("Федеративной Республики Германия", "germany", "Бонне", "16 декабря 1996", 1996),
    Agreement("Республики Болгария", "bulgaria", "Софии", "18 мая 1998", 1998),
    Agreement("Республики Польша", "poland", "Варшаве", "25 августа 1993", 1993),
    Agreement("Румынии", "romania", "Бухаресте", "4 июля 2003", 2003),
    Agreement("Королевства Дания", "denmark", "Копенгагене", "4 ноября 1993", 1993),
    Agreement("Королевства Норвегия", "norway", "Осло", "26 апреля 1996", 1996),
    Agreement("Королевства Нидерландов", "netherlands", "Гааге", "7 октября 2001", 2001),
)

TEN_STATE_TITLE = (
    "Распоряжение Правительства Российской Федерации от 12.11.2026 № 3187-р "
    '"О прекращении действия ряда международных договоров Российской Федерации"'
)


def _item(number: int, agreement: Agreement, last: bool) -> str:
    return f"{number}) {agreement.line()}{'.' if last else ';'}"


TEN_STATE_ACT: tuple[str, ...] = (
    "\n".join(
        [
            "ПРАВИТЕЛЬСТВО РОССИЙСКОЙ ФЕДЕРАЦИИ",
            "",
            "РАСПОРЯЖЕНИЕ",
            "",
            "от 12 ноября 2026 г. № 3187-р",
            "МОСКВА",
            "",
            "О прекращении действия ряда международных договоров Российской Федерации",
            "",
            "В соответствии с пунктом 1 статьи 37 Федерального закона \"О международных договорах Российской "
            "Федерации\" и с учетом того, что дальнейшее выполнение указанных ниже соглашений не отвечает "
            "интересам Российской Федерации:",
            "1. Прекратить действие следующих соглашений:",
            *(_item(n, a, False) for n, a in enumerate(TEN_STATES[:3], start=1)),
        ]
    ),
    "\n".join(
        [
            "2",
            "",
            *(_item(n, a, False) for n, a in enumerate(TEN_STATES[3:8], start=4)),
        ]
    ),
    "\n".join(
        [
            "3",
            "",
            *(_item(n, a, n == 10) for n, a in enumerate(TEN_STATES[8:], start=9)),
            "2. МИДу России уведомить правительства указанных в пункте 1 настоящего распоряжения государств о "
            "решении Российской Федерации прекратить действие соглашений.",
            "3. Минобороны России совместно с заинтересованными федеральными органами исполнительной власти "
            "обеспечить завершение мероприятий, осуществляемых в рамках соглашений, указанных в пункте 1 "
            "настоящего распоряжения, в пределах установленной численности и бюджетных ассигнований.",
            "",
            "Председатель Правительства",
            "Российской Федерации                                        М.Мишустин",
        ]
    ),
)

CANADA_1989_TITLE = (
    "Распоряжение Правительства Российской Федерации от 03.12.2026 № 3421-р "
    '"О прекращении действия международного договора"'
)

CANADA_1989_ACT: tuple[str, ...] = (
    "\n".join(
        [
            "ПРАВИТЕЛЬСТВО РОССИЙСКОЙ ФЕДЕРАЦИИ",
            "",
            "РАСПОРЯЖЕНИЕ",
            "",
            "от 3 декабря 2026 г. № 3421-р",
            "МОСКВА",
            "",
            "О прекращении действия международного договора",
            "",
            "В соответствии с пунктом 1 статьи 37 Федерального закона \"О международных договорах Российской "
            "Федерации\" и учитывая, что Российская Федерация продолжает осуществлять права и выполнять "
            "обязательства, вытекающие из международных договоров, заключенных Союзом Советских "
            "Социалистических Республик:",
            "1. Прекратить действие Соглашения между Правительством Союза Советских Социалистических Республик "
            "и Правительством Канады о взаимных визитах по военной линии, подписанного в Оттаве 20 ноября "
            "1989 года (далее - Соглашение).",
        ]
    ),
    "\n".join(
        [
            "2",
            "",
            "2. МИДу России уведомить канадскую сторону о решении Российской Федерации прекратить действие "
            "Соглашения.",
            "3. Минобороны России принять меры по завершению мероприятий, предусмотренных Соглашением и "
            "начатых до даты прекращения его действия.",
            "",
            "Председатель Правительства",
            "Российской Федерации                                        М.Мишустин",
        ]
    ),
)

DOMESTIC_TITLE = (
    "Распоряжение Правительства Российской Федерации от 28.11.2026 № 3344-р "
    '"О заключении концессионного соглашения в отношении автомобильной дороги"'
)

DOMESTIC_ACT: tuple[str, ...] = (
    "\n".join(
        [
            "ПРАВИТЕЛЬСТВО РОССИЙСКОЙ ФЕДЕРАЦИИ",
            "",
            "РАСПОРЯЖЕНИЕ",
            "",
            "от 28 ноября 2026 г. № 3344-р",
            "МОСКВА",
            "",
            "В соответствии со статьей 37 Федерального закона \"О концессионных соглашениях\":",
            "1. Согласиться с предложением Минтранса России, согласованным с Правительством Мурманской области, "
            "о заключении концессионного соглашения в отношении участка автомобильной дороги общего пользования "
            "федерального значения Р-21 \"Кола\" км 1100 - км 1140 (далее - концессионное соглашение).",
            "2. Определить Федеральное дорожное агентство органом, уполномоченным на заключение концессионного "
            "соглашения от имени Российской Федерации.",
            "3. Прекратить действие соглашения между Федеральным дорожным агентством и Правительством "
            "Мурманской области о содержании указанного участка автомобильной дороги со дня вступления в силу "
            "концессионного соглашения.",
        ]
    ),
    "\n".join(
        [
            "2",
            "",
            "4. Финансовое обеспечение расходов, связанных с реализацией концессионного соглашения, "
            "осуществлять в пределах бюджетных ассигнований, предусмотренных Федеральному дорожному агентству "
            "в федеральном бюджете на соответствующий финансовый год.",
            "",
            "Председатель Правительства",
            "Российской Федерации                                        М.Мишустин",
        ]
    ),
)

INDIA_RATIFICATION_TITLE = (
    "Федеральный закон от 19.11.2026 № 402-ФЗ "
    '"О ратификации Соглашения между Правительством Российской Федерации и Правительством Республики Индии '
    'о взаимном материально-техническом обеспечении"'
)

INDIA_RATIFICATION_ACT: tuple[str, ...] = (
    "\n".join(
        [
            "РОССИЙСКАЯ ФЕДЕРАЦИЯ",
            "",
            "ФЕДЕРАЛЬНЫЙ ЗАКОН",
            "",
            "О ратификации Соглашения между Правительством Российской Федерации и Правительством Республики "
            "Индии о взаимном материально-техническом обеспечении",
            "",
            "Принят Государственной Думой 5 ноября 2026 года",
            "Одобрен Советом Федерации 12 ноября 2026 года",
            "",
            "Статья 1",
            "Ратифицировать Соглашение между Правительством Российской Федерации и Правительством Республики "
            "Индии о взаимном материально-техническом обеспечении, подписанное в Москве 18 февраля 2025 года.",
            "Статья 2",
            "Настоящий Федеральный закон вступает в силу со дня его официального опубликования.",
        ]
    ),
    "\n".join(
        [
            "2",
            "",
            "Президент Российской Федерации                                  В.Путин",
            "",
            "Москва, Кремль",
            "19 ноября 2026 года",
            "№ 402-ФЗ",
        ]
    ),
)


# --- layout ---------------------------------------------------------------------------------------------------------


@functools.cache
def _font(size_px: int, path: str = SERIF) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px)


def wrap(paragraph: str, width_pt: float = PAGE_W - MARGIN_L - MARGIN_R, font_pt: float = FONT_PT) -> list[str]:
    """A paragraph's lines at the text width (DejaVu Serif's own advance widths, so PDF and scan agree)."""
    font = _font(100)
    scale = font_pt / 100.0
    lines: list[str] = []
    current = ""
    for word in paragraph.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) * scale > width_pt:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return lines


def layout(pages: Sequence[str]) -> list[list[str]]:
    """The lines each page shows: paragraphs wrapped, a page that overflows continued on a new page."""
    out: list[list[str]] = []
    for page in pages:
        lines = [line for paragraph in page.split("\n") for line in wrap(paragraph)]
        while len(lines) > LINES_PER_PAGE:
            out.append(lines[:LINES_PER_PAGE])
            lines = lines[LINES_PER_PAGE:]
        out.append(lines)
    return out


def page_texts(pages: Sequence[str]) -> list[str]:
    """What a reader of `text_pdf(pages)` should get per page: the laid-out lines, blank lines dropped."""
    return ["\n".join(" ".join(line.split()) for line in lines if line.strip()) for lines in layout(pages)]


# --- readable PDFs --------------------------------------------------------------------------------------------------


def text_pdf(pages: Sequence[str]) -> bytes:
    """A PDF with a real text layer: each laid-out line drawn as one line of text in DejaVu Serif."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="pt")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVuSerif", "", SERIF)
    pdf.set_font("DejaVuSerif", size=FONT_PT)
    pdf.set_creator("TreatyWatch tests")
    for lines in layout(pages):
        pdf.add_page()
        for n, line in enumerate(lines):
            if line.strip():
                pdf.text(MARGIN_L, MARGIN_T + FONT_PT + n * LEADING_PT, line)
    return bytes(pdf.output())


def page_image(
    lines: Sequence[str], dpi: int = 150, noise: bool = True, skew_deg: float = 0.7, seed: int = 0
) -> Image.Image:
    """One page drawn and "scanned": grayscale at `dpi`, a slight skew, speckles and a soft edge like a scanner's."""
    px = dpi / 72.0
    image = Image.new("L", (round(PAGE_W * px), round(PAGE_H * px)), 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(FONT_PT * px))
    for n, line in enumerate(lines):
        draw.text((MARGIN_L * px, (MARGIN_T + n * LEADING_PT) * px), line, font=font, fill=20)
    if skew_deg:
        image = image.rotate(skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
    if noise:
        rng = random.Random(seed)
        speckle = ImageDraw.Draw(image)
        for _ in range(image.width * image.height // 2500):  # dust: dots of one or two pixels
            x, y = rng.randrange(image.width), rng.randrange(image.height)
            speckle.rectangle((x, y, x + rng.randrange(2), y + rng.randrange(2)), fill=rng.randrange(0, 170))
        image = image.filter(ImageFilter.GaussianBlur(0.6))  # the scanner's optics
        # paper and sensor grain around mid-grey, from the page's seed: Image.effect_noise draws from C's rand(),
        # whose state earlier tests move, so the same act's scan (and what OCR reads of it) changed with test order
        grain = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
        grain = grain.point(lambda v: round(128 + (v - 128) * 0.4))  # uniform bytes to a spread like sigma 30
        image = Image.blend(image, grain, 0.08).point(lambda v: min(255, v + 12))  # grey paper, lighter ink
    return image


def scanned_pdf(
    pages: Sequence[str], dpi: int = 150, noise: bool = True, skew_deg: float = 0.7, bitonal: bool = False
) -> bytes:
    """An image-only PDF of the pages, no text layer: grayscale JPEG (/DCTDecode), or with `bitonal` black and
    white in CCITT Group 4 (/CCITTFaxDecode), the two ways scanners at government offices write them."""
    images = [
        page_image(lines, dpi, noise, skew_deg * (1 if n % 2 else -1), seed=n) for n, lines in enumerate(layout(pages))
    ]
    options = {"quality": 75}  # JPEG's
    if bitonal:
        images = [image.point(lambda v: 255 if v > 150 else 0).convert("1") for image in images]
        options = {}
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:], **options)
    return out.getvalue()


# --- hostile PDFs (hand-written objects) ----------------------------------------------------------------------------


def _pdf(objects: Sequence[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF file of numbered objects (1..n), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R %s>>" % (len(objects) + 1, root, trailer_extra)
    out.write(b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _rev(code: int, bits: int) -> int:
    return int(f"{code:0{bits}b}"[::-1], 2)


def _raw_deflate_spaces(units: int) -> bytes:
    """One fixed-Huffman deflate block: a space, then 8 × `units` copies of "the last 258 bytes again"."""
    acc = nbits = 0

    def put(value: int, width: int) -> None:
        nonlocal acc, nbits
        acc |= value << nbits
        nbits += width

    put(1, 1)  # the last block
    put(1, 2)  # with the fixed Huffman codes
    put(_rev(0x30 + 0x20, 8), 8)  # literal " "
    for _ in range(units * 8):  # eight matches are 104 bits: 13 whole bytes, so a unit repeats byte for byte
        put(_rev(0xC5, 8), 8)  # length 258 (code 285)
        put(0, 5)  # distance 1
    put(0, 7)  # end of block
    return acc.to_bytes((nbits + 7) // 8, "little")


def zlib_spaces(inflated_bytes: int) -> bytes:
    """A zlib stream of about `inflated_bytes` spaces, written directly (compressing GBs would take seconds)."""
    units = max(2, inflated_bytes // (258 * 8))
    small, bigger = _raw_deflate_spaces(2), _raw_deflate_spaces(3)
    unit = bigger[2:15]
    assert bigger == small[:2] + unit + small[2:]
    raw = small[:2] + unit * (units - 2) + small[2:]
    n = 1 + 258 * 8 * units
    adler_a = (1 + n * 0x20) % 65521
    adler_b = (n + 0x20 * n * (n + 1) // 2) % 65521
    return b"\x78\x9c" + raw + ((adler_b << 16) | adler_a).to_bytes(4, "big")


def pdf_bomb(inflated_bytes: int = 2 << 30) -> bytes:
    """~26 KB whose page content stream inflates to `inflated_bytes` (2 GiB) of spaces: Flate applied twice."""
    outer = zlib.compress(zlib_spaces(inflated_bytes), 9)
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
            _stream(outer, b"/Filter [/FlateDecode /FlateDecode] "),
        ]
    )


def encrypted_pdf(password: str = "secret") -> bytes:
    """The ten-state act, AES-256 encrypted with a user password: nothing can be read without it."""
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(text_pdf(TEN_STATE_ACT)))
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_pages_pdf(pages: int = 2000) -> bytes:
    """`pages` pages, each with a line of text saying its number (Helvetica, a shared font object)."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n in range(pages):
        content = b"BT /F1 12 Tf 72 760 Td (Annex to the act, page %d of a long list of annexes) Tj ET" % (n + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * n)
        )
        objects.append(_stream(content))
    return _pdf(objects)


def huge_image_pdf(width: int = 40_000, height: int = 40_000, inline: bool = False) -> bytes:
    """One A4 page drawing an image that declares width × height pixels, with a few bytes of data: an image XObject,
    or with `inline` an image inside the content stream (BI … ID … EI)."""
    data = zlib.compress(b"\xff" * 4096)
    if inline:
        image = b"BI /W %d /H %d /CS /G /BPC 8 /F /Fl ID " % (width, height) + data + b" EI"
        return _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
                _stream(b"q 595 0 0 842 0 0 cm " + image + b" Q"),
            ]
        )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
            _stream(b"q 595 0 0 842 0 0 cm /Im1 Do Q"),
            _stream(
                data,
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Filter /FlateDecode " % (width, height),
            ),
        ]
    )


def blank_pdf(pages: int = 2) -> bytes:
    """`pages` A4 pages with nothing on them."""
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(pages))
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
            *(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>" for _ in range(pages)),
        ]
    )


def truncated_pdf() -> bytes:
    """The ten-state act's text PDF cut in half, as a download that stopped early."""
    data = text_pdf(TEN_STATE_ACT)
    return data[: len(data) // 2]
