"""A small read-only HTTP server: / (status page), /healthz, /readyz (and /health, its alias), /metrics (Prometheus),
/api/sources, /api/alerts, /api/deliveries, /alerts.atom. GET and HEAD on every path."""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from ..errors import StoreError
from ..matching.explain import match_to_dict
from ..metrics import CONTENT_TYPE as METRICS_TYPE
from ..notify.render import safe_link
from ..store import AlertView
from ..views import delivery_row, source_rows

if TYPE_CHECKING:
    from ..app import App


def sources_json(app: App) -> list[dict]:
    return source_rows(app.config, app.store.source_states())


BROKEN_AFTER = 5  # failures in a row after which a source counts as broken for readiness
MAX_LIMIT = 200  # a page of the JSON API: bounded, so one request cannot make the server build everything
MAX_OFFSET = 10_000
DELIVERY_STATUSES = ("pending", "failed", "dead", "sent")
JSON = "application/json"


class BadRequest(Exception):
    """A query parameter out of range: answered 400 with the reason, never a stack trace."""


def readiness(app: App) -> list[str]:
    """Why the service is not ready; empty when it is. Only broken-for-good states count: one source failing
    among working ones is shown on the status page, not a reason to pull the instance from rotation."""
    reasons = []
    if app.reload_error is not None:
        reasons.append(f"last configuration reload failed: {app.reload_error.splitlines()[0]}")
    try:
        with app.store.transaction():
            pass  # BEGIN IMMEDIATE: takes the write lock, as a poll's commit will
    except StoreError as exc:
        reasons.append(f"store not writable: {exc}")
    enabled = [s.id for s in app.config.sources if s.enabled]
    states = app.store.source_states()
    broken = [i for i in enabled if i in states and states[i].consecutive_failures >= BROKEN_AFTER]
    if enabled and len(broken) == len(enabled):
        reasons.append(f"every enabled source failed {BROKEN_AFTER}+ times in a row: {', '.join(broken)}")
    return reasons


def _int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def alert_json(a: AlertView) -> dict:
    """An alert with each report's structured explanation (hits, agreements with reasons, snippet)."""
    return {
        "id": a.id,
        "title": a.title,
        "severity": a.severity,
        "watch": a.watch_id,
        "watches": list(a.watches),
        "agreements": list(a.agreements),
        "created_at": a.created_at.isoformat(),
        "reports": [
            {
                "item_id": r.item_id,
                "title": r.item.title,
                "link": r.item.link,
                "source": r.item.source_id,
                "published": r.item.published.isoformat() if r.item.published else None,
                "added_at": r.added_at.isoformat(),
                "why": r.match.why(),
                "match": match_to_dict(r.match),
            }
            for r in a.reports
        ],
    }


def alerts_json(app: App, query: dict[str, list[str]]) -> list[dict]:
    limit = _int(query, "limit", 50, 1, MAX_LIMIT)
    offset = _int(query, "offset", 0, 0, MAX_OFFSET)
    # newest first; the store pages from the newest, so the offset is cut here (bounded by MAX_OFFSET)
    return [alert_json(a) for a in app.store.recent_alerts(offset + limit)[offset:]]


def deliveries_json(app: App, query: dict[str, list[str]]) -> list[dict]:
    status = query.get("status", [""])[-1] or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}, got {status!r}")
    limit = _int(query, "limit", 50, 1, MAX_LIMIT)
    return [delivery_row(d) for d in app.store.deliveries(status, limit)]


def alerts_atom(app: App) -> str:
    """Recent alerts as an Atom feed: any feed reader can subscribe to the service itself."""
    entries = []
    for a in app.store.recent_alerts(50):
        link = safe_link(a.reports[0].item.link) if a.reports else ""  # javascript: and friends never become links
        why = a.reports[0].match.why() if a.reports else ""
        entries.append(
            f"<entry><id>urn:treatywatch:alert:{a.id}</id><title>{escape(f'[{a.severity}] {a.title}')}</title>"
            f"<updated>{a.created_at.isoformat()}</updated>"
            + (f"<link href={quoteattr(link)}/>" if link else "")
            + f"<summary>{escape(why)}</summary></entry>"
        )
    updated = max((a.created_at for a in app.store.recent_alerts(1)), default=None)
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>urn:treatywatch:alerts</id><title>TreatyWatch alerts</title>"
        f"<updated>{updated.isoformat() if updated else '1970-01-01T00:00:00+00:00'}</updated>"
        + "".join(entries)
        + "</feed>"
    )


def status_html(app: App) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s['id'])}</td><td>{s['type']}</td><td>{html.escape(s['every'])}</td>"
        f"<td>{s['last_success'] or '-'}</td><td>{s['consecutive_failures']}</td>"
        f"<td>{html.escape(s['last_error'] or '')}</td><td>{s['items_last_seen'] or 0}"
        f"{' ⚠ empty' if s['empty_flag'] else ''}</td></tr>"
        for s in sources_json(app)
    )
    alerts = "".join(
        f"<li>[{a.severity}] {html.escape(a.title)} <small>{a.created_at:%Y-%m-%d %H:%M}</small></li>"
        for a in app.store.recent_alerts(20)
    )
    counts = ", ".join(f"{k}: {v}" for k, v in app.store.counts().items())
    return (
        f"<!doctype html><meta charset=utf-8><title>TreatyWatch</title><h1>TreatyWatch</h1><p>{counts}</p>"
        f"<h2>Sources</h2><table border=1 cellpadding=4><tr><th>id<th>type<th>schedule<th>last success"
        f"<th>failures<th>last error<th>items</tr>{rows}</table><h2>Recent alerts</h2><ul>{alerts}</ul>"
    )


Route = Callable[[dict[str, list[str]]], tuple[int, str, bytes]]


def routes(app: App) -> dict[str, Route]:
    """Path -> handler giving (status, content type, body)."""

    def text(ctype: str, fn: Callable[[], str]) -> Route:
        return lambda q: (200, ctype, fn().encode("utf-8"))

    def data(fn: Callable[[dict[str, list[str]]], object]) -> Route:
        return lambda q: (200, JSON, json.dumps(fn(q), ensure_ascii=False).encode("utf-8"))

    def ready(q: dict[str, list[str]]) -> tuple[int, str, bytes]:
        reasons = readiness(app)
        body = {"ok": True} if not reasons else {"ok": False, "reasons": reasons}
        return (503 if reasons else 200), JSON, json.dumps(body, ensure_ascii=False).encode("utf-8")

    return {
        "/": text("text/html; charset=utf-8", lambda: status_html(app)),
        "/healthz": lambda q: (200, JSON, b'{"ok": true}'),  # alive: the process serves requests
        "/readyz": ready,
        "/health": ready,  # the old name: what it always claimed to check, now checked
        "/alerts.atom": text("application/atom+xml; charset=utf-8", lambda: alerts_atom(app)),
        "/metrics": lambda q: (200, METRICS_TYPE, app.metrics.exposition()),
        "/api/sources": data(lambda q: sources_json(app)),
        "/api/alerts": data(lambda q: alerts_json(app, q)),
        "/api/deliveries": data(lambda q: deliveries_json(app, q)),
    }


class StatusServer:
    def __init__(self, app: App, host: str, port: int) -> None:
        table = routes(app)

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                url = urlsplit(self.path)
                route = table.get(url.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    status, ctype, body = route(parse_qs(url.query))
                except BadRequest as exc:
                    status, ctype = 400, JSON
                    body = json.dumps({"error": str(exc)}).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, format: str, *args: object) -> None:  # quiet: our logs say what matters
                return

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="status-web")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
