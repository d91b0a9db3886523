"""One escaping rule and one link rule in every channel, proven with hostile items from every source type.

Each hostile document travels the real pipeline (local HTTP server → fetch → parse → store → match → alert →
outbox) to a real SMTP server (HTML email and its plain part), a real webhook (Markdown, and plain text for a
subscriber with `format: text`) and the terminal (text). Nothing in any channel may be live markup, and only
http/https URLs may become links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Clock, WebhookSink, make_app, write_config
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.matching import Snippet
from treatywatch.notify.render import escape_for, highlight, safe_link, safe_title

SCRIPT = "<script>alert(1)</script>"
ENTITY_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"  # sources strip tags but decode entities: literal text
EN = "Russia terminates its 1994 military agreement with France"
MD_LINK = "[click](http://evil.example)"
IMG = "<img src=x onerror=alert(2)>"
BAD = "javascript:alert(document.cookie)"
RU = (
    "О прекращении действия соглашений с Правительством Канады, Правительством Французской Республики и "
    "Правительством Португальской Республики в военной области"
)


def xml_text(text: str) -> str:
    """Escaped twice: the feed's text is then literally `<script>...`, as a hostile publisher would send it."""
    return text.replace("&", "&amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;")


RSS = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>
<item><title>{xml_text(SCRIPT)} {EN} {xml_text(MD_LINK)}</title><link>{BAD}</link><guid>rss-1</guid>
<description>{xml_text(IMG)} the accord is over</description></item></channel></rss>"""

ATOM = f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<id>urn:t</id><updated>2025-12-06T10:00:00Z</updated>
<entry><title type="text">{xml_text(SCRIPT)} {EN}</title><id>urn:atom-1</id>
<link rel="alternate" href="{BAD}"/><updated>2025-12-06T10:00:00Z</updated>
<summary type="text">{xml_text(IMG)} the accord is over</summary></entry></feed>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [
            {
                "id": "jf-1",
                "url": BAD,
                "title": f"{ENTITY_SCRIPT} {EN} {MD_LINK} \u202e\x1b[2J",
                "content_text": f"{IMG} the accord is over",
            }
        ],
    }
)

HTML_PAGE = f"""<html><body><ul><li class="doc-item"><a class="doc-link" href="{BAD}">{xml_text(SCRIPT)}
{EN}</a><p class="doc-lead">{xml_text(IMG)} the accord is over</p></li></ul></body></html>"""

JSON_API = json.dumps(
    {
        "data": [
            {"uid": "api-1", "headline": f"{ENTITY_SCRIPT} {EN} {MD_LINK}", "href": "data:text/html,<script>x</script>"}
        ]
    }
)

PRAVO = json.dumps(
    {
        "items": [
            {
                "eoNumber": '0001"><script>alert(3)</script>',
                "name": f"{ENTITY_SCRIPT} {RU}",
                "complexName": f"Распоряжение {IMG}",
                "publishDateShort": "2025-12-05T00:00:00",
            }
        ],
        "pagesTotalCount": 1,
    }
)


@dataclass(frozen=True)
class Case:
    body: str
    content_type: str
    source: Callable[[str], str]  # base URL -> YAML of one source


CASES = {
    "rss": Case(RSS, "application/rss+xml", lambda u: f"{{id: hostile, type: feed, url: '{u}/h'}}"),
    "atom": Case(ATOM, "application/atom+xml", lambda u: f"{{id: hostile, type: feed, url: '{u}/h'}}"),
    "jsonfeed": Case(JSON_FEED, "application/feed+json", lambda u: f"{{id: hostile, type: feed, url: '{u}/h'}}"),
    "html": Case(
        HTML_PAGE,
        "text/html; charset=utf-8",
        lambda u: (
            f"{{id: hostile, type: html, url: '{u}/h', items: li.doc-item, "
            "fields: {title: a.doc-link, link: 'a.doc-link@href', summary: p.doc-lead}}"
        ),
    ),
    "json": Case(
        JSON_API,
        "application/json",
        lambda u: (
            f"{{id: hostile, type: json, url: '{u}/h', items: data, fields: {{id: uid, title: headline, link: href}}}}"
        ),
    ),
    "pravo": Case(
        PRAVO,
        "application/json",
        lambda u: f"{{id: pravo-government, type: pravo, url: '{u}/p', block: government, implies: [russia]}}",
    ),
}


@dataclass
class Outputs:
    html: str
    plain_part: str
    subject: str
    markdown: str
    text_hook: str
    terminal: str
    item_title: str
    item_link: str


def deliver(kind: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink) -> Outputs:
    case = CASES[kind]
    body = case.body.encode()
    http.routes["/h"] = lambda h: (200, {"Content-Type": case.content_type}, body)
    http.routes["/p/api/Documents"] = lambda h: (200, {"Content-Type": case.content_type}, body)
    standins = "".join(
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
        for sid in ("pravo-government", "pravo-government-rss", "government-docs")
        if not (kind == "pravo" and sid == "pravo-government")
    )
    write_config(config_dir, f"sources:\n  - {case.source(http.base)}\n" + standins, "sources.yaml")
    echo: list[str] = []
    with WebhookSink() as md_hook, WebhookSink() as text_hook:
        write_config(
            config_dir,
            f"""subscribers:
  - id: desk
    notify: ["{smtp.url()}", "{md_hook.url}"]
  - id: plain
    notify: ["{text_hook.url}"]
    format: text
  - id: terminal
    notify: [terminal]
