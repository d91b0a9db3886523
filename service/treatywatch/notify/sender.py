"""Sending one message to one channel through apprise; failures come back as NotifyError with apprise's reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import NotifyError
from .channels import TERMINAL, channel, redact

EMAIL_SCHEMES = ("mailto", "mailtos")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    format: str  # html | markdown | text


def preferred_format(url: str, configured: str) -> str:
    """Email gets HTML (apprise adds the plain-text part), chat gets Markdown, the terminal plain text."""
    if configured != "auto":
        return configured
    if url == TERMINAL:
        return "text"
    scheme = url.split("://", 1)[0].lower()
    return "html" if scheme in EMAIL_SCHEMES else "markdown"


class Sender:
    """The network edge of notifications. `echo` is where terminal deliveries go (stdout in the CLI)."""

    def __init__(self, echo: Callable[[str], None] = print, timeout: float = 20.0) -> None:
        self._echo = echo
        self._timeout = timeout

    def send(self, url: str, message: Message) -> None:
        if url == TERMINAL:
            self._echo(f"\n=== {message.title} ===\n{message.body}\n")
            return
        import apprise  # here, as in channels.channel: only what sends pays for its plug-ins

        apobj = apprise.Apprise()
        if not apobj.add(url):
            raise NotifyError(f"not a usable apprise URL: {channel(url).label if '://' in url else '?'}")
        fmt = {"html": apprise.NotifyFormat.HTML, "markdown": apprise.NotifyFormat.MARKDOWN}.get(
            message.format, apprise.NotifyFormat.TEXT
        )
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = apobj.notify(title=message.title, body=message.body, body_format=fmt)
        if not ok:
            reason = " ".join(captured.getvalue().split())[:500] or "the channel refused the message"
            raise NotifyError(redact(reason, [url]))
