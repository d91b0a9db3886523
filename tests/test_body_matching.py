"""Matching over an item's body (issue 18): the body as a field of its own, `fields:`, and an act's operative part
naming the agreements that are its subject, each explained by page and line. Pure matching: items carry their body
text directly (the documents' own tests read the same acts out of PDFs)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

import docgen
from conftest import EXAMPLE_CONFIG, example_watchlist, tw
from treatywatch.app import compile_config
from treatywatch.errors import ConfigError
from treatywatch.items import ActFields, Item, make_item
from treatywatch.matching import Watchlist, operative
from treatywatch.matching.explain import match_from_dict, match_to_dict
from treatywatch.web.api import match_json

DOC_URL = "http://publication.pravo.gov.ru/file/pdf?eoNumber=0001202611120001"
CANADA = "ru-ca-1989-military-visits"
INDIA = "ru-in-logistics"
# the ten states of the act, as tracked agreements of this test's own config (entity ids of the example's entities)
TEN = {CANADA if a.entity == "canada" else f"ru-{a.entity}-{a.year}": a for a in docgen.TEN_STATES}
AGREEMENTS = [
    *(
        {
            "id": aid,
            "title": f"Russia–{a.entity.capitalize()} agreement on military cooperation",
            "parties": ["russia", a.entity],
            "signed": a.year,
            **({"aliases": {"ru": ["визит по военной линии"]}} if a.entity == "canada" else {}),
        }
        for aid, a in TEN.items()
    ),
    {"id": INDIA, "title": "Russia–India agreement on reciprocal logistics support", "parties": ["russia", "india"]},
]
WATCHES = [
    {"id": "ended", "query": "@agreement AND @termination", "agreements": "all", "severity": "high"},
    {
        "id": "ended-anywhere",
        "query": "@agreement AND @termination",
        "agreements": "all",
        "fields": ["title", "summary", "body"],
    },
    {"id": "body-words", "query": 'body:"военном сотрудничестве"'},
    {"id": "title-words", "query": 'title:"военном сотрудничестве"'},
    {"id": "near", "query": "Оттаве NEAR/30 Копенгагене", "fields": ["title", "summary", "body"]},
    {"id": "spanning", "query": '"сотрудничестве Канады"', "fields": ["title", "summary", "body"]},
]


@pytest.fixture(scope="module")
def wl(tmp_path_factory: pytest.TempPathFactory) -> Watchlist:
    return example_watchlist(tmp_path_factory.mktemp("config"), WATCHES, AGREEMENTS)


def act(title: str, pages: tuple[str, ...], url: str = DOC_URL, **kw: object) -> Item:
    return make_item("pravo", title=title, language="ru", body="\f".join(pages), act=ActFields(document_url=url), **kw)


def fired(wl: Watchlist, item: Item) -> dict:
    return {m.watch_id: m for m in wl.match(item)}


def test_ten_state_act_names_all_ten_agreements_by_page_and_line(wl: Watchlist):
    item = act(docgen.TEN_STATE_TITLE, docgen.TEN_STATE_ACT)
    m = fired(wl, item)["ended"]
    assert {a.id for a in m.agreements} == set(TEN)
    assert all(a.subject for a in m.agreements)
    pages = [p.split("\n") for p in docgen.TEN_STATE_ACT]
    for a in m.agreements:
        reason = next(r for r in a.reasons if r.startswith("body p. "))
        where, text = reason.split(": ", 1)
        page, line = (int(x.split()[-1]) for x in where.removeprefix("body ").split(", "))
        assert TEN[a.id].state in pages[page - 1][line - 1], (a.id, reason)  # the line a reader finds it on
        assert text.startswith("Соглашение между Правительством Российской Федерации")
    # the operative verb is a hit with its place; the title stays the evidence shown first
    verb = next(h for h in m.hits if h.field == "body")
    assert (verb.text, verb.page, verb.line) == ("Прекратить", 1, 11)
    assert "«Прекратить» (body p. 1, l. 11)" in m.why()
    assert m.snippet.text == item.title and not m.snippet.link
    # stored and read back, the places survive
    assert match_from_dict(match_to_dict(m)) == m


def test_body_agreements_are_added_only_where_the_act_lists_them(wl: Watchlist):
    """Point 2 of the act (notify the states of the decision to "прекратить действие соглашений") is no operative
    clause: the verb is not where a clause starts."""
    m = fired(wl, act(docgen.TEN_STATE_TITLE, docgen.TEN_STATE_ACT))["ended"]
    assert [h.line for h in m.hits if h.field == "body"] == [11]


def test_canada_act_fires_on_its_body_only_where_the_watch_reads_it(wl: Watchlist):
    # the title fires the query; the agreement is only in the body: added by default
    m = fired(wl, act(docgen.CANADA_1989_TITLE, docgen.CANADA_1989_ACT))["ended"]
    assert [a.id for a in m.agreements] == [CANADA]
    assert "body p. 1, line 11: Соглашения между Правительством Союза Советских" in "; ".join(m.agreements[0].reasons)
    # a title that says nothing: only a watch whose fields take the body fires, on the body's words
    bare = act("Распоряжение Правительства Российской Федерации от 03.12.2026 № 3421-р", docgen.CANADA_1989_ACT)
    got = fired(wl, bare)
    assert "ended" not in got
    m = got["ended-anywhere"]
    assert [a.id for a in m.agreements] == [CANADA]
    body_hits = [h for h in m.hits if h.field == "body"]
    assert body_hits and all(h.page in (1, 2) and h.line for h in body_hits)
    # its snippet is the body's window, linked to the page of the PDF
    assert m.snippet.link == DOC_URL + "#page=1"
    assert "[прекращении действия]" in m.snippet.marked()  # the act's heading on page 1, its first hit


def test_domestic_act_names_no_tracked_agreement(wl: Watchlist):
    """Its point 3 ("Прекратить действие соглашения между Федеральным дорожным агентством и Правительством
    Мурманской области") is an operative clause, but of a domestic agreement."""
    assert fired(wl, act(docgen.DOMESTIC_TITLE, docgen.DOMESTIC_ACT)) == {}
    generic = act("О прекращении действия соглашения", docgen.DOMESTIC_ACT)
    assert set(fired(wl, generic)) == set()


def test_domestic_agreement_in_a_list_is_not_the_tracked_one_of_its_year(wl: Watchlist):
    body = (
        "1. Прекратить действие следующих соглашений:\n"
        "1) Соглашение между Правительством Российской Федерации и Правительством Республики Татарстан о военном "
        "сотрудничестве 1994 года;\n"
        "2) Соглашение между Министерством обороны Российской Федерации и АО «Завод» о военном сотрудничестве "
        "2000 года."
    )
    assert "ended" not in fired(wl, act("О прекращении действия ряда соглашений", (body,)))


def test_india_ratification_ends_nothing(wl: Watchlist):
    item = act(docgen.INDIA_RATIFICATION_TITLE, docgen.INDIA_RATIFICATION_ACT)
    assert not {"ended", "ended-anywhere"} & set(fired(wl, item))
    # a treaty's own termination clause in the ratified text is not an order either
    text = (
        *docgen.INDIA_RATIFICATION_ACT[:1],
        "Статья 3\nКаждая из Сторон может прекратить действие настоящего Соглашения путем направления письменного "
        "уведомления. Прекращение действия настоящего Соглашения не затрагивает обязательств Сторон.",
    )
    assert not {"ended", "ended-anywhere"} & set(fired(wl, act(docgen.INDIA_RATIFICATION_TITLE, text)))


def test_body_query_reads_the_body_and_title_query_does_not(wl: Watchlist):
    item = act("Распоряжение от 12.11.2026 № 3187-р", docgen.TEN_STATE_ACT)
    got = fired(wl, item)
    assert "title-words" not in got
    m = got["body-words"]
    first = m.hits[0]
    assert (first.field, first.page, first.line) == ("body", 1, 12)
    assert "body p. 1, l. 12" in m.why()
    assert [(h.page, h.line) for h in m.hits] == [(1, 12), (1, 13), (1, 14)]  # of ten: the first places explain it
    assert m.snippet.link == DOC_URL + "#page=1"
    # without a body, a body: query has nothing to read
    assert "body-words" not in fired(wl, make_item("pravo", title="о военном сотрудничестве"))
    assert "title-words" in fired(wl, make_item("pravo", title="о военном сотрудничестве"))


def test_no_phrase_or_near_spans_fields_or_pages(wl: Watchlist):
    # Оттаве (p. 1) and Копенгагене (p. 2) are a few words apart across the page break: NEAR stops at the page
    pages = ("Соглашение, подписанное в Оттаве", "и в Копенгагене")
    assert "near" not in fired(wl, act("Распоряжение", pages))
    assert "near" in fired(wl, act("Распоряжение", ("Соглашение, подписанное в Оттаве и в Копенгагене",)))
    # the summary's last word and the body's first make no phrase, nor do a page's last and the next's first
    assert "spanning" not in fired(wl, act("Распоряжение", ("Канады",), summary="о военном сотрудничестве"))
    assert "spanning" not in fired(wl, act("Распоряжение", ("о военном сотрудничестве", "Канады")))
    assert "spanning" in fired(wl, act("Распоряжение", ("о военном сотрудничестве Канады",)))


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        (
            "en",
            "The Government decides:\n1. Terminate the following agreements:\n"
            "(a) the Agreement between the Government of the Russian Federation and the Government of the French "
            "Republic on military cooperation, signed at Paris on 4 February 1994;\n"
            "(b) the Agreement between the Government of the Russian Federation and the Government of the Kingdom "
            "of Norway on military cooperation, signed at Oslo on 26 April 1996.\n"
            "2. The Ministry of Foreign Affairs shall notify the Government of Canada of the decision.",
        ),
        (
            "fr",
            "Le Gouvernement décide :\n1. Dénoncer les accords suivants :\n"
            "a) l'Accord entre le Gouvernement de la Fédération de Russie et le Gouvernement de la République "
            "française relatif à la coopération militaire, signé à Paris le 4 février 1994 ;\n"
            "b) l'Accord entre le Gouvernement de la Fédération de Russie et le Gouvernement du Royaume de "
            "Norvège relatif à la coopération militaire, signé à Oslo le 26 avril 1996.\n"
            "2. Le ministère des Affaires étrangères en informe le Gouvernement du Canada.",
        ),
        (
            "es",
            "1. Denunciar los siguientes acuerdos:\n"
            "1) Acuerdo entre el Gobierno de la Federación de Rusia y el Gobierno de la República Francesa sobre "
            "cooperación militar, firmado en París el 4 de febrero de 1994;\n"
            "2) Acuerdo entre el Gobierno de la Federación de Rusia y el Gobierno del Reino de Noruega sobre "
            "cooperación militar, firmado en Oslo el 26 de abril de 1996.\n"
            "2. El Ministerio de Asuntos Exteriores lo notificará al Gobierno de Canadá.",
        ),
        (
            "pt",
            "Artigo único. Suspender os seguintes acordos: o Acordo entre o Governo da Federação da Rússia e o "
            "Governo da República Francesa sobre cooperação militar, assinado em Paris em 4 de fevereiro de 1994; "
            "o Acordo entre o Governo da Federação da Rússia e o Governo do Reino da Noruega sobre cooperação "
            "militar, assinado em Oslo em 26 de abril de 1996.",
        ),
        (
            "ru",
            "Правительство Российской Федерации постановляет: приостановить действие следующих соглашений: "
            "Соглашения между Правительством Российской Федерации и Правительством Французской Республики о военном "
            "сотрудничестве, подписанного в Париже 4 февраля 1994 г.; Соглашения между Правительством Российской "
            "Федерации и Правительством Королевства Норвегия о военном сотрудничестве, подписанного в Осло 26 "
            "апреля 1996 г.\nМИДу России уведомить Правительство Канады.",
        ),
        (
            "ru",
            "1. Денонсировать Соглашение между Правительством Российской Федерации и Правительством Французской "
            "Республики о военном сотрудничестве, подписанное в Париже 4 февраля 1994 г., и Соглашение между "
            "Правительством Российской Федерации и Правительством Королевства Норвегия о военном сотрудничестве.\n"
            "2. МИДу России уведомить Правительство Канады.",
        ),
    ],
)
def test_operative_clauses_in_six_languages(wl: Watchlist, lang: str, body: str):
    item = make_item("gazette", title="Decree No. 12 / Décret n° 12", language=lang, body=body)
    m = fired(wl, item)["ended-anywhere"]
    ids = {a.id for a in m.agreements}
    assert ids == {"ru-france-1994", "ru-norway-1996"}, m.why()
    assert all(a.subject for a in m.agreements)
    assert CANADA not in ids  # named in point 2, which is no list entry