""",
            "subscribers.yaml",
        )
        app = make_app(config_dir, tmp_path / "state", clock, echo)
        try:
            source = "pravo-government" if kind == "pravo" else "hostile"
            r = app.runner.poll(source)
            assert r.error is None and r.alerts == 1, (r.error, [i.title for i in r.items])
            stats = app.outbox.run_once()
            assert stats.sent == 4 and stats.failed == 0, stats
            (mail,) = smtp.messages
            return Outputs(
                html=mail.get_body(preferencelist=("html",)).get_content(),
                plain_part=mail.get_body(preferencelist=("plain",)).get_content(),
                subject=str(mail["subject"]),
                markdown=md_hook.bodies[0]["message"],
                text_hook=text_hook.bodies[0]["message"],
                terminal="\n".join(echo),
                item_title=r.items[0].title,
                item_link=r.items[0].link,
            )
        finally:
            app.close()


def assert_no_live_links_or_markup(out: Outputs) -> None:
    for href in re.findall(r"""href\s*=\s*["']?([^"'\s>]*)""", out.html, flags=re.I):
        assert href.startswith(("http://", "https://")), href
    assert "<script" not in out.html.lower() and "<img" not in out.html.lower()
    for dest in re.findall(r"\]\(([^)]*)\)", out.markdown):
        assert dest.startswith(("http://", "https://")), dest
    assert not re.search(r"(?<!\\)<script", out.markdown)
    assert "[click](http://evil.example)" not in out.markdown
    for text in (out.html, out.plain_part, out.subject, out.markdown, out.text_hook, out.terminal):
        assert "javascript:" not in text.lower() and "data:text" not in text.lower()
        assert "\x1b" not in text and "\u202e" not in text
    assert "<" not in out.subject


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_item_from_every_source_type_arrives_inert(
    kind: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    out = deliver(kind, config_dir, tmp_path, clock, http, smtp)
    assert_no_live_links_or_markup(out)
    # each source keeps the text literally: it must show, escaped (pravo's title is the act's official one, its
    # name quoted after type and number)
    assert out.item_title.startswith(SCRIPT if kind != "pravo" else f"Распоряжение «{SCRIPT}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in out.markdown
    assert "<script>alert(1)</script>" in out.text_hook and "<script>alert(1)</script>" in out.terminal


def test_json_feed_javascript_link_and_script_title(
    config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    """The reported case: JSON Feed `url: javascript:...` and a <script> title. The title stays, escaped, with no
    link around it in any channel; no URL line at all in the text channels."""
    out = deliver("jsonfeed", config_dir, tmp_path, clock, http, smtp)
    assert out.item_title.startswith(SCRIPT)
    assert out.item_link == "" or out.item_link.startswith(("http://", "https://")) or BAD in out.item_link
    assert "<a " not in out.html.split("<blockquote>")[0].split("</h2>")[1]  # the report line has no anchor
    assert re.search(r"<p><bdi>&lt;script&gt;alert\(1\)&lt;/script&gt; Russia terminates", out.html)  # isolated
    assert re.search(r"^\\<script\\>alert\\\(1\\\)\\</script\\> Russia terminates", out.markdown, flags=re.M)
    assert "- <script>alert(1)</script> Russia terminates" in out.text_hook
    assert_no_live_links_or_markup(out)


def test_pravo_link_is_percent_encoded(
    config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    """An http link built from hostile text cannot break out of the href or the Markdown destination."""
    out = deliver("pravo", config_dir, tmp_path, clock, http, smtp)
    assert '"><script>' in out.item_link
    assert "/document/0001%22%3E%3Cscript%3Ealert%283%29%3C/script%3E" in out.html
    assert "/document/0001%22%3E%3Cscript%3Ealert%283%29%3C/script%3E)" in out.markdown


@pytest.mark.parametrize(
    "url",
    [
        BAD,
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative/path",
        "http:/no-host",
        "https://",
        "http://exa mple.org/",
        "http://[::1",
        "",
    ],
)
def test_only_http_and_https_with_a_host_become_links(url: str):
    assert safe_link(url) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1&c=2#f", "https://example.org/a?b=1&c=2#f"),
        ("HTTP://Example.org/x", "HTTP://Example.org/x"),
        ('https://e.org/a"onmouseover="x', "https://e.org/a%22onmouseover=%22x"),
        ("https://e.org/a(b)<c>'d", "https://e.org/a%28b%29%3Cc%3E%27d"),
        ("https://e.org/снег", "https://e.org/%D1%81%D0%BD%D0%B5%D0%B3"),
    ],
)
def test_good_links_are_kept_and_encoded(url: str, expected: str):
    assert safe_link(url) == expected


@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_one_rule_removes_controls_and_bidi_overrides_in_every_format(fmt: str):
    raw = "a\x1b[31mb\u202ec\x07d\x85e\nf\tg"
    got = escape_for(fmt, raw)
    assert all(c not in got for c in "\x1b\u202e\x07\x85")
    assert "\n" in got and "\t" in got


def test_formats_escape_their_own_markup():
    text = f"{SCRIPT} {MD_LINK} *x* _y_ `z` & #"
    assert escape_for("html", text) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; [click](http://evil.example) *x* _y_ `z` &amp; #"
    )
    md = escape_for("markdown", text)
    assert "\\<script\\>" in md and "\\[click\\]\\(http://evil\\.example\\)" in md and "\\*x\\*" in md
    assert escape_for("text", text) == text


@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_snippet_marks_are_ours_and_the_text_is_escaped(fmt: str):
    text = f"{SCRIPT} terminates"
    out = highlight(Snippet(text, ((len(SCRIPT) + 1, len(text)),)), fmt)
    expected = {
        "html": "&lt;script&gt;alert(1)&lt;/script&gt; <mark>terminates</mark>",
        "markdown": "\\<script\\>alert\\(1\\)\\</script\\> **terminates**",
        "text": "<script>alert(1)</script> [terminates]",
    }
    assert str(out) == expected[fmt]


def test_subject_has_no_markup_controls_or_newlines():
    assert safe_title(f"{SCRIPT}\x1b[2J\nBcc: x@evil.example\u202e") == "scriptalert(1)/script2J Bcc: x@evil.example"
