"""One feed in six languages is matched as well as six feeds of one language each (issue 19).

Eight events, each written in the six languages the analyzer reads, labeled by the rules of tests/devset/README.md
(W1, here `agreement-terminated`: a tracked agreement ended or suspended by either side, through a decree, a
note or a decision; W2, here `frozen-assets`: frozen or immobilised Russian state assets; neither: an untracked
state's treaty, frozen fish, the signing of a new treaty). They are served by a loopback HTTP server as RSS with no
<language> of their own: six feeds each declared in the language it carries, and six feeds carrying all 48 items,
each declared in one of the six languages. Read through the runner and the store, every item of every mixed feed
fires the watches and names the agreements it does in its own language's feed, is stored in its text's language,
and the labels hold. The mixed feeds hold more than BATCH texts, so the language model reads them together; the
one-language feeds hold fewer, read one by one.
"""

from __future__ import annotations

import html
from email.utils import format_datetime

from conftest import Clock, FixtureServer
from treatywatch.items import Item
from treatywatch.localserve import Route
from treatywatch.matching.language import BATCH, DECLARED_LANGUAGE, IDENTIFIED, LANGUAGE_ORIGIN, SOURCE

LANGS = ("en", "fr", "de", "pt", "es", "ru")
TERMINATED, FROZEN = "agreement-terminated", "frozen-assets"

