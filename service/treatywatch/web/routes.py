"""The Starlette application: every path, GET and HEAD alike (Starlette answers HEAD for each GET route).

Handlers that only read are plain functions (Starlette runs them in its thread pool, beside the daemon's jobs:
the Store serialises access); guard.py has let them through. Handlers that take a body authenticate first, read it
capped, parse it with bounds, then do their work in the pool too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.responses import JSONResponse as StarletteJSON
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import FilterError, NotFoundError
from ..metrics import CONTENT_TYPE as METRICS_TYPE
from . import api, auth, tester
from .atom import FEED_SIZE, alerts_atom
from .deskpages import DeskPages
from .guard import Guard

if TYPE_CHECKING:
    from ..app import App

STATIC = Path(__file__).parent / "static"
MAX_BODY = 256 * 1024  # a form with 20,000 characters of Cyrillic, percent-encoded, fits; more is refused (413)
MAX_DEPTH = 32  # nesting of a JSON body: ours are two deep; json.loads recurses, 5,000 levels are a RecursionError
FORMS = ("application/x-www-form-urlencoded", "")
_JSON_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"')
_JSON_NESTING = re.compile(rb"[\[\]{}]")
# No inline script or style, nothing from elsewhere. `same-origin`: links out carry no referrer (the console's URL
# stays private), while the console's own form posts carry its Origin; under `no-referrer` browsers send
# `Origin: null` on every post, the same as a sandboxed frame's, which the cross-site check must refuse.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Headers:
    """Adds the security headers to every answer, and `Cache-Control: no-store` to all but static files."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = SECURITY_HEADERS + ([] if static else [(b"cache-control", b"no-store")])
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.inner(scope, receive, with_headers)


