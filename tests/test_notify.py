"""Notifications with a real SMTP server and a real webhook receiver: once, on time, escaped, never lost."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from conftest import Clock, WebhookSink, local_sources, make_app, tw, write_config
from treatywatch.localserve import FixtureServer, SmtpSink

INJECTION = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Moscow scraps 1994 pact with Paris [click](http://evil.example)</title>
<link>https://example.org/x</link><guid>inj-1</guid>
<description>&amp;lt;img src=x onerror=alert(2)&amp;gt; **bold** the accord is over</description></item>
</channel></rss>"""


def report_feed(n: int) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>outlet {n}</title>
<item><title>Outlet {n}: Russia terminates its 1994 military agreement with France</title>
<link>https://outlet{n}.example/story</link><guid>story-{n}</guid></item></channel></rss>""".encode()


@pytest.fixture
def setup(config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer):
    """An app on the demo's sources (plus `extra` YAML) with these subscribers."""

    def make(subscribers: str, extra: str = ""):
        write_config(config_dir, local_sources(http.base) + extra, "sources.yaml")
        write_config(config_dir, "subscribers:\n" + subscribers, "subscribers.yaml")
        return make_app(config_dir, tmp_path / "state", clock)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_instant_email_and_webhook(setup, config_dir, tmp_path, http, smtp: SmtpSink, webhook: WebhookSink, clock):
    app = setup(
        f"""
  - id: desk
    notify: ["{smtp.url()}", "{webhook.url}"]
    watches: [agreement-terminated]
""",
    )
    app.runner.poll("euronews-world")
    assert app.outbox.run_once().sent == 2
    (mail,) = smtp.messages
    assert mail.is_multipart()
    html = mail.get_body(preferencelist=("html",)).get_content()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "<mark>terminates</mark>" in html and "Severity:</b> high" in html
    assert "Russia–France agreement on military cooperation" in html and "Why:" in text
    (hook,) = webhook.bodies
    assert hook["title"] == "[HIGH] Russia terminates military agreements with Portugal, France and Canada"
    assert "**terminates**" in hook["message"]
    assert (
        "(https://www.euronews.com/2025/12/06/russia-terminates-military-agreements-with-portugal-france-and-"
        "canada)" in hook["message"]
    )
    assert app.outbox.run_once().sent == 0


def test_routing_by_watch_and_severity(setup, config_dir, tmp_path, http, webhook: WebhookSink, clock):
    app = setup(
        f"""
  - id: assets-only
    notify: ["{webhook.url}"]
    watches: [frozen-assets]
  - id: high-only
    notify: ["{webhook.url}?x=2"]
    min_severity: high
""",
    )
    app.runner.poll("euronews-world")
    app.outbox.run_once()
    titles = sorted(b["title"] for b in webhook.bodies)
    assert titles == [
        "[HIGH] Russia terminates military agreements with Portugal, France and Canada",
        "[MEDIUM] EU leaders clash over reparations loan backed by frozen Russian assets",
    ]


def test_digest_collects_a_period(setup, config_dir, tmp_path, http, smtp: SmtpSink, clock):
    app = setup(
        f"""
  - id: morning
    notify: ["{smtp.url()}"]
    mode: digest
    digest_at: ["08:00"]
    timezone: Europe/Paris
""",
    )
    app.runner.poll("euronews-world")  # 12:00 UTC
    app.runner.poll("ria-politics")
    assert app.outbox.run_once().sent == 0 and smtp.messages == []
    clock.advance(hours=18, minutes=59)  # 06:59 UTC = 07:59 Paris
    assert app.outbox.run_once().sent == 0
    clock.advance(minutes=1)
    # 3 alerts and 1 follow-up (the Russian report of the Euronews event): one digest, the report folded in
    assert app.outbox.run_once().sent == 4
    (digest,) = smtp.messages
    assert digest["subject"] == "TreatyWatch digest: 3 alert(s)"
    html = digest.get_body(preferencelist=("html",)).get_content()
    assert "Russia terminates military agreements" in html and "Медведев назвал" in html
    assert "Правительство прекратило действие соглашений" in html
    assert app.outbox.run_once().sent == 0


def test_quiet_hours_hold_then_release(setup, config_dir, tmp_path, http, webhook: WebhookSink, clock):
    app = setup(
        f"""
  - id: night-desk
    notify: ["{webhook.url}"]
    quiet_hours: "11:00-13:30"
""",
    )
    app.runner.poll("council-press-fr")  # 12:00 UTC, inside quiet hours
    assert app.outbox.run_once().sent == 0
    clock.advance(minutes=89)
    assert app.outbox.run_once().sent == 0
    clock.advance(minutes=1)
    assert app.outbox.run_once().sent == 2
    assert len(webhook.bodies) == 2