# event → the watches its label fires, each with the agreements it names; then the event in each language
EXPECT: dict[str, dict[str, frozenset[str]]] = {
    "poland-denounced": {TERMINATED: frozenset({"ru-pl-military-cooperation"})},
    "uk-suspends": {TERMINATED: frozenset({"ru-gb-military-cooperation"})},
    "romania-note": {TERMINATED: frozenset({"ru-ro-military-cooperation"})},
    "windfall-profits": {FROZEN: frozenset()},
    "bank-of-russia-sues": {FROZEN: frozenset()},
    "lithuania-air-services": {},
    "frozen-fish": {},
    "belarus-treaty-signed": {},
}
EVENTS: dict[str, dict[str, tuple[str, str]]] = {
    "poland-denounced": {
        "en": (
            "Russia denounces its military cooperation agreement with Poland",
            "President Vladimir Putin signed the decree on Thursday; the Polish embassy in Moscow was informed by "
            "a diplomatic note.",
        ),
        "fr": (
            "La Russie dénonce son accord de coopération militaire avec la Pologne",
            "Le président Vladimir Poutine a signé le décret jeudi ; l'ambassade de Pologne à Moscou a été informée "
            "par une note diplomatique.",
        ),
        "de": (
            "Russland kündigt das Abkommen über militärische Zusammenarbeit mit Polen",
            "Präsident Wladimir Putin unterzeichnete das Dekret am Donnerstag; die polnische Botschaft in Moskau "
            "wurde per diplomatischer Note unterrichtet.",
        ),
        "pt": (
            "Rússia denuncia o acordo de cooperação militar com a Polónia",
            "O presidente Vladimir Putin assinou o decreto na quinta-feira; a embaixada polaca em Moscovo foi "
            "informada por nota diplomática.",
        ),
        "es": (
            "Rusia denuncia su acuerdo de cooperación militar con Polonia",
            "El presidente Vladímir Putin firmó el decreto el jueves; la embajada polaca en Moscú fue informada "
            "mediante una nota diplomática.",
        ),
        "ru": (
            "Россия денонсировала соглашение о военном сотрудничестве с Польшей",
            "Президент Владимир Путин подписал указ в четверг; посольство Польши в Москве уведомлено "
            "дипломатической нотой.",
        ),
    },
    "uk-suspends": {
        "en": (
            "Britain suspends its defence cooperation agreement with Russia",
            "The Foreign Office said the suspension takes effect immediately and covers all military contacts "
            "with Moscow.",
        ),
        "fr": (
            "Le Royaume-Uni suspend son accord de coopération en matière de défense avec la Russie",
            "Le Foreign Office a indiqué que la suspension prend effet immédiatement et concerne tous les contacts "
            "militaires avec Moscou.",
        ),
        "de": (
            "Großbritannien setzt das Verteidigungsabkommen mit Russland aus",
            "Das Außenministerium in London erklärte, die Aussetzung gelte ab sofort für alle militärischen "
            "Kontakte mit Moskau.",
        ),
        "pt": (
            "Reino Unido suspende o acordo de cooperação em defesa com a Rússia",
            "O Foreign Office afirmou que a suspensão produz efeitos de imediato e abrange todos os contactos "
            "militares com Moscovo.",
        ),
        "es": (
            "El Reino Unido suspende su acuerdo de cooperación en defensa con Rusia",
            "El Foreign Office señaló que la suspensión entra en vigor de inmediato y abarca todos los contactos "
            "militares con Moscú.",
        ),
        "ru": (
            "Великобритания приостановила соглашение о сотрудничестве в области обороны с Россией",
            "Британский МИД сообщил, что приостановление вступает в силу немедленно и касается всех военных "
            "контактов с Москвой.",
        ),
    },
    "romania-note": {
        "en": (
            "Romania formally ends its military cooperation accord with Russia",
            "Bucharest handed the Russian ambassador a note terminating the agreement, the foreign ministry said "
            "on Monday.",
        ),
        "fr": (
            "La Roumanie met fin à son accord de coopération militaire avec la Russie",
            "Bucarest a remis à l'ambassadeur russe une note dénonçant l'accord, a indiqué lundi le ministère des "
            "Affaires étrangères.",
        ),
        "de": (
            "Rumänien beendet das Militärabkommen mit Russland",
            "Bukarest übergab dem russischen Botschafter eine Note zur Kündigung des Abkommens, teilte das "
            "Außenministerium am Montag mit.",
        ),
        "pt": (
            "Roménia põe fim ao acordo de cooperação militar com a Rússia",
            "Bucareste entregou ao embaixador russo uma nota que denuncia o acordo, informou na segunda-feira o "
            "Ministério dos Negócios Estrangeiros.",
        ),
        "es": (
            "Rumanía pone fin a su acuerdo de cooperación militar con Rusia",
            "Bucarest entregó al embajador ruso una nota que denuncia el acuerdo, informó el lunes el Ministerio "
            "de Asuntos Exteriores.",
        ),
        "ru": (
            "Румыния прекратила действие соглашения о военном сотрудничестве с Россией",
            "Бухарест вручил российскому послу ноту о денонсации соглашения, сообщил в понедельник МИД страны.",
        ),
    },
    "windfall-profits": {
        "en": (
            "EU sends Ukraine another €1.5bn in profits from frozen Russian central bank assets",
            "The windfall profits come from Bank of Russia reserves held at Euroclear in Brussels.",
        ),
        "fr": (
            "L'UE verse à l'Ukraine 1,5 milliard d'euros de plus tirés des avoirs gelés de la Banque centrale russe",
            "Ces bénéfices exceptionnels proviennent de réserves de la Banque de Russie détenues par Euroclear à "
            "Bruxelles.",
        ),
        "de": (
            "EU überweist der Ukraine weitere 1,5 Milliarden Euro aus eingefrorenem Vermögen der russischen "
            "Zentralbank",
            "Die Zufallsgewinne stammen aus Reserven der Bank von Russland, die bei Euroclear in Brüssel liegen.",
        ),
        "pt": (
            "UE transfere para a Ucrânia mais 1,5 mil milhões de euros dos ativos congelados do banco central russo",
            "Os lucros extraordinários provêm de reservas do Banco da Rússia depositadas na Euroclear, em Bruxelas.",
        ),
        "es": (
            "La UE transfiere a Ucrania otros 1.500 millones de euros de los activos congelados del banco central ruso",
            "Los beneficios extraordinarios proceden de reservas del Banco de Rusia depositadas en Euroclear, en "
            "Bruselas.",
        ),
        "ru": (
            "ЕС перечислил Украине ещё 1,5 млрд евро доходов от замороженных активов Центрального банка России",
            "Сверхприбыль получена от резервов Банка России, находящихся в Euroclear в Брюсселе.",
        ),
    },
    "bank-of-russia-sues": {
        "en": (
            "Bank of Russia sues Euroclear in Moscow over its frozen reserves",
            "The central bank seeks damages for the immobilised assets, arguing that the depository blocked their "
            "use unlawfully.",
        ),
        "fr": (
            "La Banque de Russie poursuit Euroclear devant un tribunal de Moscou pour ses réserves gelées",
            "La banque centrale réclame des dommages et intérêts pour ses avoirs immobilisés, dont le dépositaire "
            "aurait bloqué l'usage illégalement.",
        ),
        "de": (
            "Russische Zentralbank verklagt Euroclear in Moskau wegen eingefrorener Reserven",
            "Die Notenbank verlangt Schadenersatz für ihr eingefrorenes Vermögen, das der Verwahrer rechtswidrig "
            "blockiert habe.",
        ),
        "pt": (
            "Banco da Rússia processa a Euroclear em Moscovo por causa das reservas congeladas",
            "O banco central pede uma indemnização pelos ativos imobilizados e acusa o depositário de ter bloqueado "
            "ilegalmente o seu uso.",
        ),
        "es": (
            "El Banco de Rusia demanda a Euroclear en Moscú por sus reservas congeladas",
            "El banco central reclama una indemnización por los activos inmovilizados y acusa al depositario de "
            "bloquear su uso de forma ilegal.",
        ),
        "ru": (
            "Банк России подал иск к Euroclear в Арбитражный суд Москвы из-за замороженных резервов",
            "Центробанк требует возместить ущерб от обездвиживания активов, считая их блокировку незаконной.",
        ),
    },
    "lithuania-air-services": {
        "en": (
            "Lithuania terminates its air services agreement with Belarus",
            "Vilnius cited repeated violations of its airspace by smuggling balloons.",
        ),
        "fr": (
            "La Lituanie dénonce son accord sur les services aériens avec la Biélorussie",
            "Vilnius invoque des violations répétées de son espace aérien par des ballons de contrebande.",
        ),
        "de": (
            "Litauen kündigt das Luftverkehrsabkommen mit Belarus",
            "Vilnius begründet den Schritt mit wiederholten Verletzungen seines Luftraums durch Schmuggelballons.",
        ),
        "pt": (
            "Lituânia denuncia o acordo de serviços aéreos com a Bielorrússia",
            "Vílnius invoca violações repetidas do seu espaço aéreo por balões de contrabando.",
        ),
        "es": (
            "Lituania denuncia su acuerdo de servicios aéreos con Bielorrusia",
            "Vilna alega violaciones reiteradas de su espacio aéreo por globos de contrabando.",
        ),
        "ru": (
            "Литва денонсировала соглашение о воздушном сообщении с Белоруссией",
            "Вильнюс ссылается на неоднократные нарушения своего воздушного пространства шарами контрабандистов.",
        ),
    },
    "frozen-fish": {
        "en": (
            "Russian exports of frozen fish to China rise by a fifth",
            "Pollock and cod led the growth, the fisheries agency in Moscow said.",
        ),
        "fr": (
            "Les exportations russes de poisson surgelé vers la Chine progressent d'un cinquième",
            "Le lieu d'Alaska et le cabillaud ont porté la hausse, selon l'agence des pêches à Moscou.",
        ),
        "de": (
            "Russlands Exporte von Tiefkühlfisch nach China steigen um ein Fünftel",
            "Seelachs und Kabeljau trugen das Wachstum, teilte die Fischereibehörde in Moskau mit.",
        ),
        "pt": (
            "Exportações russas de peixe congelado para a China sobem um quinto",
            "O escamudo e o bacalhau lideraram o crescimento, segundo a agência de pescas em Moscovo.",
        ),
        "es": (
            "Las exportaciones rusas de pescado congelado a China suben una quinta parte",
            "El abadejo y el bacalao lideraron el crecimiento, según la agencia de pesca en Moscú.",
        ),
        "ru": (
            "Экспорт российской замороженной рыбы в Китай вырос на пятую часть",
            "Рост обеспечили минтай и треска, сообщило Росрыболовство.",
        ),
    },
    "belarus-treaty-signed": {
        "en": (
            "Russia and Belarus sign a new treaty on security guarantees",
            "The document was signed in Minsk and will be submitted to both parliaments for ratification.",
        ),
        "fr": (
            "La Russie et la Biélorussie signent un nouveau traité sur les garanties de sécurité",
            "Le document a été signé à Minsk et sera soumis aux deux parlements pour ratification.",
        ),
        "de": (
            "Russland und Belarus unterzeichnen einen neuen Vertrag über Sicherheitsgarantien",
            "Das Dokument wurde in Minsk unterzeichnet und wird beiden Parlamenten zur Ratifizierung vorgelegt.",
        ),
        "pt": (
            "Rússia e Bielorrússia assinam um novo tratado sobre garantias de segurança",
            "O documento foi assinado em Minsk e será submetido aos dois parlamentos para ratificação.",
        ),
        "es": (
            "Rusia y Bielorrusia firman un nuevo tratado sobre garantías de seguridad",
            "El documento se firmó en Minsk y será sometido a ambos parlamentos para su ratificación.",
        ),
        "ru": (
            "Россия и Белоруссия подписали новый договор о гарантиях безопасности",
            "Документ подписан в Минске и будет направлен в парламенты обеих стран для ратификации.",
        ),
    },
}


