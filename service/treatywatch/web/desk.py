"""The desk's routes: sign-in, an alert's own page and its triage and verdict forms, items with the miss form,
mutes, the evaluation on the desk's verdicts and a configuration change's impact; each with JSON beside it.

A change is made by someone: the person whose token came as Bearer, in the form's token field or through the
sign-in cookie (auth.actor), with the role it needs (analyst: triage, mutes, verdicts). Forms answer with a
redirect to the page they came from (303), so a reload never posts twice; a GET never changes anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import desk
from ..evaluation import evaluate_verdicts
from ..links import LinkRefused, verify
from . import api, auth, docpages
from .deskpages import DeskPages

if TYPE_CHECKING:
    from ..app import App

Fields = dict[str, Any]


def _int(fields: Mapping[str, Any], name: str) -> int | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not str(raw).strip().isdigit():
        raise api.BadRequest(f"{name} must be a number, got {raw!r}")
    return int(raw)


def _str(fields: Mapping[str, Any], name: str) -> str:
    raw = fields.get(name)
    return raw if isinstance(raw, str) else ""


def _back(fields: Mapping[str, Any], default: str) -> str:
    """Where a form returns: its `back` field when it is a path of this console, else `default`."""
    back = _str(fields, "back")
    parts = urlsplit(back)
    return back if back.startswith("/") and not back.startswith("//") and not parts.netloc else default


def desk_routes(
    app: App,
    pages: DeskPages,
    loopback: bool,
    credentials: Callable[[], list[auth.Credential]],
    read_fields: Callable[[Request, Callable[[str | None], None]], Awaitable[Fields]],
    json_response: Callable[..., Response],
) -> list[Route]:
    """The routes, given create_app's helpers (its body reader and JSON response)."""

    def who(request: Request, role: str, token: str | None) -> auth.Credential:
        return auth.actor(credentials(), loopback, request.headers, token, role, app.clock())

    async def fields_of(request: Request, role: str) -> tuple[Fields, auth.Credential]:
        """The body, read after its sender is known to have `role` (a form: its token field, checked after)."""
        found: list[auth.Credential] = []
        fields = await read_fields(request, lambda token: found.append(who(request, role, token)))
        token = _str(fields, "token") or None
        if not found or token:
            found.append(who(request, role, token))
        return fields, found[-1]

    def signed_in(request: Request) -> auth.Credential | None:
        known = credentials()
        return auth.session(request.headers, known, app.clock) or auth.identify(
            auth.presented_token(request.headers, None), known
        )

    def html(body: str) -> HTMLResponse:
        return HTMLResponse(body)

    # -- sign-in -----------------------------------------------------------------------------------------------
    async def login(request: Request) -> Response:
        if request.method != "POST":
            back = request.query_params.get("next", "/")
            return html(await run_in_threadpool(pages.seen_by(signed_in(request)).login, None, back))
        fields = await read_fields(request, lambda token: None)
        person = auth.identify(_str(fields, "token") or None, credentials())
        back = _back(fields, "/")
        if person is None:
            body = await run_in_threadpool(pages.login, "That token is not one of this console's.", back)
            return HTMLResponse(body, 401)
        answer = RedirectResponse(back, status_code=303)
        secure = request.url.scheme == "https" or (app.config.settings.web_base_url or "").startswith("https:")
        answer.set_cookie(
            auth.SESSION_COOKIE, auth.session_value(person, app.clock()), max_age=auth.SESSION_HOURS * 3600,
            httponly=True, samesite="strict", secure=secure, path="/",
        )  # fmt: skip
        return answer

    async def logout(request: Request) -> Response:
        await read_fields(request, lambda token: None)
        answer = RedirectResponse("/", status_code=303)
        answer.delete_cookie(auth.SESSION_COOKIE, path="/")
        return answer

    # -- alerts ------------------------------------------------------------------------------------------------
    def alert_page(request: Request) -> HTMLResponse:
        alert_id = int(request.path_params["alert_id"])
        return html(pages.alert_page(alert_id, signed_in(request), request.query_params.get("done")))

    def alert_api(request: Request) -> Response:
        return json_response(pages.alert_detail_json(int(request.path_params["alert_id"])))

    def do_triage(alert_id: int, fields: Fields, person: auth.Credential) -> str:
        action = _str(fields, "action")
        assignee = _str(fields, "assignee") if "assignee" in fields else None
        if action == "assign" and assignee is None:
            assignee = person.name  # "take it": assigned to whoever pressed
        t = desk.triage(app, alert_id, action, person.name, assignee=assignee, span=_str(fields, "for") or None,
                        note=_str(fields, "note"))  # fmt: skip
        return f"{action}: now {t.state}" + (f", {t.assignee}" if t.assignee else "")

    def do_verdict(alert_id: int | None, item_id: int | None, fields: Fields, person: auth.Credential) -> str:
        v = desk.verdict(app, _str(fields, "verdict"), person.name, alert_id=alert_id, item_id=item_id,
                         watch=_str(fields, "watch") or None, note=_str(fields, "note"))  # fmt: skip
        return f"{v.verdict.replace('_', ' ')} recorded"

    Act = Callable[[Request, Fields, auth.Credential], Any]
    Handler = Callable[[Request], Awaitable[Response]]

    def form(role: str, act: Act, default: Callable[[Request], str]) -> Handler:
        """A form's POST: act as the person, then back to the page it came from (303) saying what was done."""

        async def handler(request: Request) -> Response:
            fields, person = await fields_of(request, role)
            said = await run_in_threadpool(act, request, fields, person)
            back = _back(fields, default(request))
            joiner = "&" if "?" in back else "?"
            return RedirectResponse(f"{back}{joiner}done={quote(said)}", status_code=303)

        return handler

    def json_action(role: str, act: Act) -> Handler:
        """A JSON POST: act as the person, answer with what the act returns."""

        async def handler(request: Request) -> Response:
            fields, person = await fields_of(request, role)
            return json_response(await run_in_threadpool(act, request, fields, person))

        return handler

    def alert_of(request: Request) -> int:
        return int(request.path_params["alert_id"])

    def item_of(request: Request) -> int:
        return int(request.path_params["item_id"])

    def triage_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        return do_triage(alert_of(request), fields, person)

    def alert_verdict_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        return do_verdict(alert_of(request), _int(fields, "item"), fields, person)

    def item_verdict_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        return do_verdict(_int(fields, "alert"), item_of(request), fields | {"verdict": "miss"}, person)

    def mute_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        kind, target = _str(fields, "kind"), _str(fields, "target")
        if fields.get("end"):
            return f"{kind} {target} " + ("unmuted" if desk.unmute(app, kind, target, person.name) else "not muted")
        until = desk.mute(app, kind, target, _str(fields, "for") or None, person.name, _str(fields, "note"))
        return f"{kind} {target} muted until {until:%Y-%m-%d %H:%M} UTC"

    def alert_json_after(request: Request, fields: Fields, person: auth.Credential) -> dict:
        triage_act(request, fields, person)
        return pages.alert_detail_json(alert_of(request))

    def alert_verdict_json(request: Request, fields: Fields, person: auth.Credential) -> dict:
        alert_verdict_act(request, fields, person)
        return pages.alert_detail_json(alert_of(request))

    def item_verdict_json(request: Request, fields: Fields, person: auth.Credential) -> dict:
        v = desk.verdict(app, "miss", person.name, item_id=item_of(request), watch=_str(fields, "watch") or None,
                         note=_str(fields, "note"))  # fmt: skip
        return desk.verdict_json(v)

    def mute_json(request: Request, fields: Fields, person: auth.Credential) -> dict:
        return {"done": mute_act(request, fields, person), "mutes": pages.mutes_json()}

    # -- items, mutes, evaluation, impact ------------------------------------------------------------------------
    def items_list(request: Request) -> HTMLResponse:
        return html(pages.seen_by(signed_in(request)).items_page(request.query_params))

    def item_page(request: Request) -> HTMLResponse:
        return html(pages.item_page(item_of(request), signed_in(request), request.query_params.get("done")))

    def items_api(request: Request) -> Response:
        page = api.items_page(app, request.query_params)
        return json_response(page.rows, headers=page.headers(request.url.path, dict(request.query_params)))

    def evaluation_api(request: Request) -> Response:
        return json_response(evaluate_verdicts(app.store, app.watchlist).to_json())

    def impact_api(request: Request) -> Response:
        days = api.int_param(request.query_params, "days", 30, 1, 366)
        return json_response(pages.impact(days).to_json())

    def impact_page(request: Request) -> HTMLResponse:
        days = api.int_param(request.query_params, "days", 30, 1, 366)
        return html(pages.impact_page(days, signed_in(request), request.query_params.get("done")))

    def reload_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        return pages.apply_reload(person.name)

    # -- sources: the operator's pause, resume and poll now (desk.source_action) --------------------------------
    def source_of(request: Request) -> str:
        return str(request.path_params["source_id"])

    def source_page(request: Request) -> HTMLResponse:
        person = signed_in(request)
        operators = any(c.may("operator") for c in credentials())
        allowed = operators or auth.local(loopback, request.headers)
        needed = operators and not (person is not None and person.may("operator"))  # one token field, or none
        seen = pages.seen_by(person)
        return html(seen.source_page(source_of(request), needed, allowed, request.query_params.get("done")))

    def source_act(request: Request, fields: Fields, person: auth.Credential) -> str:
        return desk.source_action(app, source_of(request), _str(fields, "action"), person.name)

    def source_json_after(request: Request, fields: Fields, person: auth.Credential) -> dict:
        done = source_act(request, fields, person)
        return {"done": done, "source": pages.source_row(source_of(request))}

    # -- a message's verdict link (links.py): the token is the credential, for one alert ---------------------------
    def link_secret() -> str:
        secret = app.config.settings.verdict_link_secret
        if secret is None or not secret.get_secret_value():
            raise auth.Denied(403, "verdict links are off here (settings.verdict_link_secret)")
        return secret.get_secret_value()

    def link_subscriber(alert_id: int, token: str) -> str:
        try:
            return verify(link_secret(), token, alert_id, app.clock())
        except LinkRefused as exc:
            raise auth.Denied(403, str(exc)) from None

    def link_page(request: Request) -> HTMLResponse:
        alert_id, token = alert_of(request), request.query_params.get("t", "")
        subscriber = link_subscriber(alert_id, token)
        return html(pages.link_page(alert_id, token, subscriber, request.query_params.get("done")))

    async def link_post(request: Request) -> Response:
        fields = await read_fields(request, lambda token: None)  # a form; its `t` is checked below
        alert_id, token = alert_of(request), _str(fields, "t")
        subscriber = link_subscriber(alert_id, token)
        said = await run_in_threadpool(
            desk.verdict, app, _str(fields, "verdict"), f"{subscriber} (message link)", alert_id=alert_id,
            note=_str(fields, "note"),
        )  # fmt: skip
        done = quote(f"{said.verdict.replace('_', ' ')} recorded, thank you")
        return RedirectResponse(f"/verdict-link/{alert_id}?t={quote(token)}&done={done}", status_code=303)

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/alerts/{alert_id:int}", alert_page),
        Route(
            "/alerts/{alert_id:int}/triage",
            form("analyst", triage_act, lambda r: f"/alerts/{alert_of(r)}"),
            methods=["POST"],
        ),
        Route(
            "/alerts/{alert_id:int}/verdict",
            form("analyst", alert_verdict_act, lambda r: f"/alerts/{alert_of(r)}"),
            methods=["POST"],
        ),
        Route("/items", items_list),
        Route("/items/{item_id:int}", item_page),
        Route(
            "/items/{item_id:int}/verdict",
            form("analyst", item_verdict_act, lambda r: f"/items/{item_of(r)}"),
            methods=["POST"],
        ),
        Route("/mutes", lambda r: html(pages.mutes_page(signed_in(r), r.query_params.get("done")))),
        Route("/mutes/change", form("analyst", mute_act, lambda r: "/mutes"), methods=["POST"]),
        Route("/evaluation", lambda r: html(pages.seen_by(signed_in(r)).evaluation_page())),
        Route("/impact", impact_page),
        Route("/impact/apply", form("operator", reload_act, lambda r: "/impact"), methods=["POST"]),
        Route("/sources", lambda r: html(pages.seen_by(signed_in(r)).sources_page(r.query_params))),
        Route("/sources/{source_id}", source_page),
        Route(
            "/sources/{source_id}/action",
            form("operator", source_act, lambda r: f"/sources/{quote(source_of(r))}"),
            methods=["POST"],
        ),
        Route("/api/sources/{source_id}", lambda r: json_response(pages.source_json(source_of(r)))),
        Route("/api/sources/{source_id}", json_action("operator", source_json_after), methods=["POST"]),
        Route("/verdict-link/{alert_id:int}", link_page),
        Route("/verdict-link/{alert_id:int}", link_post, methods=["POST"]),
        Route("/api/alerts/{alert_id:int}", alert_api),
        Route("/api/alerts/{alert_id:int}/triage", json_action("analyst", alert_json_after), methods=["POST"]),
        Route("/api/alerts/{alert_id:int}/verdict", json_action("analyst", alert_verdict_json), methods=["POST"]),
        Route("/api/items", items_api),
        Route("/api/items/{item_id:int}", lambda r: json_response(docpages.item_detail_json(app, item_of(r)))),
        Route("/api/items/{item_id:int}/verdict", json_action("analyst", item_verdict_json), methods=["POST"]),
        Route("/api/mutes", lambda r: json_response(pages.mutes_json())),
        Route("/api/mutes", json_action("analyst", mute_json), methods=["POST"]),
        Route("/api/evaluation", evaluation_api),
        Route("/api/impact", impact_api),
    ]
