"""Messages from Jinja2 templates, one set per format; operators may override any template from config/.

Feed text is untrusted: HTML templates autoescape, Markdown templates escape every Markdown control character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..matching import Snippet
from ..store import AlertView, ReportView
from .sender import Message

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_EXT = {"html": "html", "markdown": "md", "text": "txt"}


def md(text: object) -> str:
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_url(url: object) -> str:
    text = str(url)
    if not text.startswith(("http://", "https://")):
        return "#"
    return text.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def highlight_html(snippet: Snippet) -> Markup:
    out, last = [], 0
    for s, e in snippet.marks:
        out += [escape(snippet.text[last:s]), Markup("<mark>"), escape(snippet.text[s:e]), Markup("</mark>")]
        last = e
    out.append(escape(snippet.text[last:]))
    return Markup("").join(out)


def highlight_md(snippet: Snippet) -> str:
    out, last = [], 0
    for s, e in snippet.marks:
        out += [md(snippet.text[last:s]), "**", md(snippet.text[s:e]), "**"]
        last = e
    out.append(md(snippet.text[last:]))
    return "".join(out)


def safe_title(text: str) -> str:
    """Titles travel as subjects and chat headers: no markup characters at all."""
    return re.sub(r"[<>\[\]`*_]", "", text).strip()[:200]


@dataclass(frozen=True)
class DigestEntry:
    alert: AlertView
    reports: tuple[ReportView, ...]


class Renderer:
    def __init__(self, templates_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("treatywatch.notify", "templates")]
        if templates_dir is not None:
            loaders.insert(0, jinja2.FileSystemLoader(str(templates_dir)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(md=md, mdurl=md_url, highlight_html=highlight_html, highlight_md=highlight_md)

    def alert(self, alert: AlertView, fmt: str, covered_until: datetime | None = None) -> Message:
        """An alert; with `covered_until`, its follow-up: the reports added since, the earlier ones as links."""
        followup = covered_until is not None
        reports = [r for r in alert.reports if covered_until is None or r.added_at > covered_until]
        earlier = [r for r in alert.reports if covered_until is not None and r.added_at <= covered_until]
        seen: dict[str, object] = {}
        for r in alert.reports:
            for a in r.match.agreements:
                seen.setdefault(a.id, a)
        body = self.env.get_template(f"alert.{_EXT[fmt]}.j2").render(
            alert=alert, reports=reports, earlier=earlier, agreements=list(seen.values()), followup=followup
        )
        prefix = f"[{alert.severity.upper()}] " + ("Also reported: " if followup else "")
        return Message(prefix + safe_title(alert.title), body.strip() + "\n", fmt)

    def digest(self, entries: list[DigestEntry], fmt: str) -> Message:
        body = self.env.get_template(f"digest.{_EXT[fmt]}.j2").render(alerts=entries)
        return Message(f"TreatyWatch digest: {len(entries)} alert(s)", body.strip() + "\n", fmt)