def test_noun_and_narrative_forms_are_not_orders(wl: Watchlist):
    entry = (
        "the Agreement between the Government of the Russian Federation and the Government of the French Republic "
        "on military cooperation, signed at Paris on 4 February 1994."
    )
    for opening in ("Termination of", "Russia terminated", "The parties may terminate"):
        item = make_item("gazette", title="Decree No. 12", language="en", body=f"{opening} {entry}")
        assert "ended-anywhere" not in fired(wl, item), opening
    item = make_item("gazette", title="Decree No. 12", language="en", body=f"Terminate {entry}")
    assert "ended-anywhere" in fired(wl, item)


def test_context_agreements_ride_along_but_fire_nothing(wl: Watchlist):
    context = (
        "Справочно: ранее прекращено Соглашение между Правительством Российской Федерации и Правительством "
        "Королевства Норвегия о военном сотрудничестве."
    )
    item = act(docgen.CANADA_1989_TITLE, (*docgen.CANADA_1989_ACT, context))
    m = fired(wl, item)["ended"]
    by_id = {a.id: a for a in m.agreements}
    assert by_id[CANADA].subject and not by_id["ru-norway-1996"].subject
    assert any(r.startswith("body p. 3, line 1: ") for r in by_id["ru-norway-1996"].reasons)
    # the same mention alone, with no operative clause, gives no agreement to fire on
    alone = act("О прекращении действия международного договора", (context,))
    assert "ended" not in fired(wl, alone)