def json_depth(body: bytes, limit: int) -> int:
    """How deep a JSON text nests (brackets outside strings), counted without recursion; stops past `limit`."""
    depth = deepest = 0
    for bracket in _JSON_NESTING.finditer(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket[0] in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


def parse_json(body: bytes) -> dict[str, Any]:
    """A JSON object, bounded: nested deeper than MAX_DEPTH or not an object is a 400, never a RecursionError."""
    if json_depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise api.BadRequest(f"body is JSON nested deeper than {MAX_DEPTH} levels (refused)")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise api.BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise api.BadRequest("body must be a JSON object")
    return data


async def read_fields(request: Request, authorize: Callable[[str | None], None]) -> dict[str, Any]:
    """A JSON object or an urlencoded form (one value per name, the last), read up to MAX_BODY. Anything but a
    form is authenticated from its headers before a byte is read; a form carries its token in its body, so it is
    read (capped, flat) and the caller checks `token` then: `authorize(fields.get("token"))`."""
    auth.check_origin(request.headers)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORMS:
        authorize(None)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise api.BadRequest(f"body too large: at most {MAX_BODY:,} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise api.BadRequest(f"body too large: at most {MAX_BODY:,} bytes", 413)
    if kind == "application/json":
        return parse_json(bytes(body))
    if kind in FORMS:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in form.items()}
    raise api.BadRequest("send application/json or an urlencoded form", 415)


class JSONResponse(StarletteJSON):
    """JSON as the first server wrote it (`{"ok": true}`, non-ASCII as is): scripts comparing bodies keep working."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False).encode("utf-8")


def _text(fields: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if isinstance(v, str)}


def _challenge(exc: Exception) -> dict[str, str]:
    return {"WWW-Authenticate": auth.CHALLENGE} if getattr(exc, "challenge", False) else {}


def _reader(request: Request) -> bool:
    """Whether guard.py found that this request may read (its private details: reload errors, readiness reasons)."""
    return bool(getattr(request.state, "reader", False))


def create_app(app: App, *, loopback: bool, env: Mapping[str, str] | None = None) -> ASGIApp:
    """The console for this App. `loopback`: it listens on a loopback address only (the token rules depend on it).
    `env`: where TREATYWATCH_WEB_TOKEN and TREATYWATCH_WEB_READ_TOKEN are read (the process environment by
    default)."""
    environ = dict(os.environ if env is None else env)
    pages = DeskPages(app)

    def token() -> str | None:
        return auth.configured_token(app.config.settings, environ)  # read per request: a reload may set it

    def readers() -> list[str]:
        return auth.read_tokens(app.config.settings, environ)

    def credentials() -> list[auth.Credential]:
        return auth.credentials(app.config.settings, environ)

    def may_change(request: Request) -> Callable[[str | None], None]:
        """Retries are the operators' (web_token, or a person with the operator role)."""

        def check(form_token: str | None) -> None:
            auth.actor(credentials(), loopback, request.headers, form_token, "operator", app.clock())

        return check

    def may_test(request: Request) -> Callable[[str | None], None]:
        return lambda form_token: auth.check(token(), loopback, request.headers, form_token, readers=readers())

    async def authorized_fields(request: Request, authorize: Callable[[str | None], None]) -> dict[str, Any]:
        fields = await read_fields(request, authorize)
        authorize(_text(fields).get("token"))
        return fields

    def view(request: Request) -> DeskPages:
        """The pages as this request's signed-in person (cookie or Bearer) sees them."""
        known = credentials()
        who = auth.session(request.headers, known, app.clock)
        return pages.seen_by(who or auth.identify(auth.presented_token(request.headers, None), known))

    def listing(page: api.Page, request: Request) -> JSONResponse:
        return JSONResponse(page.rows, headers=page.headers(request.url.path, dict(request.query_params)))

    def ready(request: Request) -> JSONResponse:
        reasons = api.readiness(app)
        body: dict[str, Any] = {"ok": not reasons}
        if reasons and _reader(request):  # a reload error may quote the configuration: readers only
            body["reasons"] = reasons
        return JSONResponse(body, 503 if reasons else 200)

    def console_root(request: Request) -> str:
        base = app.config.settings.web_base_url
        return base.rstrip("/") if base else str(request.base_url).rstrip("/")

    def atom(request: Request) -> Response:
        root = console_root(request)
        body = alerts_atom(app.config, app.store.recent_alerts(FEED_SIZE), root + "/alerts.atom", root)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    def alerts_api(request: Request) -> JSONResponse:
        return listing(api.alerts_page(app, request.query_params)[1], request)

    def per_day(request: Request) -> JSONResponse:
        days = api.int_param(request.query_params, "days", 30, 1, 366)
        return JSONResponse(pages.per_day(days).to_json())

    def retry(fields: Mapping[str, Any]) -> int:
        raw = fields.get("ids")
        if raw == "all":  # said out loud: an empty or forgotten field never re-queues everything
            return app.store.retry(None, app.clock())
        values: list[Any] = raw if isinstance(raw, list) else [raw]
        try:
            ids = [int(v) for v in values if not isinstance(v, bool)]
        except (TypeError, ValueError):
            ids = []
        if not ids:
            raise api.BadRequest('ids: a list of dead delivery ids, or "all"')
        return app.store.retry(ids, app.clock())  # what `treatywatch deliveries retry` does

    async def retry_api(request: Request) -> JSONResponse:
        fields = await authorized_fields(request, may_change(request))
        return JSONResponse({"requeued": await run_in_threadpool(retry, fields)})

    async def retry_form(request: Request) -> Response:
        fields = await authorized_fields(request, may_change(request))
        n = await run_in_threadpool(retry, fields)
        return RedirectResponse(f"/outbox?requeued={n}", status_code=303)

    def run_test(fields: Mapping[str, str]) -> tester.TestResult:
        title, summary, language, source = tester.parse_request(fields, [s.id for s in app.config.sources])
        return tester.run(app.watchlist, title, summary, language, source)

    async def test_api(request: Request) -> JSONResponse:
        fields = await authorized_fields(request, may_test(request))
        return JSONResponse((await run_in_threadpool(run_test, _text(fields))).to_json())

    async def tester_page(request: Request) -> HTMLResponse:
        needed = token() is not None
        if request.method != "POST":
            return HTMLResponse(await run_in_threadpool(view(request).tester, needed))
        fields = _text(await read_fields(request, may_test(request)))
        shown = {k: v for k, v in fields.items() if k != "token"}  # never echoed back
        try:
            may_test(request)(fields.get("token"))
            result = await run_in_threadpool(run_test, fields)
        except (api.BadRequest, auth.Denied) as exc:
            body = await run_in_threadpool(view(request).tester, needed, shown, None, str(exc), _reader(request))
            return HTMLResponse(body, exc.status, headers=_challenge(exc))
        return HTMLResponse(
            await run_in_threadpool(view(request).tester, needed, shown, result, None, _reader(request))
        )

    def outbox(request: Request) -> HTMLResponse:
        requeued = request.query_params.get("requeued")
        message = f"Re-queued {int(requeued)} dead deliveries." if requeued and requeued.isdigit() else None
        allowed = auth.local(loopback, request.headers)
        allowed = allowed or any(c.may("operator") for c in credentials())
        seen = view(request)
        signed = seen.user is not None and seen.user.may("operator")  # the cookie carries it: no token fields
        needed = any(c.may("operator") for c in credentials()) and not signed
        return HTMLResponse(seen.outbox(needed, allowed, message, request.query_params))

    def on_bad_request(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status", 400)
        headers = _challenge(exc)
        if request.url.path.startswith("/api/") or request.method == "HEAD":
            return JSONResponse({"error": str(exc)}, status, headers=headers)
        return HTMLResponse(view(request).error(status, str(exc), _reader(request)), status, headers=headers)

    def on_not_found(request: Request, exc: Exception) -> Response:
        return on_bad_request(request, api.BadRequest(str(exc), 404))

    def no_route(request: Request, exc: Exception) -> Response:
        """A path nothing answers: the console's own 404 page, with its navigation (Starlette's is bare text)."""
        return on_bad_request(request, api.BadRequest(f"nothing here at {request.url.path}", 404))

    def favicon(request: Request) -> Response:
        """Browsers ask for /favicon.ico on their own (a JSON answer, a feed): the console's icon, not a 404."""
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    routes = [
        Route("/", lambda r: HTMLResponse(view(r).overview())),
        Route("/alerts", lambda r: HTMLResponse(view(r).alerts(r.query_params))),
        Route("/outbox", outbox),
        Route("/outbox/retry", retry_form, methods=["POST"]),
        Route("/tester", tester_page, methods=["GET", "POST"]),
        Route("/healthz", lambda r: JSONResponse({"ok": True})),  # alive: the process serves requests
        Route("/readyz", ready),
        Route("/health", ready),  # the old name: what it always claimed to check, now checked
        Route("/metrics", lambda r: Response(app.metrics.exposition(), media_type=METRICS_TYPE)),
        Route("/favicon.ico", favicon),
        Route("/alerts.atom", atom),
        Route("/api/sources", lambda r: listing(api.sources_page(app, r.query_params), r)),
        Route("/api/alerts", alerts_api),
        Route("/api/deliveries", lambda r: listing(api.deliveries_page(app, r.query_params), r)),
        Route("/api/deliveries/retry", retry_api, methods=["POST"]),
        Route("/api/stats/alerts-per-day", per_day),
        Route("/api/test", test_api, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    from .desk import desk_routes  # it takes this module's body reader

    routes[2:2] = desk_routes(app, pages, loopback, credentials, read_fields, JSONResponse)
    handlers = {
        api.BadRequest: on_bad_request,
        auth.Denied: on_bad_request,
        FilterError: on_bad_request,
        NotFoundError: on_not_found,
        404: no_route,
    }
    console = Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    def signed_in(headers: Mapping[str, str]) -> bool:
        return auth.session(headers, credentials(), app.clock) is not None

    return Headers(Guard(console, lambda: app.config.settings, readers, loopback=loopback, signed_in=signed_in))
