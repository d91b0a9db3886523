"""Messages from Jinja2 templates, one set per format; operators may override any template from config/.

Feed text is untrusted, and so are feed links. ONE rule, applied by the same filters in every format:

- `esc`: every piece of text (titles, summaries, snippets, explanations, even ids) first loses control and
  bidirectional-override characters (terminal escapes, invisible reordering), then is escaped for the format:
  HTML entities, a backslash before every Markdown control character, nothing more for plain text.
- `link`: a URL becomes a link only if its scheme is http or https and it has a host; it is percent-encoded so no
  quote, bracket, space or parenthesis can end the href or the Markdown destination. Any other link
  (`javascript:`, `data:`, `file:`, relative, garbage) is DROPPED, not shown as text: the title stays, escaped,
  without a link, in every channel (a plain-text URL of another scheme helps nobody and some clients autolink it).
- `bdi`: `esc`, and in HTML the text isolated in `<bdi>`: a right-to-left title (or a direction mark the cleaning
  keeps, such as U+200F) cannot reorder the words around it. Every field of feed text in an HTML template.

Templates therefore write `{{ x | esc }}` (`{{ x | bdi }}` for feed text in HTML) for text and
`{% set url = r.item.link | link %}{% if url %}...` for links; the old `md`, `mdurl`, `highlight_html` and
`highlight_md` filters stay for operators' own templates and follow the same rule.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from ..matching import Snippet
from ..store import AlertView, ReportView
from .sender import Message

if TYPE_CHECKING:
    import jinja2

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_EXT = {"html": "html", "markdown": "md", "text": "txt"}
# C0/C1 controls except tab and newline, DEL, and the bidi embedding/override/isolate marks.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
LINK_SCHEMES = ("http", "https")
_URL_SAFE = ":/?#@!$&*+,;=%~"  # plus letters, digits and _.- ; everything else is percent-encoded


def clean(text: object) -> str:
    """Untrusted text without the characters that act instead of showing (escape sequences, bidi overrides)."""
    return _INVISIBLE.sub("", str(text))


def clean_marked(text: str, spans: Iterable[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """`clean(text)`, and character ranges of `text` moved to where their characters are in it."""
    gone = [m.start() for m in _INVISIBLE.finditer(text)]
    return _INVISIBLE.sub("", text), [(s - bisect_left(gone, s), e - bisect_left(gone, e)) for s, e in spans]


def md(text: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", clean(text))


def escape_for(fmt: str, text: object) -> str:
    """The one escaping rule: clean, then escape for the format (HTML returns Markup so autoescape keeps it)."""
    if fmt == "html":
        return escape(clean(text))
    if fmt == "markdown":
        return md(text)
    return clean(text)


def safe_link(url: object) -> str:
    """The URL if it may become a link (http/https with a host), percent-encoded; otherwise ''."""
    text = clean(url).strip()
    if not text or any(c.isspace() for c in text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return ""
    return quote(text, safe=_URL_SAFE)


def md_url(url: object) -> str:
    """Kept for operators' Markdown templates: a bad link becomes '#', a link to nowhere."""
    return safe_link(url) or "#"


def highlight(snippet: Snippet, fmt: str) -> str:
    """The snippet with its marks: <mark> in HTML, **bold** in Markdown, [brackets] in text; text escaped."""
    before, after = {"html": ("<mark>", "</mark>"), "markdown": ("**", "**")}.get(fmt, ("[", "]"))
    out, last = [], 0
    for s, e in snippet.marks:
        out += [escape_for(fmt, snippet.text[last:s]), before, escape_for(fmt, snippet.text[s:e]), after]
        last = e
    out.append(escape_for(fmt, snippet.text[last:]))
    joined = "".join(out)
    return Markup(joined) if fmt == "html" else joined  # every piece of item text was escaped above


def highlight_html(snippet: Snippet) -> Markup:
    return Markup(highlight(snippet, "html"))  # escaped in highlight()


def highlight_md(snippet: Snippet) -> str:
    return highlight(snippet, "markdown")


