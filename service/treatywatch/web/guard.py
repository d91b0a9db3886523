"""The gate in front of every route: the Host check on a loopback bind, then the read rule (auth.py).

It runs before routing and before any body is read, so a refused request costs a header parse. POSTs pass the
read rule here and meet the stricter change rule in their handler: a form carries its token in its body, so
`curl -d token=...` keeps working without an Authorization header.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.datastructures import Headers as RequestHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from . import auth

if TYPE_CHECKING:
    from ..config.models import Settings

# liveness (the container's HEALTHCHECK), the sign-in form and the icon browsers fetch by themselves: they tell nothing
OPEN = ("/healthz", "/login", "/favicon.ico")
READINESS = ("/readyz", "/health")  # the status for any probe; the reasons for readers only
LINKS = "/verdict-link/"  # a message's verdict link: its signed token is the reader's only credential (links.py)


def refusal(exc: auth.Denied, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a refusal: JSON under /api/, plain text elsewhere (it may be a browser)."""
    if path.startswith("/api/"):
        body, kind = json.dumps({"error": str(exc)}).encode(), b"application/json"
    else:
        body, kind = f"{exc.status}: {exc}\n".encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if exc.challenge:
        headers.append((b"www-authenticate", auth.CHALLENGE.encode()))
    return exc.status, headers, body


class Guard:
    """Refuses what may not be read; marks the rest in `scope["state"]["reader"]` (may it see private details)."""

    def __init__(
        self,
        inner: ASGIApp,
        settings: Callable[[], Settings],
        tokens: Callable[[], list[str]],
        *,
        loopback: bool,
        signed_in: Callable[[RequestHeaders], bool] = lambda h: False,
    ) -> None:
        """`signed_in`: the request carries a valid sign-in cookie (auth.session), which reads as its token does."""
        self.inner, self.settings, self.tokens, self.loopback = inner, settings, tokens, loopback
        self.signed_in = signed_in

    def admit(self, method: str, path: str, headers: RequestHeaders) -> bool:
        """Raise auth.Denied, or say whether the request may read."""
        settings = self.settings()
        auth.check_host(self.loopback, headers, auth.public_host(settings))
        reader = auth.may_read(self.tokens(), auth.local(self.loopback, headers), headers, self.signed_in(headers))
        if reader or method == "POST" or path in OPEN + READINESS or path.startswith(("/static/", LINKS)):
            return reader
        if path == "/metrics" and settings.web_metrics_open:
            return False
        auth.check_read(self.tokens(), False, headers)  # raises: 401 or 403 with the reason
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        try:
            reader = self.admit(scope["method"], scope["path"], RequestHeaders(scope=scope))
        except auth.Denied as exc:
            status, headers, body = refusal(exc, scope["path"])
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        scope.setdefault("state", {})["reader"] = reader
        await self.inner(scope, receive, send)
