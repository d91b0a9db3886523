"""An act's operative clause in the passive and impersonal voices (issue 18): "The following agreements are hereby
terminated:", "Das Abkommen … wird gekündigt.", "Il est mis fin aux accords suivants :", "Se denuncian los
siguientes convenios:", "Fica denunciado o Acordo …", "Считать прекратившим действие Соглашение …". The agreements
such a clause names are the act's subjects, as for an order ("Terminate …", "Прекратить …"); a narrative of what was
done ("was terminated", "terminated in 2022", "может быть прекращено") names none. Pure matching, as in
tests/test_body_matching.py."""

from __future__ import annotations

from collections import Counter

import pytest

import docgen
from conftest import example_watchlist
from treatywatch.items import Item, make_item
from treatywatch.matching import Watchlist, operative

FRANCE, NORWAY, CANADA = "ru-france-1994", "ru-norway-1996", "ru-canada-1989"
AGREEMENTS = [
    {
        "id": FRANCE,
        "title": "Russia–France agreement on military cooperation",
        "parties": ["russia", "france"],
        "signed": 1994,
    },
    {
        "id": NORWAY,
        "title": "Russia–Norway agreement on military cooperation",
        "parties": ["russia", "norway"],
        "signed": 1996,
    },
    {
        "id": CANADA,
        "title": "Russia–Canada agreement on military cooperation",
        "parties": ["russia", "canada"],
        "signed": 1989,
    },
    {
        "id": "ru-germany-1996",
        "title": "Russia–Germany agreement on military cooperation",
        "parties": ["russia", "germany"],
        "signed": 1996,
    },
    {
        "id": "ru-in-logistics",
        "title": "Russia–India agreement on reciprocal logistics support",
        "parties": ["russia", "india"],
    },
]
WATCHES = [
    {"id": "ended", "query": "@agreement AND @termination", "agreements": "all"},
    {
        "id": "ended-anywhere",
        "query": "@agreement AND @termination",
        "agreements": "all",
        "fields": ["title", "summary", "body"],
    },
]
TITLE = "Decree No. 12 / Décret n° 12"


@pytest.fixture(scope="module")
def wl(tmp_path_factory: pytest.TempPathFactory) -> Watchlist:
    return example_watchlist(tmp_path_factory.mktemp("config"), WATCHES, AGREEMENTS)


def subjects(wl: Watchlist, lang: str, body: str, watch: str = "ended-anywhere", title: str = TITLE) -> set[str]:
    """The agreements a watch reads as the act's subjects (none when it does not fire)."""
    item: Item = make_item("gazette", title=title, language=lang, body=body)
    m = {m.watch_id: m for m in wl.match(item)}.get(watch)
    return {a.id for a in m.agreements if a.subject} if m else set()


# each language's names of the two agreements, as an act writes them
NAMES = {
    "en": (
        "the Agreement between the Government of the Russian Federation and the Government of the French Republic "
        "on military cooperation, signed at Paris on 4 February 1994",
        "the Agreement between the Government of the Russian Federation and the Government of the Kingdom of "
        "Norway on military cooperation, signed at Oslo on 26 April 1996",
    ),
    "de": (
        "das Abkommen zwischen der Regierung der Russischen Föderation und der Regierung der Französischen Republik "
        "über militärische Zusammenarbeit, unterzeichnet in Paris am 4. Februar 1994",
        "das Abkommen zwischen der Regierung der Russischen Föderation und der Regierung des Königreichs Norwegen "
        "über militärische Zusammenarbeit, unterzeichnet in Oslo am 26. April 1996",
    ),
    "fr": (
        "l'Accord entre le Gouvernement de la Fédération de Russie et le Gouvernement de la République française "
        "relatif à la coopération militaire, signé à Paris le 4 février 1994",
        "l'Accord entre le Gouvernement de la Fédération de Russie et le Gouvernement du Royaume de Norvège "
        "relatif à la coopération militaire, signé à Oslo le 26 avril 1996",
    ),
    "es": (
        "el Convenio entre el Gobierno de la Federación de Rusia y el Gobierno de la República Francesa sobre "
        "cooperación militar, firmado en París el 4 de febrero de 1994",
        "el Convenio entre el Gobierno de la Federación de Rusia y el Gobierno del Reino de Noruega sobre "
        "cooperación militar, firmado en Oslo el 26 de abril de 1996",
    ),
    "pt": (
        "o Acordo entre o Governo da Federação da Rússia e o Governo da República Francesa sobre cooperação "
        "militar, assinado em Paris em 4 de fevereiro de 1994",
        "o Acordo entre o Governo da Federação da Rússia e o Governo do Reino da Noruega sobre cooperação "
        "militar, assinado em Oslo em 26 de abril de 1996",
    ),
    "ru": (
        "Соглашение между Правительством Российской Федерации и Правительством Французской Республики о военном "
        "сотрудничестве, подписанное в Париже 4 февраля 1994 г.",
        "Соглашение между Правительством Российской Федерации и Правительством Королевства Норвегия о военном "
        "сотрудничестве, подписанное в Осло 26 апреля 1996 г.",
    ),
}
# a later point naming Canada: no entry of the clause
NOTIFY = {
    "en": "2. The Ministry of Foreign Affairs shall notify the Government of Canada of the decision.",
    "de": "2. Das Auswärtige Amt unterrichtet die Regierung von Kanada.",
    "fr": "2. Le ministère des Affaires étrangères en informe le Gouvernement du Canada.",
    "es": "2. El Ministerio de Asuntos Exteriores lo notificará al Gobierno de Canadá.",
    "pt": "2. O Ministério dos Negócios Estrangeiros notificará o Governo do Canadá.",
    "ru": "2. МИДу России уведомить Правительство Канады.",
}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def listed(lang: str, opening: str) -> str:
    """A point that opens a list of both agreements, then the point naming Canada."""
    a, b = (n.rstrip(".") for n in NAMES[lang])
    return f"1. {opening}\n1) {a};\n2) {b}.\n{NOTIFY[lang]}"


