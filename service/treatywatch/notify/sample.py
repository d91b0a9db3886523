"""`treatywatch notify --test`: a sample alert through the real templates and channels of one subscriber."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.models import Subscriber
from ..errors import NotifyError
from ..items import make_item
from ..matching import Match, Snippet
from ..store import AlertView, ReportView
from .channels import channel
from .sender import preferred_format

if TYPE_CHECKING:
    from ..app import App

SAMPLE_TITLE = "TreatyWatch test: Russia terminates military agreements with Portugal, France and Canada"


def sample_alert(now: object) -> AlertView:
    item = make_item(
        "treatywatch-test",
        title=SAMPLE_TITLE,
        link="https://example.org/treatywatch-test",
        summary="This is a test message from TreatyWatch; no action is needed.",
    )
    text = item.title
    match = Match(
        "test", "Test alert", "high", (), (), Snippet(text, ((text.find("terminates"), text.find("terminates") + 10),))
    )
    return AlertView(0, "test", ("test",), "high", item.title, (), now, (ReportView(0, item, match, now),))  # type: ignore[arg-type]


def send_sample(app: App, sub: Subscriber) -> list[tuple[str, str | None]]:
    """(channel label, error or None) per channel; nothing is stored."""
    alert = sample_alert(app.clock())
    results: list[tuple[str, str | None]] = []
    for url in sub.notify:
        label = channel(url).label
        try:
            app.outbox.sender.send(url, app.outbox.renderer.alert(alert, preferred_format(url, sub.format)))
            results.append((label, None))
        except NotifyError as exc:
            results.append((label, str(exc)))
    return results
