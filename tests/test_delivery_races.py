"""The outbox under forced interleavings, on SQLite and on PostgreSQL, checked at the SMTP sink: every report of an
alert reaches the desk exactly once, in the alert or in a follow-up; a follow-up with nothing new is skipped, never
logged as delivered; a delivery whose claim was lost is not sent; a slow channel does not hold up another."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from conftest import Clock, WebhookSink, make_app, write_config
from treatywatch.app import App
from treatywatch.localserve import FixtureServer, SmtpSink
from treatywatch.store import SqlStore

STANDINS = "".join(
    f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/{sid}', enabled: false}}\n"
    for sid in ("pravo-government", "pravo-government-rss", "government-docs")
)


def outlet(n: int) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>outlet {n}</title>
<item><title>Outlet {n}: Russia terminates its 1994 military agreement with France</title>
<link>https://outlet{n}.example/story</link><guid>story-{n}</guid></item></channel></rss>""".encode()


def desk(
    config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, database: str, notify: list[str], **settings
) -> App:
    for n in range(3):
        http.routes[f"/outlet{n}.xml"] = lambda h, n=n: (200, {}, outlet(n))
    extra = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    write_config(
        config_dir,
        f"settings:\n  database: '{database}'\n  followup_delay: 60\n{extra}sources:\n"
        + "".join(f"  - {{id: outlet{n}, type: feed, url: '{http.base}/outlet{n}.xml'}}\n" for n in range(3))
        + STANDINS
        + "subscribers:\n  - id: desk\n    notify: ["
        + ", ".join(f'"{u}"' for u in notify)
        + "]\n",
        "sources.yaml",
    )
    return make_app(config_dir, tmp_path / "state", clock)


def subjects(smtp: SmtpSink) -> list[str]:
    return [str(m["subject"]) for m in smtp.messages]


def body(smtp: SmtpSink, n: int) -> str:
    return smtp.messages[n].get_body(preferencelist=("html",)).get_content()