def genitive(body: str) -> str:
    """The Russian agreement's name in the genitive, where "действие …" asks for it."""
    return body.replace("Соглашение между", "Соглашения между").replace("подписанное", "подписанного")


def single(lang: str, sentence: str) -> str:
    """A point naming France's agreement in one sentence ({} is its name), then the point naming Canada; the
    Russian name in the genitive after "действие/действия"."""
    name = NAMES[lang][0].rstrip(".")
    body = f"1. {sentence.format(name=name, Name=cap(name))}\n{NOTIFY[lang]}"
    return genitive(body) if lang == "ru" and "действи" in sentence else body


@pytest.mark.parametrize(
    ("lang", "opening"),
    [
        ("en", "The following agreements are hereby terminated:"),
        ("en", "The following agreements are terminated:"),
        ("de", "Folgende Abkommen werden gekündigt:"),
        ("de", "Die folgenden Abkommen werden hiermit aufgehoben:"),
        ("fr", "Il est mis fin aux accords suivants :"),
        ("fr", "Sont dénoncés les accords suivants :"),
        ("es", "Se denuncian los siguientes convenios:"),
        ("es", "Quedan denunciados los siguientes convenios:"),
        ("pt", "Ficam denunciados os seguintes acordos:"),
        ("pt", "Denunciam-se os seguintes acordos:"),
        ("ru", "Считать прекратившими действие следующие соглашения:"),
        ("ru", "Прекращается действие следующих соглашений:"),
        ("ru", "Признать утратившими силу следующие соглашения:"),
    ],
)
def test_passive_and_impersonal_clauses_list_their_agreements(wl: Watchlist, lang: str, opening: str):
    assert subjects(wl, lang, listed(lang, opening)) == {FRANCE, NORWAY}


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("en", "{Name} is terminated."),
        ("en", "{Name} is hereby terminated."),
        ("de", "{Name} wird gekündigt."),
        ("de", "Mit Wirkung vom 1. Januar 2027 wird {name} gekündigt."),
        ("fr", "{Name} est dénoncé."),
        ("fr", "Il est mis fin à {name}."),
        ("es", "Queda denunciado {name}."),
        ("es", "{Name} queda denunciado."),
        ("pt", "Fica denunciado {name}."),
        ("pt", "{Name} fica denunciado."),
        ("ru", "Считать прекратившим действие {name}"),
        ("ru", "Прекращается действие {name}"),
    ],
)
def test_a_passive_clause_names_one_agreement(wl: Watchlist, lang: str, sentence: str):
    assert subjects(wl, lang, single(lang, sentence)) == {FRANCE}


def test_the_entry_of_a_clause_that_opens_with_its_phrase_starts_at_the_name(wl: Watchlist):
    """The entry of "Il est mis fin à l'Accord entre …", and its reason, start at the agreement's name (a
    lower-case accented word such as "à" is no capital)."""
    item = make_item("gazette", title=TITLE, language="fr", body=single("fr", "Il est mis fin à {name}."))
    m = {m.watch_id: m for m in wl.match(item)}["ended-anywhere"]
    assert any(r.startswith("body p. 1, line 1: Accord entre le Gouvernement") for r in m.agreements[0].reasons)


