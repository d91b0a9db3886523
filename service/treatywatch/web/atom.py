"""Recent alerts as an Atom feed (RFC 4287): any feed reader can subscribe to the service itself.

Ids are tag: URIs (RFC 4151) that no other install mints: the authority is the host of `settings.web_base_url`
(the operator owns that name), else this machine's name plus a digest of the database's path. An entry's
<updated> is its latest report, so a follow-up shows as a change in readers that track updates.
"""

from __future__ import annotations

import hashlib
import socket
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from .. import __version__
from ..config.models import Config
from ..notify.render import clean, highlight, safe_link
from ..store import AlertView, ReportView
from .api import last_report

FEED_SIZE = 50
TAG_DATE = "2025"  # a date the authority was held, as RFC 4151 asks; fixed, so ids never change


def tag_base(config: Config) -> str:
    """`tag:authority,date:treatywatch...` without the last part; stable for an install, unique across them."""
    base = config.settings.web_base_url
    if base:
        parts = urlsplit(base)
        host = (parts.hostname or "localhost").lower()
        path = parts.path.rstrip("/")
        return f"tag:{host},{TAG_DATE}:treatywatch{path}"
    database = urlsplit(config.settings.database)
    if database.scheme.startswith("postgres"):
        # several daemons share one database: its server and name (never the password) make the same ids on each
        where = f"{database.hostname or 'localhost'}:{database.port or 5432}{database.path}"
        authority = (database.hostname or "localhost").lower()
    else:
        where, authority = str(Path(config.database_path).resolve()), socket.gethostname().lower() or "localhost"
    digest = hashlib.sha256(where.encode("utf-8")).hexdigest()[:12]
    return f"tag:{authority},{TAG_DATE}:treatywatch/{digest}"


def _t(value: object) -> str:
    return escape(clean(value))


def _time(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="seconds")


def _report_html(r: ReportView) -> str:
    """A report inside the entry's HTML content: snippet with marks, then the title linked when it may be."""
    url = safe_link(r.item.link)
    title = escape(clean(r.item.title))
    linked = f'<a href="{url}">{title}</a>' if url else title
    return (
        f"<p>{highlight(r.match.snippet, 'html')}</p>"
        f"<p>{linked} ({escape(clean(r.item.source_id))}, {_time(r.added_at)})</p>" + _act_html(r)
    )


def _act_html(r: ReportView) -> str:
    """A legal act's line: "Распоряжение № 28-р от 17.01.2026 · issuer · published 17.01.2026 · PDF", its dates
    the portal's calendar dates."""
    act = r.item.act
    if act is None or not act.label(r.item.language):
        return ""
    parts = [escape(clean(p)) for p in (act.label(r.item.language), act.issuer) if p]
    if act.published_on:
        parts.append("published " + act.day(act.published_on, r.item.language))
    pdf = safe_link(act.document_url)
    if pdf:
        parts.append(f"<a href={quoteattr(pdf)}>PDF</a>")
    return f"<p>{' · '.join(parts)}</p>"


def _entry(a: AlertView, tag: str, console: str) -> str:
    first = a.reports[0] if a.reports else None
    link = safe_link(first.item.link) if first else ""  # javascript: and friends never become links
    why = first.match.why() if first else ""
    content = "".join(_report_html(r) for r in a.reports)
    return (
        f"<entry><id>{tag}/alert/{a.id}</id><title>{_t(f'[{a.severity}] {a.title}')}</title>"
        f"<published>{_time(a.created_at)}</published><updated>{_time(last_report(a))}</updated>"
        + (f'<link rel="alternate" href={quoteattr(link)}/>' if link else "")
        + (f'<link rel="related" type="text/html" href={quoteattr(console + "/alerts/" + str(a.id))}/>')
        + "".join(f"<category term={quoteattr(clean(w))}/>" for w in a.watches)
        + f"<summary>{_t(why)}</summary>"
        + f'<content type="html">{escape(content)}</content></entry>'
    )


def alerts_atom(config: Config, alerts: list[AlertView], self_url: str, console: str) -> str:
    """The feed of these alerts (newest first). `self_url`: where it is served; `console`: the pages' root."""
    tag = tag_base(config)
    updated = max((last_report(a) for a in alerts), default=datetime(1970, 1, 1, tzinfo=UTC))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{tag}/alerts</id><title>TreatyWatch alerts</title>"
        f'<link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>'
        f'<link rel="alternate" type="text/html" href={quoteattr(console + "/alerts")}/>'
        f"<author><name>TreatyWatch</name><uri>{escape(console + '/')}</uri></author>"
        f'<generator version="{escape(__version__)}">TreatyWatch</generator>'
        f"<updated>{_time(updated)}</updated>" + "".join(_entry(a, tag, console) for a in alerts) + "</feed>"
    )