def test_smtp_down_then_back_delivers_once(setup, config_dir, tmp_path, http, clock, caplog):
    port = free_port()
    url = f"mailto://alerts:s3cr3t-pw@127.0.0.1:{port}?from=treatywatch@localhost&to=desk@example.org"
    app = setup(f'  - id: desk\n    notify: ["{url}"]\n    watches: [frozen-assets]\n')
    app.runner.poll("ria-politics")
    with caplog.at_level(logging.INFO):
        stats = app.outbox.run_once()
    assert stats.failed == 1
    (d,) = app.store.deliveries()
    assert d.status == "failed" and d.attempts == 1 and d.last_error
    assert "s3cr3t-pw" not in caplog.text and "s3cr3t-pw" not in d.last_error and "s3cr3t-pw" not in d.channel_label
    assert app.outbox.run_once().sent == 0  # not due yet: backoff
    with SmtpSink(port=port) as smtp:
        clock.advance(minutes=5)
        assert app.outbox.run_once().sent == 1
        clock.advance(minutes=5)
        assert app.outbox.run_once().sent == 0
        assert len(smtp.messages) == 1
        assert "замороженных российских активов" in smtp.messages[0]["subject"]


def test_dead_after_max_attempts_and_retry(setup, config_dir, tmp_path, http, webhook: WebhookSink, clock, smtp):
    webhook.fail_with = 500
    app = setup(
        f"""
  - id: hook
    notify: ["{webhook.url}"]
    watches: [frozen-assets]
  - id: mail
    notify: ["{smtp.url()}"]
    watches: [frozen-assets]
""",
        extra="settings:\n  delivery_max_attempts: 3\n",
    )
    app.runner.poll("ria-politics")
    app.outbox.run_once()
    assert len(smtp.messages) == 1  # a failing channel does not hold up the others
    for _ in range(3):
        clock.advance(hours=2)
        app.outbox.run_once()
    (dead,) = app.store.deliveries("dead")
    assert dead.attempts == 3 and dead.subscriber_id == "hook"
    webhook.fail_with = None
    assert app.store.retry(None, clock()) == 1
    assert app.outbox.run_once().sent == 1
    assert len(webhook.bodies) == 1


def test_crash_between_sent_and_marked_sends_at_most_one_duplicate(setup, config_dir, tmp_path, http, smtp, clock):
    app = setup(f'  - id: desk\n    notify: ["{smtp.url()}"]\n')
    app.runner.poll("ria-politics")

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt("killed")  # the process dies after the channel accepted

    real_mark_sent = app.store.mark_sent
    app.store.mark_sent = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        app.outbox.run_once()
    assert len(smtp.messages) == 1
    app.store.mark_sent = real_mark_sent  # type: ignore[method-assign]
    app.close()
    restarted = make_app(config_dir, tmp_path / "state", clock)
    restarted.outbox.run_once()
    restarted.outbox.run_once()
    subjects = [m["subject"] for m in smtp.messages]
    assert len(subjects) == 3  # one duplicate of the interrupted one, then the other alert once
    assert subjects[0] == subjects[1]
    assert all(d.status == "sent" for d in restarted.store.deliveries())


def test_twelve_reports_one_alert_one_followup(setup, config_dir, tmp_path, http, smtp, clock):
    extra = ""
    for n in range(12):
        http.routes[f"/outlet{n}.xml"] = lambda h, n=n: (200, {}, report_feed(n))
        extra += f"  - {{id: outlet{n}, type: feed, url: '{http.base}/outlet{n}.xml', baseline: false}}\n"
    app = setup(f'  - id: desk\n    notify: ["{smtp.url()}"]\n', extra)
    assert app.runner.poll("outlet0").alerts == 1
    app.outbox.run_once()
    for n in range(1, 12):
        clock.advance(minutes=1)
        r = app.runner.poll(f"outlet{n}")
        assert r.alerts == 0 and r.followups == 1
        app.outbox.run_once()  # follow-ups wait for followup_delay, collecting reports
    clock.advance(minutes=20)
    app.outbox.run_once()
    clock.advance(hours=1)
    app.outbox.run_once()
    assert [m["subject"] for m in smtp.messages] == [
        "[HIGH] Outlet 0: Russia terminates its 1994 military agreement with France",
        "[HIGH] Also reported: Outlet 0: Russia terminates its 1994 military agreement with France",
    ]
    followup = smtp.messages[1].get_body(preferencelist=("html",)).get_content()
    assert all(f"https://outlet{n}.example/story" in followup for n in range(1, 12))
    (alert,) = app.store.recent_alerts()
    assert len(alert.reports) == 12


