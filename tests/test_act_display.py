"""A portal act reaches the desk as the portal shows it: the alert email (HTML, and its text part, through the
real SMTP sink), chat messages (Markdown and text, through real webhooks), the console's alert page, the JSON API and
the Atom feed carry its official title, type, number, act date and publication date as calendar dates (17.01.2026,
never "2026-01-16 21:00 UTC"), its issuer and a link to its PDF.

The portal is served on loopback at /api/Documents with its real answer of 2026-01-17 (tests/data/pravo/), the
first act's name and complexName replaced by a termination the example watchlist tracks; its number, dates, type,
issuer and links are the real ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from conftest import Clock, WebhookSink, make_app, write_config
from test_web_browser import CHROMIUM, chromium
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.web.server import StatusServer

REAL = Path(__file__).parent / "data" / "pravo" / "api_documents_all_pagesize10_2026-01-17.json"
BG = (
    "О прекращении действия Соглашения между Правительством Российской Федерации и Правительством Республики "
    "Болгария о военном сотрудничестве"
)
EO = "0001202601170001"
LABEL = "Распоряжение № 28-р от 17.01.2026"
ISSUER = "Правительство Российской Федерации"


def serve_portal(portal: FixtureServer) -> None:
    """The portal's real answer of 2026-01-17 at /api/Documents, its first act renamed to a termination."""
    body = json.loads(REAL.read_text(encoding="utf-8"))
    first = body["items"][0]
    first["name"] = BG
    first["complexName"] = f'Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р\n "{BG}"'
    portal.routes["/api/Documents"] = lambda h: (
        200,
        {"Content-Type": "application/json; charset=utf-8"},
        json.dumps(body, ensure_ascii=False).encode(),
    )


def portal_config(config_dir: Path, portal: FixtureServer, subscribers: str) -> None:
    write_config(
        config_dir,
        f"""sources:
  - {{id: pravo-government, type: pravo, url: "{portal.base}", page_size: 10, max_pages: 1, implies: [russia]}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
subscribers:
{subscribers}""",
        "sources.yaml",
    )


def test_an_acts_number_dates_issuer_and_pdf_in_every_format(
    config_dir: Path, tmp_path: Path, smtp: SmtpSink, clock: Clock
):
    clock.now = datetime(2026, 1, 17, 9, 0, tzinfo=UTC)
    with FixtureServer() as portal, WebhookSink() as chat, WebhookSink() as plain_hook:
        serve_portal(portal)
        pdf = f"{portal.base}/file/pdf?eoNumber={EO}"
        portal_config(
            config_dir,
            portal,
            f"""  - id: desk
    notify: ["{smtp.url()}", "{chat.url}"]
  - id: plain
    notify: ["{plain_hook.url}"]
    format: text
""",
        )
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            r = app.runner.poll("pravo-government")
            assert r.error is None and r.alerts == 1
            assert app.outbox.run_once().sent == 3
            (mail,) = smtp.messages
            html = mail.get_body(preferencelist=("html",)).get_content()
            text = mail.get_body(preferencelist=("plain",)).get_content()
            markdown = chat.bodies[0]["message"]
            text_chat = plain_hook.bodies[0]["message"]

            server = StatusServer(app, "127.0.0.1", 0)
            server.start()
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as console:
                    (alert,) = console.get("/api/alerts").json()
                    page = console.get(f"/alerts/{alert['id']}").text
                    atom = console.get("/alerts.atom").text
            finally:
                server.stop()
        finally:
            app.close()

    # the email, HTML: the official title linked to the card, then the act's line with its PDF
    assert f'<a href="{portal.base}/document/{EO}"><bdi>Распоряжение Правительства Российской Федерации от ' in html
    assert f'<b><bdi>{LABEL}</bdi></b> &middot; <bdi>{ISSUER}</bdi> &middot; <a href="{pdf}">PDF</a>' in html
    assert "published 17.01.2026" in html
    # the email's text part and a text chat: the same line, the PDF's address on its own line
    # the email's text part (apprise writes it from the HTML): the act's line, the publication date
    assert f"\r\n{LABEL} · {ISSUER} · PDF\r\n" in text and "pravo-government · published 17.01.2026" in text
    # a chat in text: the same line, the PDF's address on its own line
    assert f"  {LABEL} · {ISSUER} · published 17.01.2026\n  PDF: {pdf}\n" in text_chat
    # the chat message in Markdown, escaped by its rule
    assert (
        "Распоряжение № 28\\-р от 17\\.01\\.2026 · Правительство Российской Федерации · "
        f"[PDF]({pdf}) · published 17\\.01\\.2026" in markdown
    )
    # the JSON API: typed fields, calendar dates without time or zone
    (report,) = alert["reports"]
    assert report["act"] == {
        "act_date": "2026-01-17",
        "number": "28-р",
        "doc_type": "Распоряжение",
        "issuer": ISSUER,
        "published_on": "2026-01-17",
        "document_url": pdf,
        "label": LABEL,
    }
    assert report["title"].startswith("Распоряжение Правительства Российской Федерации от 17.01.2026 № 28-р «О прек")
    # the console's alert page
    assert (
        f'<p class="act"><strong><bdi>{LABEL}</bdi></strong> · <bdi>{ISSUER}</bdi> · '
        f'<a href="{pdf}" rel="noopener noreferrer">PDF</a></p>' in page
    )
    assert "· published 17.01.2026" in page
    # the Atom feed's entry content (HTML escaped inside the XML)
    assert f'&lt;p&gt;{LABEL} · {ISSUER} · published 17.01.2026 · &lt;a href="{pdf}"&gt;PDF&lt;/a&gt;&lt;/p&gt;' in atom
    # nowhere the UTC evening before
    for shown in (html, text, markdown, text_chat, page, atom):
        assert "2026-01-16 21:00" not in shown and "16.01.2026" not in shown