def test_body_is_capped_and_outside_the_content_hash():
    plain = make_item("s", title="t")
    item = make_item("s", title="t", body="x " * 200_000)
    assert len(item.body) <= 200_000 and item.body.endswith("…")
    assert item.content_hash == plain.content_hash
    assert plain.with_(body="a\r\nb\x0cc  d").body == "a\nb\fc d"


def test_fields_option_is_checked(tmp_path: Path):
    d = tmp_path / "config"
    d.mkdir()
    for name in ("terms.yaml", "entities.yaml"):
        shutil.copy(EXAMPLE_CONFIG / name, d / name)
    (d / "watches.yaml").write_text("watches:\n  - id: w\n    query: x\n    fields: [title, pages]\n", "utf-8")
    with pytest.raises(ConfigError) as exc:
        compile_config(d, {})
    assert "watches.yaml:4: watches[0].fields[1]: Input should be 'title', 'summary' or 'body'" in str(exc.value)


def test_match_command_reads_a_body_and_the_api_gives_the_page_link(wl: Watchlist, tmp_path: Path):
    body = tmp_path / "act.txt"
    body.write_text("\f".join(docgen.CANADA_1989_ACT), "utf-8")
    run = tw("match", "--source", "pravo-government", "--body", str(body), docgen.CANADA_1989_TITLE)
    assert run.returncode == 0, run.stderr
    assert "«Прекратить» in body p. 1, l. 11" in run.stdout
    assert "agreement ru-ca-1989-military-visits" in run.stdout and "body p. 1, line 11: " in run.stdout
    bare = act("Распоряжение Правительства Российской Федерации от 03.12.2026 № 3421-р", docgen.CANADA_1989_ACT)
    m = fired(wl, bare)["ended-anywhere"]
    assert match_json(m, bare.title)["snippet"]["link"] == DOC_URL + "#page=1"


