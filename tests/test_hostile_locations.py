"""A body that names a location (a path, file://, http://) is content to parse, never a place to open or fetch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from treatywatch.localserve import FixtureServer

SECRET = "TOP-SECRET-CANARY-8c1f"
SOURCE_TYPES = {
    "feed": "{{id: s, type: feed, url: '{url}'}}",
    "html": "{{id: s, type: html, url: '{url}', items: 'li', fields: {{title: 'a', link: 'a@href'}}}}",
    "json": "{{id: s, type: json, url: '{url}', items: 'items', fields: {{title: title, link: url}}}}",
    "pravo": "{{id: s, type: pravo, url: '{url}'}}",
}


def _bodies(secret: Path, canary: FixtureServer) -> dict[str, bytes]:
    return {
        "path": str(secret).encode(),
        "file-url": f"file://{secret}".encode(),
        "http-url": f"{canary.base}/canary".encode(),
        "path-with-space": b"  " + str(secret).encode() + b"\n",
    }


@pytest.mark.parametrize("kind", sorted(SOURCE_TYPES))
@pytest.mark.parametrize("body_kind", ["path", "file-url", "http-url", "path-with-space"])
def test_body_naming_a_location_is_never_opened(app_with, tmp_path, http: FixtureServer, kind, body_kind):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"<rss version='2.0'><channel><item><title>{SECRET}</title></item></channel></rss>")
    with FixtureServer() as canary:
        body = _bodies(secret, canary)[body_kind]
        http.routes["/src/api/Documents"] = http.routes["/src"] = lambda h: (200, {"Content-Type": "text/plain"}, body)
        app = app_with("  - " + SOURCE_TYPES[kind].format(url=f"{http.base}/src") + "\n")
        result = app.runner.poll("s")
        # a list page with no items is not an error (the empty-source warning covers it); the other types must fail
        assert result.error or (kind == "html" and not result.items), "a location is not a document"
        assert SECRET not in repr(result)
        assert not any(SECRET in (i.title or "") for i in app.store.items_since(datetime(1970, 1, 1, tzinfo=UTC)))
        assert canary.requests == [], "the service fetched a URL found in a body"
