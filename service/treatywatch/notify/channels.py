"""Channels are apprise URLs. They hold secrets, so the database keeps a hash and humans see apprise's privacy form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import ConfigError

TERMINAL = "terminal"


@dataclass(frozen=True)
class Channel:
    key: str  # sha256 of the URL, or "terminal"
    label: str  # safe to log and show
    url: str  # never logged, never stored


def channel(url: str) -> Channel:
    """Validate an apprise URL and give its storage key and printable label."""
    if url == TERMINAL:
        return Channel(TERMINAL, TERMINAL, TERMINAL)
    import apprise  # here: its plug-ins take 0.06 s to import, which a desk without subscribers never pays

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else url[:12]
        raise ConfigError([f"not a usable apprise URL (scheme '{scheme}://'); see the apprise wiki for formats"])
    # apprise's privacy form hides passwords and tokens; the query only repeats defaults, so it is dropped
    label = plugin.url(privacy=True).split("?", 1)[0]
    return Channel(hashlib.sha256(url.encode()).hexdigest()[:24], label, url)


def redact(text: str, urls: list[str]) -> str:
    """Remove any whole URL (and its secrets) from text before it is logged or stored."""
    for url in urls:
        if url and url != TERMINAL and url in text:
            text = text.replace(url, channel(url).label)
    return text