def test_ten_state_act_as_its_pdf_lays_it_out(wl: Watchlist):
    """The text a PDF's reader gives: paragraphs wrapped into the page's lines, the page numbers as lines; an
    entry runs over two or three lines and its reason points at the line it starts on."""
    pages = docgen.page_texts(docgen.TEN_STATE_ACT)
    m = fired(wl, act(docgen.TEN_STATE_TITLE, tuple(pages)))["ended"]
    assert {a.id for a in m.agreements} == set(TEN)
    starts = []
    for a in m.agreements:
        where = next(r for r in a.reasons if r.startswith("body p. ")).split(": ", 1)[0]
        page, line = (int(x.split()[-1]) for x in where.removeprefix("body ").split(", "))
        starts.append(pages[page - 1].split("\n")[line - 1])
    assert all(s.split(")")[0].isdigit() and " Соглашение между" in s for s in starts), starts


@pytest.mark.parametrize("enumerator", ["т.", "Ls", "iJ", ":Р", "a Be", "1:"])
def test_ten_state_act_as_ocr_misreads_its_point(wl: Watchlist, enumerator: str):
    """What Tesseract made of the scanned act in a third of runs of tests/docgen.py's scan: the point's "1." read
    as one or two groups of marks, and a speck after the list's colon read as a letter ("соглашений: р"). The point
    still opens a clause, and the speck is no entry that would end the list before it starts."""
    pages = docgen.page_texts(docgen.TEN_STATE_ACT)
    point = "1. Прекратить действие следующих соглашений:"
    assert point in pages[0]
    pages[0] = pages[0].replace(point, f"{enumerator} Прекратить действие следующих соглашений: р")
    m = fired(wl, act(docgen.TEN_STATE_TITLE, tuple(pages)))["ended"]
    assert {a.id for a in m.agreements if a.subject} == set(TEN), m.why()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("8) Соглашение", "В) Соглашение"),  # an entry's number misread after an entry that ends with ";"
        ("подписанное в Копенгагене", "- подписанное в Копенгагене"),  # a mark before an entry's continued line
        ("9) Соглашение", "Соглашение"),  # an entry's number lost
    ],
)
def test_ten_state_act_as_ocr_misreads_an_entry(wl: Watchlist, before: str, after: str):
    """OCR's damage inside the list (the second from Tesseract on tests/docgen.py's scan): the entries after it are
    still the clause's. ";" ends an entry that another follows; an entry not yet ended goes on over a marked line."""
    pages = docgen.page_texts(docgen.TEN_STATE_ACT)
    text = "\f".join(pages)
    assert text.count(before) == 1
    m = fired(wl, act(docgen.TEN_STATE_TITLE, tuple(text.replace(before, after).split("\f"))))["ended"]
    assert {a.id for a in m.agreements if a.subject} == set(TEN), m.why()


