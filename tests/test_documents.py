"""The document reading stage: text layers and OCR of the test acts (tests/docgen.py), read through the real worker
process and Tesseract. Bounds and hostile documents: test_documents_bounds.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
import pytest

import docgen  # tests/ is on sys.path (its conftest.py puts it there)
from docgen import fuzzy_find, needs_tesseract, tesseract_languages
from treatywatch.documents import DocumentLimits, read_document
from treatywatch.documents.extract import _render_dpi
from treatywatch.documents.ocr import setup as ocr_setup
from treatywatch.documents.textclean import clean_ocr, dehyphenate
from treatywatch.matching.doc import page_line

LIMITS = DocumentLimits()
pytestmark = docgen.needs_fonts
ACTS = {
    "ten-state": docgen.TEN_STATE_ACT,
    "canada-1989": docgen.CANADA_1989_ACT,
    "domestic": docgen.DOMESTIC_ACT,
    "india-ratification": docgen.INDIA_RATIFICATION_ACT,
}


# --- text layer ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ACTS))
def test_text_layer_is_read_exactly_page_by_page(name: str) -> None:
    pages = ACTS[name]
    doc = read_document(docgen.text_pdf(pages), LIMITS, ["ru"])
    expected = docgen.page_texts(pages)
    assert doc.state == "read", doc.note
    assert doc.note == ""
    assert doc.page_count == len(expected) >= 2
    assert [p.number for p in doc.pages] == list(range(1, len(expected) + 1))
    assert [p.method for p in doc.pages] == ["text"] * len(expected)
    assert [p.text for p in doc.pages] == expected
    assert doc.body() == "\f".join(expected)


def test_ten_state_act_spans_three_pages_and_body_offsets_give_page_numbers() -> None:
    doc = read_document(docgen.text_pdf(docgen.TEN_STATE_ACT), LIMITS, ["ru"])
    assert doc.page_count == 3
    body = doc.body()
    expected_page = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3}
    for n, agreement in enumerate(docgen.TEN_STATES, start=1):
        offset = fuzzy_find(f"Правительством {agreement.state}", body)
        assert offset >= 0, agreement.state
        assert page_line(body, offset)[0] == expected_page[n], agreement.state
        assert body.count("\f", 0, offset) + 1 == expected_page[n]


def test_words_broken_at_line_ends_of_a_text_layer_are_joined() -> None:
    """A typeset PDF's text layer breaks words at line ends as a scan does; a compound keeps its own hyphen."""
    page = "\n".join(
        [
            "The Russian Federation notified the termination of the agree-",
            "ment on military cooperation with the French Republic; the",
            "Соглашение о военно-",
            "техническом сотрудничестве и о между-",
            "народных перевозках грузов",
        ]
    )
    doc = read_document(docgen.text_pdf([page]), LIMITS, ["en", "ru"])
    assert doc.pages[0].text.split("\n") == [
        "The Russian Federation notified the termination of the agreement",
        "on military cooperation with the French Republic; the",
        "Соглашение о военно-техническом",
        "сотрудничестве и о международных",
        "перевозках грузов",
    ]


def test_sha256_is_of_the_bytes() -> None:
    import hashlib

    data = docgen.text_pdf(docgen.DOMESTIC_ACT)
    assert read_document(data, LIMITS, ["ru"]).sha256 == hashlib.sha256(data).hexdigest()