TITLE_BYTES = 240  # a subject's UTF-8 bytes: quoted-printable triples them, and SMTP refuses lines over 998


def safe_title(text: str) -> str:
    """Titles travel as subjects and chat headers: no markup characters at all, at most 200 characters and
    TITLE_BYTES bytes (apprise writes the subject as one encoded line: a 200-character Russian title made a line
    SMTP servers refuse, "Line too long", and the alert never reached the mailbox)."""
    title = re.sub(r"[<>\[\]`*_]", "", clean(text).replace("\n", " ")).strip()[:200]
    if len(title.encode("utf-8")) <= TITLE_BYTES:
        return title
    cut = title.encode("utf-8")[: TITLE_BYTES - 3].decode("utf-8", "ignore")
    return cut.rstrip() + "…"


def _esc(ctx: jinja2.runtime.Context, value: object) -> str:
    return escape_for(ctx.get("fmt", "text"), value)


def isolate(fmt: str, text: object) -> str:
    """`escape_for`, and in HTML inside <bdi>: a field of feed text set apart from the words around it."""
    escaped = escape_for(fmt, text)
    return Markup("<bdi>") + escaped + Markup("</bdi>") if fmt == "html" else escaped


def _bdi(ctx: jinja2.runtime.Context, value: object) -> str:
    return isolate(ctx.get("fmt", "text"), value)


def _highlight(ctx: jinja2.runtime.Context, snippet: Snippet) -> str:
    return highlight(snippet, ctx.get("fmt", "text"))


@dataclass(frozen=True)
class DigestEntry:
    alert: AlertView
    reports: tuple[ReportView, ...]


class Renderer:
    """The alert and digest templates. Jinja's environment is built at the first message, not with the app: a pass
    with nothing to send never imports Jinja (a fiftieth of a second of every `poll --once`)."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = templates_dir

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        import jinja2

        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("treatywatch.notify", "templates")]
        if self.templates_dir is not None:
            loaders.insert(0, jinja2.FileSystemLoader(str(self.templates_dir)))
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            esc=jinja2.pass_context(_esc),
            bdi=jinja2.pass_context(_bdi),
            link=safe_link,
            highlight=jinja2.pass_context(_highlight),
            md=md,
            mdurl=md_url,
            highlight_html=highlight_html,
            highlight_md=highlight_md,
        )
        return env

    def _render(self, name: str, fmt: str, **values: Any) -> str:
        return self.env.get_template(f"{name}.{_EXT[fmt]}.j2").render(fmt=fmt, **values)

    def alert(
        self, alert: AlertView, fmt: str, carried: frozenset[int] | None = None, verdict_link: str = ""
    ) -> Message:
        """An alert; with `carried` (the item ids the channel already received), its follow-up: the other
        reports in full, those as links. `verdict_link`: where the reader says correct or false alarm (links.py)."""
        followup = carried is not None
        reports = [r for r in alert.reports if carried is None or r.item_id not in carried]
        earlier = [r for r in alert.reports if carried is not None and r.item_id in carried]
        seen: dict[str, object] = {}
        for r in alert.reports:
            for a in r.match.agreements:
                seen.setdefault(a.id, a)
        # a follow-up that only brings what an act's text names (its document was read) says so
        text_read = followup and all(r.text_names and r.version for r in reports)
        news = "Act's text read: " if text_read else "Also reported: " if followup else ""
        body = self._render(
            "alert",
            fmt,
            alert=alert,
            reports=reports,
            earlier=earlier,
            agreements=list(seen.values()),
            followup=followup,
            news=news,
            verdict_link=safe_link(verdict_link) if verdict_link else "",
        )
        prefix = f"[{alert.severity.upper()}] {news}"
        return Message(prefix + safe_title(alert.title), body.strip() + "\n", fmt)

    def digest(self, entries: list[DigestEntry], fmt: str) -> Message:
        body = self._render("digest", fmt, alerts=entries)
        return Message(f"TreatyWatch digest: {len(entries)} alert(s)", body.strip() + "\n", fmt)