def test_the_list_still_ends_at_the_next_point(wl: Watchlist):
    """Point 2 ("2. МИДу России уведомить …") follows the last entry, which ends with "."; it is no entry, whatever
    its enumerator: the clause's agreements are the list's, and the body names no more."""
    pages = docgen.page_texts(docgen.TEN_STATE_ACT)
    text = "\f".join(pages).replace("2. МИДу России", "- МИДу России")
    m = fired(wl, act(docgen.TEN_STATE_TITLE, tuple(text.split("\f"))))["ended"]
    entries = [r for a in m.agreements for r in a.reasons if r.startswith("body p. ")]
    assert len(entries) == len(TEN) and not any("МИДу" in r for r in entries)


def test_marks_before_a_lowercase_verb_open_no_clause(wl: Watchlist):
    """A damaged enumerator is marks before a capitalised word: a line that opens with a short word and goes on in
    lower case ("и прекратить действие …", a sentence wrapped onto the line) is no point."""
    entry = (
        "Соглашения между Правительством Российской Федерации и Правительством Французской Республики о военном "
        "сотрудничестве, подписанного в Париже 4 февраля 1994 года."
    )
    for line in ("и прекратить действие", "не прекратить действие"):
        body = f"Стороны вправе продолжить сотрудничество\n{line} {entry}"
        assert "ended-anywhere" not in fired(wl, make_item("gazette", title="Акт", language="ru", body=body)), line


@pytest.mark.parametrize(
    "body",
    [
        "1. Прекратить действие следующих соглашений:\n" * 5000,  # a clause on every line, none with entries
        "Прекратить. " * 16000,  # one line of verbs
        "Прекратить: " * 16000,
        "1. Прекратить действие следующих соглашений:\n"
        + "".join(f"{i}) Соглашение между Россией и Францией о военном сотрудничестве;\n" for i in range(1, 4000)),
    ],
)
def test_hostile_bodies_are_read_within_bounds(wl: Watchlist, body: str, monkeypatch: pytest.MonkeyPatch):
    """A body at the cap built to make the operative part's reading quadratic (it took 12 to 18 s) is read in
    bounded work, counted, not timed: the body is split into lines once, and at most MAX_VERBS verbs are looked at
    as clauses' openings (each looking back a few dozen characters) whatever the body holds."""
    calls: Counter[str] = Counter()
    for name in ("_lines", "clause_initial", "_entries"):
        real = getattr(operative, name)
        monkeypatch.setattr(operative, name, lambda *a, _real=real, _name=name: calls.update([_name]) or _real(*a))
    item = make_item("pravo", title="О прекращении действия соглашения", language="ru", body=body)
    assert len(item.body) > 190_000
    got = fired(wl, item)
    assert calls["_lines"] <= 1 and calls["clause_initial"] <= operative.MAX_VERBS, calls
    listed = {a.id for m in got.values() for a in m.agreements}
    assert listed <= {"ru-france-1994"}
    assert ("ru-france-1994" in listed) == body.startswith("1. Прекратить действие следующих соглашений:\n1)")