def test_a_suspension_in_the_passive(wl: Watchlist):
    body = single("en", "{Name} is hereby suspended.")
    assert subjects(wl, "en", body) == {FRANCE}  # the example's @termination takes the suspension vocabulary
    assert subjects(wl, "ru", single("ru", "Приостанавливается действие {name}")) == {FRANCE}


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        # a past narrative, an active voice that tells what a party did, a treaty's own clause on how it may end
        ("en", "Russia terminated {name} in 2022."),
        ("en", "{Name} was terminated by Russia last year."),
        ("en", "{Name} has been terminated."),
        ("en", "{Name} may be terminated by either Party."),
        ("en", "The parties may terminate {name}."),
        ("de", "Russland hat {name} gekündigt."),
        ("de", "{Name} wurde 2022 gekündigt."),
        ("de", "{Name} ist 2022 gekündigt worden."),
        ("de", "{Name} kann von jeder Vertragspartei gekündigt werden."),
        ("de", "Russland kündigt {name}."),
        ("fr", "La Russie a dénoncé {name} en 2022."),
        ("fr", "{Name} a été dénoncé par la Russie l'an dernier."),
        ("fr", "{Name} peut être dénoncé par chacune des Parties."),
        ("fr", "Il a été mis fin à {name} en 2022."),
        ("es", "Rusia denunció {name} en 2022."),
        ("es", "{Name} fue denunciado por Rusia el año pasado."),
        ("es", "{Name} podrá ser denunciado por cualquiera de las Partes."),
        ("es", "Se denunció {name} en 2022."),
        ("pt", "A Rússia denunciou {name} em 2022."),
        ("pt", "{Name} foi denunciado pela Rússia no ano passado."),
        ("pt", "{Name} poderá ser denunciado por qualquer das Partes."),
        ("pt", "Ficou denunciado {name} em 2022."),
        ("ru", "Россия прекратила действие {name} в 2022 году."),
        ("ru", "{Name} было денонсировано Россией в прошлом году."),
        ("ru", "Действие {name} может быть прекращено любой из Сторон."),
        ("ru", "Прекратилось действие {name} в 2022 году."),
        ("ru", "Прекращение действия {name} не затрагивает обязательств Сторон."),
    ],
)
def test_narrative_and_treaty_clauses_are_no_operative_part(wl: Watchlist, lang: str, sentence: str):
    assert subjects(wl, lang, single(lang, sentence)) == set()


def test_ratification_act_ends_nothing(wl: Watchlist):
    """A ratification act quoting the treaty's clause on how it may be ended: no voice of it is an order."""
    text = (
        *docgen.INDIA_RATIFICATION_ACT,
        "Статья 3\nДействие настоящего Соглашения прекращается по истечении шести месяцев с даты получения "
        "уведомления. Настоящее Соглашение может быть денонсировано любой из Сторон.",
    )
    item = make_item("pravo", title=docgen.INDIA_RATIFICATION_TITLE, language="ru", body="\f".join(text))
    assert not {"ended", "ended-anywhere"} & {m.watch_id for m in wl.match(item)}


@pytest.mark.parametrize(
    ("lang", "body"),
    [
        ("en", "1. The following agreements are hereby terminated:\n" * 4000),
        ("de", "Das Abkommen wird gekündigt. " * 7000),
        ("fr", "Il est mis fin aux accords suivants : " * 6000),
        ("es", "Se denuncian; " * 15000),
        ("ru", "Прекращается действие; " * 9000),
        ("en", "x " * 90_000 + "is terminated."),  # a subject with no clause start within reach
        (
            "de",
            "1. Folgende Abkommen werden gekündigt:\n"
            + "".join(f"{i}) das Abkommen zwischen Russland und Frankreich;\n" for i in range(1, 4000)),
        ),
    ],
)
def test_hostile_passive_bodies_are_read_within_bounds(
    wl: Watchlist, lang: str, body: str, monkeypatch: pytest.MonkeyPatch
):
    """As for orders (tests/test_body_matching.py): bounded work, counted, whatever a body at the cap holds. Every
    verb looked at costs one clause start test, and a phrase that closes its clause one look back of at most
    MAX_ENTRY_CHARS."""
    calls: Counter[str] = Counter()
    for name in ("_lines", "clause_initial", "_entries", "_subject_entries", "_clause_start"):
        real = getattr(operative, name)
        monkeypatch.setattr(operative, name, lambda *a, _real=real, _name=name: calls.update([_name]) or _real(*a))
    item = make_item("gazette", title="Decree", language=lang, body=body)
    assert len(item.body) > 170_000
    wl.reading(item).listed()  # the operative part alone (a match also reads talk: modality.py's own bounds)
    assert calls["_lines"] <= 1 and calls["clause_initial"] <= operative.MAX_VERBS, calls
    assert calls["_subject_entries"] + calls["_clause_start"] <= 2 * operative.MAX_VERBS, calls


