"""A small read-only HTTP server: /, /health, /metrics (Prometheus text), /api/sources, /api/alerts, /alerts.atom."""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from ..notify.render import safe_link

if TYPE_CHECKING:
    from ..app import App


def sources_json(app: App) -> list[dict]:
    states = app.store.source_states()
    out = []
    for src in app.config.sources:
        st = states.get(src.id)
        out.append(
            {
                "id": src.id,
                "type": src.type,
                "every": src.every.describe(),
                "last_success": st.last_success.isoformat() if st and st.last_success else None,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "last_error": st.last_error if st else None,
                "items_last_seen": st.items_last_seen if st else None,
                "empty_flag": bool(st and st.empty_flag),
            }
        )
    return out


def metrics_text(app: App) -> str:
    lines = []
    for name, value in sorted(app.store.counts().items()):
        lines.append(f"treatywatch_{name}_total {value}")
    for s in sources_json(app):
        lines.append(f'treatywatch_source_consecutive_failures{{source="{s["id"]}"}} {s["consecutive_failures"]}')
        lines.append(f'treatywatch_source_empty{{source="{s["id"]}"}} {int(s["empty_flag"])}')
    return "\n".join(lines) + "\n"


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


class StatusServer:
    def __init__(self, app: App, host: str, port: int) -> None:
        outer = app

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                routes = {
                    "/": ("text/html; charset=utf-8", lambda: status_html(outer)),
                    "/health": ("application/json", lambda: json.dumps({"ok": True})),
                    "/alerts.atom": ("application/atom+xml; charset=utf-8", lambda: alerts_atom(outer)),
                    "/metrics": ("text/plain; version=0.0.4", lambda: metrics_text(outer)),
                    "/api/sources": ("application/json", lambda: json.dumps(sources_json(outer))),
                    "/api/alerts": (
                        "application/json",
                        lambda: json.dumps(
                            [
                                {
                                    "id": a.id,
                                    "title": a.title,
                                    "severity": a.severity,
                                    "watches": a.watches,
                                    "agreements": a.agreements,
                                    "created_at": a.created_at.isoformat(),
                                    "reports": [
                                        {
                                            "title": r.item.title,
                                            "link": r.item.link,
                                            "source": r.item.source_id,
                                            "why": r.match.why(),
                                        }
                                        for r in a.reports
                                    ],
                                }
                                for a in outer.store.recent_alerts(50)
                            ],
                            ensure_ascii=False,
                        ),
                    ),
                }
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                body = route[1]().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", route[0])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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
