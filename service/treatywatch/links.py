"""Verdict links in messages: a signed, expiring token for one alert and one subscriber, so a reader of an email
or chat message can say "correct" or "false alarm" without an account. The token names the alert it is for (a
token of another alert is refused), when it ends, and the subscriber it went to (recorded as who said it); it is
an HMAC under settings.verdict_link_secret. Following the link shows the alert and two buttons; only the button's
POST records anything."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta

from .errors import FilterError


class LinkRefused(FilterError):
    """The token is not this alert's, is expired, or was not signed here."""


def _mac(secret: str, alert_id: int, subscriber: str, expires: int) -> str:
    message = f"verdict|{alert_id}|{subscriber}|{expires}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()[:32]


def sign(secret: str, alert_id: int, subscriber: str, now: datetime, valid: float) -> str:
    expires = int((now + timedelta(seconds=valid)).timestamp())
    who = base64.urlsafe_b64encode(subscriber.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{expires}.{who}.{_mac(secret, alert_id, subscriber, expires)}"


def verify(secret: str, token: str, alert_id: int, now: datetime) -> str:
    """The subscriber the token was sent to, when it is valid for this alert now; else LinkRefused."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        raise LinkRefused("this verdict link is not one of ours")
    try:
        subscriber = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise LinkRefused("this verdict link is not one of ours") from None
    if not hmac.compare_digest(_mac(secret, alert_id, subscriber, int(parts[0])), parts[2]):
        raise LinkRefused("this verdict link is not for this alert")
    if int(parts[0]) < now.timestamp():
        raise LinkRefused("this verdict link has expired: open the alert in the console instead")
    return subscriber


def verdict_url(base: str, secret: str, alert_id: int, subscriber: str, now: datetime, valid: float) -> str:
    return f"{base.rstrip('/')}/verdict-link/{alert_id}?t={sign(secret, alert_id, subscriber, now, valid)}"