def test_digests_and_the_consoles_lists_show_the_act_line(
    config_dir: Path, tmp_path: Path, smtp: SmtpSink, clock: Clock
):
    """A digest (email through the SMTP sink, Markdown and text chats) lists each act with its line and PDF; the
    console's alerts list, an alert's page, the items list and an item's page (in Chromium, where present) show
    the same line."""
    clock.now = datetime(2026, 1, 17, 6, 0, tzinfo=UTC)
    with FixtureServer() as portal, WebhookSink() as chat, WebhookSink() as plain_hook:
        serve_portal(portal)
        pdf = f"{portal.base}/file/pdf?eoNumber={EO}"
        digest = "    mode: digest\n    digest_at: ['08:00']\n    timezone: Europe/Moscow\n"
        portal_config(
            config_dir,
            portal,
            f"""  - id: desk
    notify: ["{smtp.url()}", "{chat.url}"]
{digest}  - id: plain
    notify: ["{plain_hook.url}"]
    format: text
{digest}""",
        )
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            assert app.runner.poll("pravo-government").alerts == 1
            assert app.outbox.run_once().sent == 0  # 09:00 Moscow: the digest of 08:00 is tomorrow's
            clock.advance(hours=23)
            assert app.outbox.run_once().sent == 3
            (mail,) = smtp.messages
            html = mail.get_body(preferencelist=("html",)).get_content()
            markdown = chat.bodies[0]["message"]
            text = plain_hook.bodies[0]["message"]
            server = StatusServer(app, "127.0.0.1", 0)
            server.start()
            try:
                base = f"http://127.0.0.1:{server.port}"
                with httpx.Client(base_url=base, timeout=10) as console:
                    (alert,) = console.get("/api/alerts").json()
                    item_id = alert["reports"][0]["item_id"]
                    pages = {p: console.get(p).text for p in ("/alerts", "/items", f"/items/{item_id}")}
                if CHROMIUM:
                    profile = tmp_path / "profile"
                    shown = ("/alerts", f"/alerts/{alert['id']}", "/items")
                    pages |= {f"chromium {p}": chromium(profile, "--dump-dom", base + p) for p in shown}
            finally:
                server.stop()
        finally:
            app.close()

    assert mail["subject"] == "TreatyWatch digest: 1 alert(s)"
    assert f'<b><bdi>{LABEL}</bdi></b> &middot; <bdi>{ISSUER}</bdi> &middot; <a href="{pdf}">PDF</a>' in html
    assert "pravo-government</bdi> &middot; published 17.01.2026</small>" in html
    assert (
        "    Распоряжение № 28\\-р от 17\\.01\\.2026 · Правительство Российской Федерации · "
        f"[PDF]({pdf}) · published 17\\.01\\.2026" in markdown
    )
    assert f"\n    {LABEL} · {ISSUER} · published 17.01.2026 · PDF: {pdf}" in text
    line = (
        f'<p class="act"><strong><bdi>{LABEL}</bdi></strong> · <bdi>{ISSUER}</bdi> · '
        f'<a href="{pdf}" rel="noopener noreferrer">PDF</a></p>'
    )
    for name, page in pages.items():
        assert line in page, name
        assert "2026-01-16 21:00" not in page, name  # the items list holds acts of 16.01.2026 too
    assert "· published 17.01.2026" in pages["/alerts"] and "· published 17.01.2026" in pages[f"/items/{item_id}"]
    for shown in (html, markdown, text):
        assert "2026-01-16 21:00" not in shown and "16.01.2026" not in shown