def test_owner_password_only_pdf_is_read() -> None:
    """Encryption with an empty user password (print/copy restrictions only) opens without asking."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(docgen.text_pdf(docgen.CANADA_1989_ACT))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    doc = read_document(out.getvalue(), LIMITS, ["ru"])
    assert doc.state == "read", doc.note
    assert "Правительством Канады" in doc.body()


# --- OCR ----------------------------------------------------------------------------------------------------------


@needs_tesseract
def test_scanned_ten_state_act_is_ocred_with_every_state_on_its_page() -> None:
    data = docgen.scanned_pdf(docgen.TEN_STATE_ACT)
    assert b"/DCTDecode" in data and b"/Font" not in data  # images only: no text layer to fall back on
    doc = read_document(data, LIMITS, ["ru", "en"])
    assert doc.state == "ocr", doc.note
    assert doc.page_count == 3 and [p.method for p in doc.pages] == ["ocr"] * 3
    body = doc.body()
    expected_page = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3}
    for n, agreement in enumerate(docgen.TEN_STATES, start=1):
        offset = fuzzy_find(f"Правительством {agreement.state} о военном сотрудничестве", body, 0.85)
        assert offset >= 0, f"{agreement.state} not in the OCR text:\n{body}"
        assert page_line(body, offset)[0] == expected_page[n], agreement.state
        assert fuzzy_find(f"{agreement.city} {agreement.date} года", body, 0.85) >= 0, agreement.city
    assert body.replace("\n", " ").count("военном сотрудничестве") >= 8
    assert fuzzy_find("1. Прекратить действие следующих соглашений:", body, 0.9) >= 0
    assert "\f" not in "".join(p.text for p in doc.pages)


@needs_tesseract
def test_scanned_canada_act_names_the_1989_agreement_in_its_body() -> None:
    doc = read_document(docgen.scanned_pdf(docgen.CANADA_1989_ACT), LIMITS, ["ru"])
    assert doc.state == "ocr", doc.note
    first = doc.pages[0].text
    assert fuzzy_find("Союза Советских Социалистических Республик и Правительством Канады", first, 0.85) >= 0
    assert "Оттаве" in first and "1989" in first


@needs_tesseract
def test_black_and_white_ccitt_scan_is_ocred() -> None:
    data = docgen.scanned_pdf(docgen.CANADA_1989_ACT[:1], bitonal=True)
    assert b"/CCITTFaxDecode" in data
    doc = read_document(data, LIMITS, ["ru"])
    assert doc.state == "ocr", doc.note
    assert fuzzy_find("Правительством Союза Советских Социалистических Республик", doc.body(), 0.85) >= 0
    assert fuzzy_find("Правительством Канады о взаимных визитах по военной линии", doc.body(), 0.85) >= 0


@needs_tesseract
def test_a_page_without_text_layer_is_ocred_and_the_others_read_from_text() -> None:
    """Per page: a text page stays "text", a scanned page beside it goes to OCR; page numbers hold across both."""
    writer = pypdf.PdfWriter()
    for part in (docgen.text_pdf(docgen.INDIA_RATIFICATION_ACT[:1]), docgen.scanned_pdf(docgen.CANADA_1989_ACT[:1])):
        writer.append(pypdf.PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    doc = read_document(out.getvalue(), LIMITS, ["ru"])
    assert [p.method for p in doc.pages] == ["text", "ocr"]
    assert doc.state == "ocr"
    assert doc.pages[0].text == docgen.page_texts(docgen.INDIA_RATIFICATION_ACT[:1])[0]
    assert page_line(doc.body(), doc.body().find("Канады"))[0] == 2


def test_tesseract_absent_is_a_note_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # the worker runs sys.executable; nothing else is on PATH
    scanned = read_document(docgen.scanned_pdf(docgen.CANADA_1989_ACT), LIMITS, ["ru"])
    assert scanned.state == "unreadable"
    assert scanned.note == "document unreadable: pages 1–2: OCR unavailable: tesseract not installed"
    assert [p.method for p in scanned.pages] == ["none", "none"]
    assert scanned.page_count == 2
    text = read_document(docgen.text_pdf(docgen.CANADA_1989_ACT), LIMITS, ["ru"])
    assert text.state == "read" and text.note == ""  # a text layer needs no Tesseract


def test_languages_map_to_installed_tesseract_data() -> None:
    langs = tesseract_languages()
    if not {"rus", "eng"} <= langs:
        pytest.skip("Tesseract with rus and eng data is not installed")
    setup = ocr_setup(["ru", "en", "xx"])
    assert setup.languages == ("rus", "eng")
    assert setup.lang_arg() == "rus+eng"
    assert "xx" in setup.note


# --- cleaning -----------------------------------------------------------------------------------------------------


def test_ocr_cleaning_joins_hyphenated_words_and_keeps_lines() -> None:
    raw = "подписанное в Оттаве о военном сотрудни-\nчестве, подписанное\nНью-\nЙорк\n\n\n\nконец  страницы\f"
    cleaned = clean_ocr(raw)
    assert cleaned.split("\n") == [
        "подписанное в Оттаве о военном сотрудничестве,",
        "подписанное",
        "Нью-",
        "Йорк",
        "",
        "конец страницы",
    ]
    assert dehyphenate(["сотруд-", "ничестве"]) == ["сотрудничестве", ""]
    known = {"военно-техническом"}.__contains__
    assert dehyphenate(["о военно-", "техническом сотрудничестве"], known) == ["о военно-техническом", "сотрудничестве"]
    assert dehyphenate(["между-", "", "народных договоров"]) == ["международных", "", "договоров"]


@needs_tesseract
def test_a_compound_broken_at_a_line_end_keeps_its_own_hyphen() -> None:
    """Through Tesseract and the dictionary: "военно-" / "техническом" is one hyphenated word, "между-" / "народных"
    one word broken by the line end."""
    page = "\n".join(
        [
            "Соглашение между Правительством Российской Федерации и Правитель-",
            "ством Федеративной Республики Германия о военно-",
            "техническом сотрудничестве, подписанное в Бонне 16 декабря 1996",
            "года, а также ряда между-",
            "народных договоров Российской Федерации о взаимной защите прав.",
        ]
    )
    doc = read_document(docgen.scanned_pdf([page], noise=False, skew_deg=0), LIMITS, ["ru"])
    flat = " ".join(doc.body().split())
    assert "военно-техническом сотрудничестве" in flat, doc.body()
    assert "международных договоров" in flat, doc.body()
    assert "Правительством Федеративной" in flat, doc.body()


def test_ocr_cleaning_repairs_mixed_script_words_and_drops_dust() -> None:
    assert clean_ocr("Pоссийской Фeдерации and Paris") == "Российской Федерации and Paris"
    assert clean_ocr("| РАСПОРЯЖЕНИЕ |\nподписанное`в\nгода; :") == "РАСПОРЯЖЕНИЕ\nподписанное в\nгода;"


def test_render_resolution_fits_the_pixel_bound() -> None:
    assert _render_dpi(595, 842, LIMITS) == 200  # A4 at 200 dpi is 3.9 Mpx
    assert _render_dpi(842, 1191, LIMITS) == 200  # A3: 7.7 Mpx
    a2 = _render_dpi(1191, 1684, LIMITS)
    assert 150 < a2 < 200  # A2 would be 15.5 Mpx at 200 dpi: lowered to fit 12 Mpx
    assert (1191 / 72 * a2) * (1684 / 72 * a2) <= LIMITS.max_pixels_per_page


# --- from the command line ---------------------------------------------------------------------------------------


def test_reading_one_pdf_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from treatywatch.documents.__main__ import main

    act = tmp_path / "act.pdf"
    act.write_bytes(docgen.text_pdf(docgen.CANADA_1989_ACT))
    assert main([str(act), "--lang", "ru"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{act}: read, 2 of 2 pages, ")
    assert "--- page 2 (text)" in out and "Правительством Канады" in out
    bad = tmp_path / "error.pdf"
    bad.write_bytes(b"<html>503</html>")
    assert main([str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["note"] == "document unreadable: not a PDF (starts with <html>)"