def test_feed_cannot_inject_markup(setup, config_dir, tmp_path, http, smtp, webhook, clock):
    http.routes["/inject.xml"] = lambda h: (200, {}, INJECTION)
    extra = f"  - {{id: inject, type: feed, url: '{http.base}/inject.xml', baseline: false}}\n"
    app = setup(f'  - id: desk\n    notify: ["{smtp.url()}", "{webhook.url}"]\n', extra)
    r = app.runner.poll("inject")
    assert r.alerts == 1
    assert r.items[0].title.startswith("<script>alert(1)</script> Moscow")  # the feed's text, literally
    app.outbox.run_once()
    html = smtp.messages[0].get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "<script" not in smtp.messages[0]["subject"]
    message = webhook.bodies[0]["message"]
    assert "<script>" not in message and "\\<script\\>" in message
    assert "[click](http://evil.example)" not in message and "\\[click\\]\\(http://evil" in message


def test_notify_test_command(setup, config_dir, tmp_path, http, webhook, clock):
    setup(f'  - id: desk\n    notify: ["{webhook.url}"]\n').close()
    out = tw("notify", "--test", "desk", config=config_dir, state=tmp_path / "s")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"json://127.0.0.1:{webhook.port}/hook: OK"
    assert webhook.bodies[0]["title"].startswith("[HIGH] TreatyWatch test:")


def test_operator_template_override(setup, config_dir, tmp_path, http, webhook, smtp, clock):
    tpl = config_dir / "templates"  # found beside the YAML without any setting
    tpl.mkdir()
    (tpl / "alert.md.j2").write_text("CUSTOM {{ alert.title | md }} ({{ reports | length }})", encoding="utf-8")
    app = setup(f'  - id: desk\n    notify: ["{webhook.url}", "{smtp.url()}"]\n')
    app.runner.poll("council-press-fr")
    app.outbox.run_once()
    assert webhook.bodies[0]["message"].startswith("CUSTOM La Russie met fin")
    html = smtp.messages[0].get_body(preferencelist=("html",)).get_content()
    assert "<h2><bdi>La Russie met fin" in html  # the templates not overridden stay ours


def test_templates_dir_setting(setup, config_dir, tmp_path, http, webhook, clock):
    tpl = tmp_path / "elsewhere"
    tpl.mkdir()
    (tpl / "alert.md.j2").write_text("FROM SETTING {{ alert.severity }}", encoding="utf-8")
    app = setup(
        f'  - id: desk\n    notify: ["{webhook.url}"]\n',
        f"settings:\n  templates_dir: {tpl}\n",
    )
    app.runner.poll("council-press-fr")
    app.outbox.run_once()
    assert webhook.bodies[0]["message"] == "FROM SETTING high"


def test_concurrent_workers_send_each_delivery_once(setup, config_dir, tmp_path, http, webhook, clock):
    import threading

    webhook.delay = 0.2
    app = setup(f'  - id: desk\n    notify: ["{webhook.url}"]\n')
    app.runner.poll("euronews-world")
    app.runner.poll("council-press-fr")
    queued = len([d for d in app.store.deliveries("pending") if d.next_attempt <= clock()])  # follow-ups wait
    assert queued == 3
    threads = [threading.Thread(target=app.outbox.run_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(webhook.bodies) == queued
    assert len(app.store.deliveries("sent")) == queued


def test_concurrent_polls_of_one_event_make_one_alert(setup, config_dir, tmp_path, http, clock):
    import threading

    extra = ""
    for n in range(8):
        http.routes[f"/outlet{n}.xml"] = lambda h, n=n: (200, {}, report_feed(n))
        extra += f"  - {{id: outlet{n}, type: feed, url: '{http.base}/outlet{n}.xml', baseline: false}}\n"
    app = setup("  - id: desk\n    notify: [terminal]\n", extra)
    threads = [threading.Thread(target=app.runner.poll, args=(f"outlet{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    (alert,) = app.store.recent_alerts()
    assert len(alert.reports) == 8
