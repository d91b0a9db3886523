"""Who may change state through the console: the token rule, in one place.

- A token configured (`settings.web_token`, else `TREATYWATCH_WEB_TOKEN` in the environment): every state-changing
  request (and the watch tester, which costs CPU) must carry it, as `Authorization: Bearer <token>` or a form's
  `token` field; compared in constant time; a missing or wrong one is 401.
- No token: accepted only when the console listens on a loopback address and is asked by a loopback name
  (only local users reach it, as with the CLI on the same machine); otherwise 403 until a token is set.
- Always: a request whose `Origin` is another site is refused (403), so a page in the operator's browser cannot
  post to the console behind their back (CSRF, even on loopback).

The token never appears in logs, responses or pages (pages only ever show an empty password field).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..config.models import Settings

ENV_TOKEN = "TREATYWATCH_WEB_TOKEN"


class Denied(Exception):
    """The request may not change state; `status` is 401 (no or wrong token) or 403 (not allowed at all)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured_token(settings: Settings, env: Mapping[str, str]) -> str | None:
    if settings.web_token is not None and settings.web_token.get_secret_value():
        return settings.web_token.get_secret_value()
    return env.get(ENV_TOKEN) or None


def presented_token(headers: Mapping[str, str], form_token: str | None) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return form_token or None


def same_origin(headers: Mapping[str, str]) -> bool:
    """No Origin (curl, scripts, old browsers) or one naming the host the request was sent to. `Origin: null` is
    refused: a sandboxed frame or a page that hides its origin sends it, and so would anyone's. Where the browser
    says where a request comes from (`Sec-Fetch-Site`), only the console's own pages (or the user) count."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def check(
    token: str | None,
    loopback: bool,
    headers: Mapping[str, str],
    form_token: str | None = None,
    *,
    open_without_token: bool = False,
) -> None:
    """Raise Denied unless the request may go ahead. `open_without_token`: with no token configured, allowed on
    any address (the watch tester changes nothing)."""
    if not same_origin(headers):
        raise Denied(403, "cross-site request refused: post from the console's own pages")
    if token is None:
        if open_without_token:
            return
        # the Host check stops DNS rebinding: a site whose name was re-pointed to 127.0.0.1 is same-origin to itself
        if loopback and is_loopback(urlsplit("//" + headers.get("host", "")).hostname or ""):
            return
        raise Denied(403, "set settings.web_token (or TREATYWATCH_WEB_TOKEN) to change state from another machine")
    given = presented_token(headers, form_token)
    if given is None or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
        raise Denied(401, "a valid token is required (Authorization: Bearer <token>, or the form's token field)")
