"""The article behind a headline (`fetch_article: true`): a feed on loopback lists a story whose headline names no
agreement; its page is fetched once through the sources' fetcher, its main text extracted with trafilatura (not the
menu, the "read also" box or the footer), stored as a one-page document and matched as the item's body."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import Clock, make_app, write_config
from treatywatch.documents.flow import DocumentJob
from treatywatch.localserve import FixtureServer, SmtpSink

ARTICLE = """<!doctype html><html lang="en"><head><title>Russia ends a Soviet-era pact | Example News</title></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/sport">Sport</a></li>
</ul></nav>
<article><h1>Russia ends a Soviet-era agreement with Canada</h1>
<p>Moscow said on Thursday that it had terminated the 1989 agreement between the Soviet Union and Canada on
reciprocal military visits, one of the last defence accords between the two countries still in force.</p>
<p>The government's order, published on the official legal portal, says the foreign ministry will notify Ottawa.
Canadian officials did not comment. The agreement had allowed warships and delegations of both armed forces to
visit each other's ports and bases since the end of the Cold War.</p>
<p>Analysts said the decision was symbolic: no visits have taken place since 2014, when cooperation was frozen.</p>
</article>
<aside><h2>Read also</h2><p>Norway terminates its military cooperation agreement with Russia</p></aside>
<footer>Cookie settings · Contact · Terms of use</footer></body></html>"""

FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Example News</title>
<link>{base}/</link><description>World</description>
<item><title>Russia ends a Soviet-era agreement</title><link>{base}/world/pact.html</link>
<guid>pact-1</guid><pubDate>Fri, 04 Dec 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"""


def test_the_article_behind_a_headline(config_dir: Path, tmp_path: Path, smtp: SmtpSink, clock: Clock):
    """fetch_article: the story's page is fetched once, its main text (not the menu, the "read also" box or the
    footer) is stored as a one-page document and matched as the body: the watch that allows the body opens on the
    state the headline does not name."""
    clock.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    with FixtureServer() as site:
        page = ARTICLE.encode()
        site.routes["/world/pact.html"] = lambda h: (200, {"Content-Type": "text/html; charset=utf-8"}, page)
        site.routes["/feed.xml"] = lambda h: (
            200, {"Content-Type": "application/rss+xml"}, FEED.format(base=site.base).encode()
        )  # fmt: skip
        write_config(
            config_dir,
            f"""settings:
  followup_delay: 0
sources:
  - {{id: news, type: feed, url: "{site.base}/feed.xml", language: en, fetch_article: true}}
  - {{id: pravo-government, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/z", enabled: false}}
watches:
  - id: article-text
    query: "@agreement AND @termination AND @canada"
    fields: [title, summary, body]
    sources: [news]
    severity: high
subscribers:
  - id: desk
    notify: ["{smtp.url()}"]
""",
            "sources.yaml",
        )
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            r = app.runner.poll("news")
            assert r.error is None and r.new == 1 and r.alerts == 0  # the headline names no state
            stats = DocumentJob(app.runner).run_all()
            assert stats.read == 1 and stats.opened == 1
            (doc,) = app.store.documents()
            assert doc.kind == "article" and doc.state == "read" and doc.text is not None
            (page,) = doc.text.pages
            assert "reciprocal military visits" in page.text
            assert "Cookie settings" not in page.text and "Sport" not in page.text
            assert app.outbox.run_once().sent == 1
            (mail,) = smtp.messages
            assert "Russia ends a Soviet-era agreement" in mail["Subject"]
            (alert,) = app.store.recent_alerts(5)
            (report,) = alert.reports
            assert {h.field for h in report.match.hits if h.text == "Canada"} == {"body"}  # the article named it
            clock.advance(hours=1)
            assert app.runner.poll("news").new == 0
            assert not DocumentJob(app.runner).run_all().urls  # fetched once
            assert sum(1 for path, _ in site.requests if path == "/world/pact.html") == 1
        finally:
            app.close()


def test_a_story_whose_link_is_a_pdf_is_read_as_one(config_dir: Path, tmp_path: Path, clock: Clock):
    """A feed of acts whose items link their PDF: with fetch_article the link is read as a PDF (pages, text layer),
    not handed to the HTML extractor (which finds no article in it)."""
    from docgen import CANADA_1989_ACT, text_pdf

    clock.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    pdf = text_pdf(CANADA_1989_ACT)
    with FixtureServer() as site:
        site.routes["/world/pact.html"] = lambda h: (200, {"Content-Type": "application/pdf"}, pdf)
        site.routes["/feed.xml"] = lambda h: (
            200, {"Content-Type": "application/rss+xml"}, FEED.format(base=site.base).encode()
        )  # fmt: skip
        write_config(
            config_dir,
            f"""sources:
  - {{id: news, type: feed, url: "{site.base}/feed.xml", language: ru, fetch_article: true}}
  - {{id: pravo-government, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/z", enabled: false}}
""",
            "sources.yaml",
        )
        app = make_app(config_dir, tmp_path / "state", clock)
        try:
            assert app.runner.poll("news").error is None
            assert DocumentJob(app.runner).run_all().read == 1
            (doc,) = app.store.documents()
            assert doc.kind == "article" and doc.state == "read" and doc.text is not None
            assert doc.text.page_count == 2 and "Правительством Канады" in doc.text.pages[0].text
        finally:
            app.close()
