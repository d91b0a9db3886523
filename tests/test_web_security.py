"""Who may read the console: a real server on 127.0.0.1 asked with httpx, as another machine or a foreign page would.

"Off loopback" is simulated: the console is served on 127.0.0.1 but told its bind is not loopback (StatusServer's
`loopback=False`), which is all the token rules look at; the client is the same as from another machine.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Clock, WebhookSink, local_sources, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer
from treatywatch.web.server import StatusServer

TOKEN = "s3cret-token"
READ = "read-only-token"
# every path that shows stored data: alerts, sources, subscribers and their channels, metrics
READS = (
    "/",
    "/alerts",
    "/outbox",
    "/tester",
    "/alerts.atom",
    "/metrics",
    "/api/sources",
    "/api/alerts",
    "/api/deliveries",
    "/api/stats/alerts-per-day",
)
DEEP = b"[" * 5000 + b"]" * 5000  # 10 kB, 5,000 levels: json.loads raises RecursionError on it


class Served:
    def __init__(self, app: App, server: StatusServer) -> None:
        self.app, self.server = app, server
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10)


@pytest.fixture
def serve(
    config_dir: Path, tmp_path: Path, http: FixtureServer, webhook: WebhookSink, clock: Clock
) -> Iterator[Callable[..., Served]]:
    """An app with alerts and a dead delivery, served on 127.0.0.1 as a loopback bind or (loopback=False) not."""
    made: list[Served] = []

    def make(settings: str = "", loopback: bool = True) -> Served:
        write_config(config_dir, local_sources(http.base), "sources.yaml")
        write_config(config_dir, f"subscribers:\n  - id: desk\n    notify: ['{webhook.url}']\n", "subscribers.yaml")
        write_config(config_dir, "settings:\n  delivery_max_attempts: 1\n" + settings, "settings.yaml")
        app = make_app(config_dir, tmp_path / "state", clock)
        app.runner.poll("euronews-world")
        webhook.fail_with = 500
        app.outbox.run_once()
        server = StatusServer(app, "127.0.0.1", 0, loopback=loopback)
        server.start()
        made.append(Served(app, server))
        return made[-1]

    yield make
    for s in made:
        s.client.close()
        s.server.stop()
        s.app.close()


def basic(token: str, user: str = "me") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_off_loopback_every_read_needs_a_token(serve):
    """Before: with web_host 0.0.0.0 and a token set, anyone reaching the port read alerts, subscribers' channels
    and metrics; only changes needed the token."""
    s = serve(f"  web_token: {TOKEN}\n", loopback=False)
    title = s.app.store.recent_alerts(1)[0].title
    for path in READS:
        for headers in ({}, bearer("wrong"), basic("wrong")):
            r = s.client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.status_code)
            assert r.headers["www-authenticate"].startswith("Basic realm=")  # a browser asks for the token
            assert title not in r.text and "desk" not in r.text and "127.0.0.1" not in r.text, path
        assert s.client.head(path).status_code == 401, path
        assert s.client.get(path, headers=bearer(TOKEN)).status_code == 200, path  # a script
        assert s.client.get(path, headers=basic(TOKEN)).status_code == 200, path  # a browser's login prompt
    assert title in s.client.get("/api/alerts", headers=basic(TOKEN, user="")).text
    assert s.client.get("/healthz").status_code == 200  # liveness stays open: the container's HEALTHCHECK
    assert s.client.get("/static/console.css").status_code == 200
    assert s.client.get("/readyz").json() == {"ok": True}


def test_a_read_token_reads_and_changes_nothing(serve):
    s = serve(f"  web_token: {TOKEN}\n  web_read_token: {READ}\n", loopback=False)
    dead = s.client.get("/api/deliveries?status=dead", headers=bearer(READ)).json()
    assert len(dead) == 1 and dead[0]["subscriber"] == "desk"
    for path in READS:
        assert s.client.get(path, headers=basic(READ)).status_code == 200, path
    r = s.client.post("/api/deliveries/retry", json={"ids": "all"}, headers=bearer(READ))
    assert r.status_code == 401 and READ not in r.text
    # a browser logged in with the read token (Basic) posts the form: the token field must hold the full one
    r = s.client.post("/outbox/retry", data={"ids": "all", "token": READ}, headers=basic(READ))
    assert r.status_code == 401 and len(s.app.store.deliveries("dead")) == 1
    assert s.client.post("/api/test", json={"text": "x"}, headers=bearer(READ)).status_code == 401
    r = s.client.post("/outbox/retry", data={"ids": "all", "token": TOKEN}, headers=basic(READ))
    assert r.status_code == 303 and s.app.store.deliveries("dead") == []


def test_off_loopback_without_any_token_reads_are_refused(serve):
    s = serve(loopback=False)
    for path in READS:
        r = s.client.get(path)
        assert r.status_code == 403 and "web_read_token" in r.text, path
    assert s.client.get("/healthz").status_code == 200
    r = s.client.post("/api/test", json={"text": "Russia terminates military cooperation agreement with France"})
    assert r.status_code == 403  # before: the tester was open to anyone when no token was set


def test_metrics_alone_can_be_opened(serve):
    closed = serve(f"  web_token: {TOKEN}\n", loopback=False)
    assert closed.client.get("/metrics").status_code == 401  # the default: closed off loopback
    closed.client.close()
    s = serve(f"  web_token: {TOKEN}\n  web_metrics_open: true\n", loopback=False)
    r = s.client.get("/metrics")
    assert r.status_code == 200 and "treatywatch_polls_total" in r.text
    for path in READS:
        if path != "/metrics":
            assert s.client.get(path).status_code == 401, path


def test_readiness_reasons_are_for_readers(serve):
    s = serve(f"  web_token: {TOKEN}\n", loopback=False)
    s.app.reload_error = "config/secret.yaml:3: something private"
    r = s.client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"ok": False}
    r = s.client.get("/readyz", headers=bearer(TOKEN))
    assert r.status_code == 503 and "something private" in r.json()["reasons"][0]
    page = s.client.post("/outbox/retry", data={"ids": "all"})
    assert page.status_code == 401 and "something private" not in page.text  # no banner for strangers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8424", "192.0.2.1", "tw.example.org"])
def test_on_loopback_a_foreign_host_is_refused_for_every_request(serve, host):
    """DNS rebinding: a page on evil.example, its name re-pointed at 127.0.0.1, is same-origin with the console.
    Before: GETs answered any Host (everything could be read), only token-less POSTs checked it."""
    s = serve()
    for path in (*READS, "/healthz", "/static/console.css"):
        r = s.client.get(path, headers={"Host": host})
        assert r.status_code == 403 and "localhost or 127.0.0.1" in r.text, (path, r.status_code)
        assert "desk" not in r.text and "Russia" not in r.text
    r = s.client.post("/api/deliveries/retry", json={"ids": "all"}, headers={"Host": host})
    assert r.status_code == 403 and len(s.app.store.deliveries("dead")) == 1
    r = s.client.post("/tester", data={"text": "Russia terminates"}, headers={"Host": host})
    assert r.status_code == 403
    for good in ("localhost", f"127.0.0.1:{s.server.port}", "[::1]", "127.0.0.2"):
        assert s.client.get("/api/alerts", headers={"Host": good}).status_code == 200, good


def test_behind_a_proxy_on_loopback_the_public_name_needs_the_token(serve):
    """A proxy on the same machine forwards https://tw.example.org to the loopback console: its requests name
    that host, or carry X-Forwarded-For. They are not this machine's users: reads and changes need the token."""
    s = serve(f"  web_token: {TOKEN}\n  web_base_url: https://tw.example.org/\n")
    for headers in ({"Host": "tw.example.org"}, {"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=x"}):
        assert s.client.get("/api/deliveries", headers=headers).status_code == 401, headers
        assert s.client.get("/api/deliveries", headers=headers | bearer(TOKEN)).status_code == 200, headers
    assert s.client.get("/api/deliveries").status_code == 200  # this machine, by a loopback name
    assert s.client.get("/", headers={"Host": "other.example.org"}).status_code == 403