def _rss(base: str, feed: str, langs: tuple[str, ...], clock: Clock) -> bytes:
    """The events in `langs` as one RSS document, with no <language>: the source's `language:` is all it says.
    Each item's link names the feed, the event and the language of its text."""
    when = format_datetime(clock())
    body = "".join(
        f"<item><title>{html.escape(EVENTS[event][lang][0])}</title><link>{base}/{feed}/{event}/{lang}</link>"
        f"<guid>{base}/{feed}/{event}/{lang}</guid><pubDate>{when}</pubDate>"
        f"<description>{html.escape(EVENTS[event][lang][1])}</description></item>"
        for event in EVENTS
        for lang in langs
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{feed}</title>'
        f"<link>{base}/</link><description>test</description>{body}</channel></rss>"
    ).encode()


def _serving(body: bytes) -> Route:
    return lambda _handler: (200, {"Content-Type": "application/rss+xml"}, body)


def test_one_feed_in_six_languages_is_matched_as_six_feeds_of_one(app_with, http: FixtureServer, clock: Clock):
    # source id → (declared language, languages held)
    feeds: dict[str, tuple[str, tuple[str, ...]]] = {f"one-{lang}": (lang, (lang,)) for lang in LANGS}
    feeds |= {f"mixed-{declared}": (declared, LANGS) for declared in LANGS}
    sources = ""
    for sid, (declared, langs) in feeds.items():
        body = _rss(http.base, sid, langs, clock)
        http.routes[f"/{sid}.xml"] = _serving(body)
        sources += f"  - {{id: {sid}, type: feed, url: '{http.base}/{sid}.xml', language: {declared}}}\n"
    app = app_with(sources)
    stored: dict[str, Item] = {}
    for sid in feeds:
        result = app.runner.poll(sid)
        assert result.error is None, (sid, result.error)
        assert result.new == len(EVENTS) * len(feeds[sid][1])
        known = app.store.known_items(sid, [i.key for i in result.items])
        stored |= {(item := app.store.get_item(k.id).item).link: item for k in known.values()}
    assert len(EVENTS) * len(LANGS) > BATCH  # a mixed feed's texts are read together, a one-language feed's not
    fired = app.store.matches_by_link()

    def got(feed: str, event: str, lang: str) -> dict[str, frozenset[str]]:
        return fired.get(f"{http.base}/{feed}/{event}/{lang}", {})

    for declared in LANGS:
        for event in EVENTS:
            for lang in LANGS:
                in_mixed, alone = got(f"mixed-{declared}", event, lang), got(f"one-{lang}", event, lang)
                assert in_mixed == alone, (f"declared {declared}", event, lang, in_mixed, alone)
                item = stored[f"{http.base}/mixed-{declared}/{event}/{lang}"]
                assert item.language == lang, (f"declared {declared}", event, lang, item.language)
                assert item.extra[LANGUAGE_ORIGIN] == (SOURCE if lang == declared else IDENTIFIED)
                assert item.extra[DECLARED_LANGUAGE] == declared
    # not an empty comparison: the labels hold on the one-language feeds (and so on every mixed one)
    wrong = [
        (e, lang, got(f"one-{lang}", e, lang))
        for e in EVENTS
        for lang in LANGS
        if got(f"one-{lang}", e, lang) != EXPECT[e]
    ]
    assert not wrong, wrong