def test_report_joining_between_the_alerts_commit_and_its_render_is_sent_in_a_followup(
    database: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    """Report B's poll starts (its time is taken) before the outbox pass and commits after the pass read the alert
    for its email: the email holds A only, and the pass's time is later than B's. Before, the follow-up compared
    those times, found 'nothing new', logged 'delivered' and sent nothing; B never reached the desk."""
    app = desk(config_dir, tmp_path, clock, http, database, [smtp.url()])
    assert app.runner.poll("outlet0").alerts == 1
    store: SqlStore = app.store
    rendered, b_committed, b_waiting = threading.Event(), threading.Event(), threading.Event()
    commit_poll, read_alert = store.commit_poll, store.alert

    def commit_b_after_render(*args, **kwargs):
        b_waiting.set()
        assert rendered.wait(10), "the outbox never rendered"
        try:
            return commit_poll(*args, **kwargs)
        finally:
            b_committed.set()

    def alert_then_wait(alert_id: int):
        view = read_alert(alert_id)
        if not rendered.is_set():
            rendered.set()
            assert b_committed.wait(10), "B never committed"
        return view

    store.commit_poll = commit_b_after_render  # type: ignore[method-assign]
    clock.advance(seconds=1)
    poll_b = threading.Thread(target=app.runner.poll, args=("outlet1",))
    poll_b.start()  # B's time is taken now; it waits at its commit
    assert b_waiting.wait(10)
    clock.advance(seconds=1)  # the outbox pass starts after B's time
    store.alert = alert_then_wait  # type: ignore[method-assign]
    assert app.outbox.run_once().sent == 1
    poll_b.join(10)
    store.commit_poll, store.alert = commit_poll, read_alert  # type: ignore[method-assign]
    assert subjects(smtp) == ["[HIGH] Outlet 0: Russia terminates its 1994 military agreement with France"]
    assert "outlet1.example" not in body(smtp, 0)  # the email was rendered before B joined

    clock.advance(minutes=2)  # the follow-up's delay has passed
    assert app.outbox.run_once().sent == 1
    assert (
        subjects(smtp)[1] == "[HIGH] Also reported: Outlet 0: Russia terminates its 1994 military agreement with France"
    )
    assert "https://outlet1.example/story" in body(smtp, 1)
    assert sorted(d.status for d in store.deliveries()) == ["sent", "sent"]
    app.close()


def test_followup_with_nothing_new_is_skipped_not_delivered(
    database: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink, caplog
):
    """B joins before the alert's email is rendered: the email carries both, and B's follow-up has nothing to say.
    It is recorded as skipped (status, log), and no second email goes out."""
    app = desk(config_dir, tmp_path, clock, http, database, [smtp.url()])
    app.runner.poll("outlet0")
    clock.advance(seconds=1)
    assert app.runner.poll("outlet1").followups == 1
    assert app.outbox.run_once().sent == 1
    assert "https://outlet1.example/story" in body(smtp, 0)
    clock.advance(minutes=2)
    with caplog.at_level(logging.INFO, logger="treatywatch.notify"):
        stats = app.outbox.run_once()
    assert stats.sent == 0 and stats.skipped == 1 and len(smtp.messages) == 1
    followup = next(d for d in app.store.deliveries() if d.kind == "followup")
    assert followup.status == "skipped"
    assert f"follow-up [{followup.id}]" in caplog.text and "skipped" in caplog.text
    assert f"delivered [{followup.id}]" not in caplog.text
    app.close()


def test_report_joining_while_a_followup_is_in_flight_gets_its_own(
    database: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    """B's follow-up is being rendered when C joins: C's follow-up would be the one pending follow-up of the channel,
    which B's still is, so none is queued for C at its commit. When B's is marked sent, one is queued for C."""
    app = desk(config_dir, tmp_path, clock, http, database, [smtp.url()])
    store: SqlStore = app.store
    app.runner.poll("outlet0")
    app.outbox.run_once()
    clock.advance(seconds=1)
    app.runner.poll("outlet1")
    clock.advance(minutes=2)
    read_alert = store.alert
    calls = {"n": 0}

    def alert_c_joins(alert_id: int):
        view = read_alert(alert_id)
        if calls["n"] == 0:
            calls["n"] += 1
            store.alert = read_alert  # type: ignore[method-assign]
            app.runner.poll("outlet2")  # C joins now, while B's follow-up is on its way
            assert len(store.deliveries()) == 2  # B's follow-up is still the channel's pending one: none for C
        return view

    store.alert = alert_c_joins  # type: ignore[method-assign]
    assert app.outbox.run_once().sent == 1
    assert "https://outlet1.example/story" in body(smtp, 1) and "outlet2.example" not in body(smtp, 1)
    clock.advance(minutes=2)
    assert app.outbox.run_once().sent == 1
    assert "https://outlet2.example/story" in body(smtp, 2)
    assert len(smtp.messages) == 3
    app.close()


def test_a_delivery_whose_claim_was_lost_is_not_sent(
    database: str, config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink
):
    """This process claimed the alert's delivery and rendered it; meanwhile another process took the claim over (it
    judged this one dead) and sent it. The re-check before the send finds the claim gone: nothing is sent twice."""
    app = desk(config_dir, tmp_path, clock, http, database, [smtp.url()])
    store: SqlStore = app.store
    app.runner.poll("outlet0")
    [due] = store.due_deliveries(clock())
    read_alert = store.alert

    def taken_over(alert_id: int):
        view = read_alert(alert_id)
        store.alert = read_alert  # type: ignore[method-assign]
        with store.transaction() as tx:
            tx.execute("UPDATE deliveries SET claimed_by = 'other-daemon' WHERE id = ?", (due.id,))
        return view

    store.alert = taken_over  # type: ignore[method-assign]
    stats = app.outbox.run_once()
    assert stats.sent == 0 and smtp.messages == []
    assert store.deliveries()[0].status == "pending"
    app.close()


def test_a_slow_channel_does_not_hold_up_another(
    config_dir: Path, tmp_path: Path, clock: Clock, http: FixtureServer, smtp: SmtpSink, webhook: WebhookSink
):
    """The desk's webhook takes 3 s to answer; the email of the same alert arrives while the hook still works, and
    the daemon's pass (dispatch) returns at once. Before, one worker sent channel after channel under one lock, in
    the poll's own thread."""
    webhook.delay = 3.0
    app = desk(config_dir, tmp_path, clock, http, f"sqlite:///{tmp_path / 'tw.db'}", [webhook.url, smtp.url()])
    app.runner.poll("outlet0")
    started = time.monotonic()
    futures = app.outbox.dispatch()
    assert time.monotonic() - started < 1.5  # the pass only starts the channels' tasks
    deadline = time.monotonic() + 2.5
    while not smtp.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(smtp.messages) == 1 and webhook.bodies == []  # the email went while the hook is still held
    assert app.outbox.dispatch() == []  # the hook's task is still running: not started twice
    for f in futures:
        f.result(10)
    assert len(webhook.bodies) == 1
    assert sorted(d.status for d in app.store.deliveries()) == ["sent", "sent"]
    app.close()