def test_deep_json_is_refused_with_400_after_the_token(serve, caplog):
    """10 kB of JSON nested 5,000 deep. Before: parsed before the token was checked, a RecursionError, a 500 and
    a traceback in the log per request."""
    caplog.set_level(logging.WARNING)
    s = serve(f"  web_token: {TOKEN}\n")
    json_type = {"Content-Type": "application/json"}
    nested_field = b'{"ids": ' + DEEP + b"}"
    for path in ("/api/deliveries/retry", "/api/test", "/outbox/retry", "/tester"):
        for body in (DEEP, nested_field):
            r = s.client.post(path, content=body, headers=json_type)
            assert r.status_code == 401, (path, r.status_code)  # the token first: nothing parsed for strangers
            r = s.client.post(path, content=body, headers=json_type | bearer(TOKEN))
            assert r.status_code == 400 and "nested deeper than 32 levels" in r.text, (path, r.status_code)
    fine = b'{"ids": "all", "nested": ' + b"[" * 30 + b"]" * 30 + b"}"
    assert s.client.post("/api/deliveries/retry", content=fine, headers=json_type | bearer(TOKEN)).json() == {
        "requeued": 1
    }
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_deep_json_without_a_token_on_loopback_is_a_400(serve, caplog):
    caplog.set_level(logging.WARNING)
    s = serve()
    for path in ("/api/deliveries/retry", "/api/test"):
        r = s.client.post(path, content=DEEP, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and json.loads(r.text)["error"].startswith("body is JSON nested deeper"), path
    assert not [r for r in caplog.records if r.exc_info]
