"""Who may read the console and who may change state through it: the token rules, in one place.

"Local" means: the console listens on a loopback address, is asked by a loopback name (`localhost`, `127.0.0.1`,
`[::1]`) and the request did not come through a proxy (no `Forwarded`/`X-Forwarded-*` header). Only this
machine's users send such requests, and they could run the CLI anyway.

- Host: on a loopback bind every request (GET included) must name a loopback host, or the console's public name
  (the host of `settings.web_base_url`, a proxy in front); any other name is a site re-pointed at 127.0.0.1 (DNS
  rebinding), refused with 403 before anything is read.
- Reads (pages, JSON API, Atom feed, /metrics): free for local requests; otherwise they need a token, the read
  token (`settings.web_read_token`, else `TREATYWATCH_WEB_READ_TOKEN`) or the full one, as
  `Authorization: Bearer <token>` or HTTP Basic (a browser's login prompt: any user name, the token as password).
  Missing or wrong: 401 with a Basic challenge; no token configured at all: 403. /healthz and /static/ are open;
  /readyz answers its status to anyone and its reasons to readers; /metrics is open if `web_metrics_open`.
- Changes (Retry) and the watch tester: a full token configured (`settings.web_token`, else
  `TREATYWATCH_WEB_TOKEN`) must be sent as `Authorization: Bearer <token>` or a form's `token` field, never
  Basic (a browser sends Basic by itself, to any page that posts here); missing or wrong is 401. No full token:
  changes are accepted from local requests only (403 otherwise); the tester, which changes nothing, from readers.
- Always, for changes: a request from another site is refused (403): an `Origin` naming another host,
  `Origin: null` (a sandboxed frame, a page that hides its origin) or a `Sec-Fetch-Site` other than same-origin.

- People (`settings.people`): named tokens with a role (viewer reads; analyst triages and gives verdicts;
  operator also retries and reloads); web_token counts as `operator`, web_read_token as `viewer` (`credentials`).
  A change is made by someone (`actor`): the person whose token came as Bearer, in the form's token field, or
  through the sign-in cookie, with the role the change needs (a lower one is 401); where no token of that role is
  configured, a local request acts as `local`. The cookie (`session_value`) holds the name, an expiry and an
  HMAC keyed by the person's token, never the token: it reads as the token does, and changing the token ends it.

Tokens are compared in constant time and never appear in logs, responses or pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..config.models import ROLE_RANK, Settings

ENV_TOKEN = "TREATYWATCH_WEB_TOKEN"
ENV_READ_TOKEN = "TREATYWATCH_WEB_READ_TOKEN"
PROXIED = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
CHALLENGE = 'Basic realm="TreatyWatch", charset="UTF-8"'


class Denied(Exception):
    """The request may not go ahead; `status` is 401 (no or wrong token) or 403 (not allowed at all).
    `challenge`: the answer asks for HTTP Basic credentials (a read token works there)."""

    def __init__(self, status: int, reason: str, challenge: bool = False) -> None:
        self.status = status
        self.challenge = challenge
        super().__init__(reason)


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secret(value: SecretStr | None, env: Mapping[str, str], name: str) -> str | None:
    return (value.get_secret_value() if value is not None else "") or env.get(name) or None


def configured_token(settings: Settings, env: Mapping[str, str]) -> str | None:
    return _secret(settings.web_token, env, ENV_TOKEN)


@dataclass(frozen=True)
class Credential:
    """A token and whom it names: a person of settings.people, or `operator` (web_token), `viewer`
    (web_read_token), or `local` (this machine's user, where no token is asked for)."""

    name: str
    role: str
    token: str = ""

    def may(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


LOCAL = Credential("local", "operator")


def credentials(settings: Settings, env: Mapping[str, str]) -> list[Credential]:
    """Every token the console knows, with its name and role."""
    out = [Credential(p.name, p.role, p.token.get_secret_value()) for p in settings.people]
    if full := configured_token(settings, env):
        out.append(Credential("operator", "operator", full))
    if read := _secret(settings.web_read_token, env, ENV_READ_TOKEN):
        out.append(Credential("viewer", "viewer", read))
    return out


def read_tokens(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Every token that may read: the read token, the full one and every person's."""
    return [c.token for c in credentials(settings, env)]


def identify(given: str | None, known: Sequence[Credential]) -> Credential | None:
    """Whose token this is, comparing with every one in constant time."""
    found = None
    for c in known:
        if given is not None and hmac.compare_digest(given.encode("utf-8"), c.token.encode("utf-8")):
            found = c
    return found


SESSION_COOKIE = "tw_session"
SESSION_HOURS = 12


def _session_mac(c: Credential, expires: int) -> str:
    """Keyed by the person's own token: changing a token ends every session signed with it."""
    message = f"{c.name}|{expires}".encode()
    return hmac.new(c.token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def session_value(c: Credential, now: datetime) -> str:
    """The console's sign-in cookie: name, expiry and a MAC; the token itself never leaves the form it was typed in."""
    expires = int(now.timestamp()) + SESSION_HOURS * 3600
    name = base64.urlsafe_b64encode(c.name.encode("utf-8")).decode("ascii")
    return f"{name}.{expires}.{_session_mac(c, expires)}"


def session(
    headers: Mapping[str, str], known: Sequence[Credential], clock: Callable[[], datetime]
) -> Credential | None:
    """Who the request's sign-in cookie names, if it is ours, unexpired and its token unchanged. The clock is
    read only when there is a cookie to check."""
    if SESSION_COOKIE not in headers.get("cookie", ""):
        return None
    now = clock()
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session, never a 500
        return None
    morsel = jar.get(SESSION_COOKIE)
    if morsel is None:
        return None
    parts = morsel.value.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < now.timestamp():
        return None
    try:
        name = base64.urlsafe_b64decode(parts[0]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    for c in known:
        if c.name == name and hmac.compare_digest(_session_mac(c, int(parts[1])), parts[2]):
            return c
    return None


def actor(
    known: Sequence[Credential],
    loopback: bool,
    headers: Mapping[str, str],
    form_token: str | None,
    role: str,
    now: datetime,
) -> Credential:
    """Who makes this change, allowed to make it, or Denied. A token is sent as Bearer, in the form's token field
    or through the sign-in cookie (never HTTP Basic: a browser sends that by itself). Where no token of this role
    or above exists, a local request may act as `local` (as retries always could)."""
    check_origin(headers)
    who = identify(presented_token(headers, form_token), known) or session(headers, known, lambda: now)
    if who is None:
        if local(loopback, headers) and not any(c.may(role) for c in known):
            return LOCAL
        if not any(c.may(role) for c in known):
            raise Denied(403, f"no token with the {role} role is configured (settings.people) for this address")
        raise Denied(401, "a valid token is required: sign in, or send Authorization: Bearer <token>")
    if not who.may(role):  # 401, as for a wrong token: another one (of a higher role) would do
        raise Denied(401, f"{who.name} is a {who.role}: this needs a token with the {role} role")
    return who


def host_of(headers: Mapping[str, str]) -> str:
    """The host name the request was sent to (Host header, port and brackets dropped), lower case; '' if none."""
    try:
        return (urlsplit("//" + headers.get("host", "")).hostname or "").lower()
    except ValueError:
        return ""


def public_host(settings: Settings) -> str | None:
    """The host of settings.web_base_url: a proxy in front of a loopback console forwards requests for it."""
    if not settings.web_base_url:
        return None
    return (urlsplit(settings.web_base_url).hostname or "").lower() or None


def local(loopback: bool, headers: Mapping[str, str]) -> bool:
    """Only this machine can have sent it: loopback bind, loopback name, no proxy on the way."""
    return loopback and is_loopback(host_of(headers)) and not any(h in headers for h in PROXIED)


def check_host(loopback: bool, headers: Mapping[str, str], public: str | None) -> None:
    """On a loopback bind, refuse a Host that is neither a loopback name nor the console's public name."""
    host = host_of(headers)
    if loopback and not is_loopback(host) and (public is None or host != public):
        raise Denied(403, f"this console answers to localhost or 127.0.0.1 only, not {host or 'no host'!r}")


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _basic(headers: Mapping[str, str]) -> str | None:
    """The password of HTTP Basic credentials (the user name is ignored; a lone user name is taken instead)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or user or None


def _matches(given: str | None, tokens: Sequence[str]) -> bool:
    if given is None:
        return False
    found = False
    for token in tokens:  # every one compared, in constant time: the timing says nothing about which
        found |= hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))
    return found


def presented_token(headers: Mapping[str, str], form_token: str | None) -> str | None:
    return _bearer(headers) or form_token or None


def may_read(tokens: Sequence[str], is_local: bool, headers: Mapping[str, str], signed_in: bool = False) -> bool:
    return is_local or signed_in or _matches(_bearer(headers) or _basic(headers), tokens)


def check_read(tokens: Sequence[str], is_local: bool, headers: Mapping[str, str]) -> None:
    """Raise Denied unless the request may read (see the module's rules)."""
    if may_read(tokens, is_local, headers):
        return
    if not tokens:
        raise Denied(403, "set settings.web_read_token or settings.web_token to read the console from another machine")
    raise Denied(401, "a valid token is required (Authorization: Bearer <token>, or log in with it)", challenge=True)


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


def check_origin(headers: Mapping[str, str]) -> None:
    if not same_origin(headers):
        raise Denied(403, "cross-site request refused: post from the console's own pages")


def check(
    token: str | None,
    loopback: bool,
    headers: Mapping[str, str],
    form_token: str | None = None,
    *,
    readers: Sequence[str] | None = None,
) -> None:
    """Raise Denied unless the request may change state. `readers`: the read tokens, given for the watch tester:
    with no full token configured, whoever may read may run it (it changes nothing)."""
    check_origin(headers)
    if token is None:
        if local(loopback, headers):
            return
        if readers is not None:
            check_read(readers, False, headers)
            return
        raise Denied(403, "set settings.web_token (or TREATYWATCH_WEB_TOKEN) to change state from another machine")
    if not _matches(presented_token(headers, form_token), [token]):
        raise Denied(401, "a valid token is required (Authorization: Bearer <token>, or the form's token field)")
