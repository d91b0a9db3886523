"""Issue 2: a fixture feed on a real HTTP server, a real SMTP server, one pass, one email; twice, still one."""

from __future__ import annotations

from pathlib import Path

from conftest import Clock, local_sources, make_app, write_config
from treatywatch.localserve import FixtureServer, SmtpSink


def test_feed_to_email_once(config_dir: Path, tmp_path: Path, http: FixtureServer, smtp: SmtpSink, clock: Clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(
        config_dir,
        f"""
subscribers:
  - id: desk
    notify: ["{smtp.url()}"]
    watches: [agreement-terminated]
""",
    )
    app = make_app(config_dir, tmp_path / "state", clock)
    result = app.runner.poll("euronews-world")
    assert result.error is None and result.new == 5
    stats = app.outbox.run_once()
    assert stats.sent == 1
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["subject"] == "[HIGH] Russia terminates military agreements with Portugal, France and Canada"
    assert msg["to"] == "desk@example.org"
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    link = "https://www.euronews.com/2025/12/06/russia-terminates-military-agreements-with-portugal-france-and-canada"
    for body in (html, text):
        assert "Russia terminates military agreements with Portugal, France and Canada" in body
        assert "ru-fr-1994-military-cooperation" in body  # the explanation names the agreement
    assert f'href="{link}"' in html
    assert "<mark>terminates</mark>" in html

    # A second pass over the same feed: nothing new, nothing sent.
    clock.advance(minutes=10)
    again = app.runner.poll("euronews-world")
    assert again.new == 0 and again.alerts == 0
    assert app.outbox.run_once().sent == 0
    assert len(smtp.messages) == 1

    # Restart: a new process on the same database sends nothing again.
    app.close()
    app2 = make_app(config_dir, tmp_path / "state", clock)
    app2.runner.poll("euronews-world")
    assert app2.outbox.run_once().sent == 0
    assert len(smtp.messages) == 1
    app2.close()


def test_terminal_output_without_subscribers(config_dir: Path, tmp_path: Path, http: FixtureServer, clock: Clock):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    printed_lines: list[str] = []
    app = make_app(config_dir, tmp_path / "state", clock, echo=printed_lines)
    app.runner.poll("ria-politics")
    assert app.outbox.run_once().sent == 2
    printed = "\n".join(printed_lines)
    assert "Правительство прекратило действие соглашений о военном сотрудничестве" in printed
    assert "Медведев назвал изъятие замороженных российских активов" in printed
    assert "снегопад" not in printed
    app.close()