def entry_reasons(wl: Watchlist, body: str) -> dict[str, tuple[str, ...]]:
    item = make_item("pravo", title="Распоряжение № 12", language="ru", body=body)
    m = {m.watch_id: m for m in wl.match(item)}.get("ended-anywhere")
    return {a.id: a.reasons for a in m.agreements} if m else {}


def test_a_listed_agreement_takes_only_the_years_its_entry_ties_to_it(wl: Watchlist):
    """An entry's years are read as a title's are (cues.yaml `signing`): the year the entry says the agreement was
    signed counts for it; a year of something else ("не применяемого с 1999 года") no longer counts against it."""
    signed = (
        "1. Прекратить действие Соглашения между Правительством Российской Федерации и Правительством Канады о "
        "военном сотрудничестве, подписанного в Оттаве 20 ноября 1989 года."
    )
    assert "year 1989 mentioned" in entry_reasons(wl, signed)[CANADA]
    untied = (
        "1. Прекратить действие Соглашения между Правительством Российской Федерации и Правительством Французской "
        "Республики о военном сотрудничестве, не применяемого с 1999 года."
    )
    reasons = entry_reasons(wl, untied).get(FRANCE, ())  # before: "mentions 1999, not 1994", below the threshold
    assert reasons and not any(r.startswith("mentions ") for r in reasons), reasons


OPENINGS = {
    "en": "Terminate the following agreements:",
    "de": "Folgende Abkommen werden gekündigt:",
    "fr": "Dénoncer les accords suivants :",
    "es": "Denunciar los siguientes convenios:",
    "pt": "Denunciar os seguintes acordos:",
    "ru": "Прекратить действие следующих соглашений:",
}


@pytest.mark.parametrize("lang", sorted(NAMES))
def test_an_entrys_signing_date_gives_the_agreements_year(wl: Watchlist, lang: str):
    """ "signed at Paris on 4 February 1994", "firmado en París el 4 de febrero de 1994": the full date after the
    verb of signing is the signing's, its reach counted from the date's first word."""
    body = listed(lang, OPENINGS[lang])
    item = make_item("gazette", title=TITLE, language=lang, body=body)
    m = {m.watch_id: m for m in wl.match(item)}["ended-anywhere"]
    reasons = {a.id: a.reasons for a in m.agreements}
    assert "year 1994 mentioned" in reasons[FRANCE] and "year 1996 mentioned" in reasons[NORWAY], reasons


@pytest.mark.parametrize(
    ("lang", "point"),
    [
        ("ru", "Статья 1\nДенонсировать {name}"),  # a denunciation law's whole shape
        ("ru", "Статья 1\nПрекращается действие {name}"),
        ("fr", "Article 1er\nIl est mis fin à {name}."),
        ("es", "Artículo 1\nQueda denunciado {name}."),
        ("pt", "Artigo 1.º\nFica denunciado {name}."),
        ("de", "Artikel 1\n{Name} wird gekündigt."),
    ],
)
def test_the_line_after_an_articles_heading_starts_a_clause(wl: Watchlist, lang: str, point: str):
    name = NAMES[lang][0].rstrip(".")
    if lang == "ru" and "действие" in point:
        name = genitive(name)
    body = f"{point.format(name=name, Name=cap(name))}\n{NOTIFY[lang]}"
    assert subjects(wl, lang, body) == {FRANCE}
    # a heading's line followed by a narrative, or a wrapped line of text, opens nothing
    narrative = body.split("\n", 1)[0] + "\nРоссия прекратила действие " + NAMES["ru"][0]
    assert subjects(wl, "ru", narrative) == set()
    wrapped = "Стороны вправе продолжить 2\nпрекратить действие " + NAMES["ru"][0]
    assert subjects(wl, "ru", wrapped.replace("Соглашение", "Соглашения")) == set()
